package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// faultPlan holds what the admin endpoint asked for: per SOAP method, queued faults, a delay and
// responses to drop. It also counts the calls served.
type faultPlan struct {
	mu     sync.Mutex
	fails  map[string][]queuedFault
	delays map[string]time.Duration
	drops  map[string]int
	calls  map[string]int
}

type queuedFault struct {
	fault string
	left  int
}

// callPlan is what happens to one SOAP call.
type callPlan struct {
	delay time.Duration
	fault string // a vim25 fault type to answer with instead of serving the call
	drop  bool   // serve the call, then close the connection without answering
}

func newFaultPlan() *faultPlan {
	p := &faultPlan{}
	p.reset()
	return p
}

func (p *faultPlan) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails = map[string][]queuedFault{}
	p.delays = map[string]time.Duration{}
	p.drops = map[string]int{}
	p.calls = map[string]int{}
}

// take counts a call of method and consumes what was planned for it. A queued fault wins over a
// queued drop, which waits for the next call that does not fail.
func (p *faultPlan) take(method string) callPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "" {
		return callPlan{} // not a SOAP call vcsim can decode; it answers with its own fault
	}
	p.calls[method]++
	plan := callPlan{delay: p.delays[method]}
	if queue := p.fails[method]; len(queue) > 0 {
		plan.fault = queue[0].fault
		if queue[0].left--; queue[0].left == 0 {
			queue = queue[1:]
		}
		if len(queue) == 0 {
			delete(p.fails, method)
		} else {
			p.fails[method] = queue
		}
		return plan
	}
	if p.drops[method] > 0 {
		plan.drop = true
		if p.drops[method]--; p.drops[method] == 0 {
			delete(p.drops, method)
		}
	}
	return plan
}

// sessionKeys remembers every session key handed out, so that all sessions can be expired.
type sessionKeys struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (s *sessionKeys) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]bool{}
	}
	s.keys[key] = true
}

// expireAll ends every session vcsim knows of, as vCenter does when sessions time out: the next
// call with an old cookie fails with NotAuthenticated.
func (s *sessionKeys) expireAll() int {
	s.mu.Lock()
	keys := s.keys
	s.keys = nil
	s.mu.Unlock()
	sm := simulator.Map.SessionManager()
	// TerminateSession refuses to end the caller's own session; this caller has none of them.
	ctx := &simulator.Context{Session: &simulator.Session{UserSession: types.UserSession{Key: "vcsim-harness-admin"}}}
	expired := 0
	for key := range keys {
		res := sm.TerminateSession(ctx, &types.TerminateSession{This: sm.Self, SessionId: []string{key}})
		if res.Fault() == nil {
			expired++
		}
	}
	return expired
}

type adminRequest struct {
	Method string `json:"method"`
	Fault  string `json:"fault"`
	Count  int    `json:"count"`
	Ms     int64  `json:"ms"`
}

// adminHandler serves the fault-injection endpoint under /admin/. It answers loopback clients only.
func adminHandler(plan *faultPlan, sessions *sessionKeys) http.Handler {
	mux := http.NewServeMux()
	post := func(path string, f func(adminRequest) (interface{}, error)) {
		mux.HandleFunc("/admin/"+path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			var req adminRequest
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
			if err == nil && len(body) > 0 {
				err = json.Unmarshal(body, &req)
			}
			if err != nil {
				http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
				return
			}
			res, err := f(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			writeJSON(w, res)
		})
	}
	needMethod := func(req adminRequest) error {
		if req.Method == "" {
			return fmt.Errorf("method is required")
		}
		return nil
	}
	count := func(req adminRequest) (int, error) {
		if req.Count == 0 {
			return 1, nil
		}
		if req.Count < 0 {
			return 0, fmt.Errorf("count must be positive")
		}
		return req.Count, nil
	}

	post("fail", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		n, err := count(req)
		if err != nil {
			return nil, err
		}
		if _, err := newFault(req.Fault, types.ManagedObjectReference{}); err != nil {
			return nil, err
		}
		plan.mu.Lock()
		plan.fails[req.Method] = append(plan.fails[req.Method], queuedFault{fault: req.Fault, left: n})
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "fault": req.Fault, "count": n}, nil
	})
	post("delay", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		if req.Ms < 0 {
			return nil, fmt.Errorf("ms must not be negative")
		}
		plan.mu.Lock()
		if req.Ms == 0 {
			delete(plan.delays, req.Method)
		} else {
			plan.delays[req.Method] = time.Duration(req.Ms) * time.Millisecond
		}
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "ms": req.Ms}, nil
	})
	post("drop", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		n, err := count(req)
		if err != nil {
			return nil, err
		}
		plan.mu.Lock()
		plan.drops[req.Method] += n
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "count": n}, nil
	})
	post("expire-sessions", func(adminRequest) (interface{}, error) {
		return map[string]int{"expired": sessions.expireAll()}, nil
	})
	post("reset", func(adminRequest) (interface{}, error) {
		plan.reset()
		return map[string]bool{"reset": true}, nil
	})
	mux.HandleFunc("/admin/calls", func(w http.ResponseWriter, r *http.Request) {
		plan.mu.Lock()
		calls := make(map[string]int, len(plan.calls))
		for k, v := range plan.calls {
			calls[k] = v
		}
		plan.mu.Unlock()
		writeJSON(w, calls)
	})

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the admin endpoint answers loopback clients only", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
