package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// faultPlan holds what the admin endpoint asked for: per SOAP method, queued SOAP faults, queued
// task faults, a delay, calls to answer with a running task and apply later, responses to drop
// and responses to hold back. It also counts the calls served.
type faultPlan struct {
	mu        sync.Mutex
	fails     map[string][]queued
	taskFails map[string][]queued
	delays    map[string]time.Duration
	drops     map[string]int
	lates     map[string][]queued
	slows     map[string][]queued
	calls     map[string]int
}

// queued is a fault (or a hold-back of ms) for the next left calls of a method.
type queued struct {
	fault string
	ms    time.Duration
	left  int
}

// callPlan is what happens to one SOAP call.
type callPlan struct {
	delay     time.Duration // wait before serving
	fault     string        // a vim25 fault type to answer with instead of serving the call
	taskFault string        // a vim25 fault type for a failed task to answer with instead of serving
	drop      bool          // serve the call, then close the connection without answering
	late      time.Duration // serve the call, then hold its answer back this long
	slow      time.Duration // answer with a running task, serve the call this much later
}

// maxLateAnswer bounds delayResponse: an answer held longer would outlive any client's patience
// and only tie up a connection.
const maxLateAnswer = 10 * time.Minute

// maxSlowTask bounds slowTask: a task that runs longer would outlive any client's patience.
const maxSlowTask = 10 * time.Minute

// maxDelay bounds delay, so that a delay in milliseconds cannot overflow a time.Duration.
const maxDelay = 24 * time.Hour

func newFaultPlan() *faultPlan {
	p := &faultPlan{}
	p.reset()
	return p
}

func (p *faultPlan) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fails = map[string][]queued{}
	p.taskFails = map[string][]queued{}
	p.delays = map[string]time.Duration{}
	p.drops = map[string]int{}
	p.lates = map[string][]queued{}
	p.slows = map[string][]queued{}
	p.calls = map[string]int{}
}

// pop consumes one call's worth of the first entry queued for method.
func pop(queues map[string][]queued, method string) (queued, bool) {
	queue := queues[method]
	if len(queue) == 0 {
		return queued{}, false
	}
	head := queue[0]
	if queue[0].left--; queue[0].left == 0 {
		queue = queue[1:]
	}
	if len(queue) == 0 {
		delete(queues, method)
	} else {
		queues[method] = queue
	}
	return head, true
}

// take counts a call of method and consumes what was planned for it. A queued SOAP fault wins,
// then a queued task fault, then a queued slow task (these two only for a call in a live session:
// a session that has ended gets no task), then a queued drop, then a queued late answer; what
// loses waits for the next call.
func (p *faultPlan) take(method string, live bool) callPlan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "" {
		return callPlan{} // not a SOAP call vcsim can decode; it answers with its own fault
	}
	p.calls[method]++
	plan := callPlan{delay: p.delays[method]}
	if q, ok := pop(p.fails, method); ok {
		plan.fault = q.fault
		return plan
	}
	if live {
		if q, ok := pop(p.taskFails, method); ok {
			plan.taskFault = q.fault
			return plan
		}
		if q, ok := pop(p.slows, method); ok {
			plan.slow = q.ms
			return plan
		}
	}
	if p.drops[method] > 0 {
		plan.drop = true
		if p.drops[method]--; p.drops[method] == 0 {
			delete(p.drops, method)
		}
		return plan
	}
	if q, ok := pop(p.lates, method); ok {
		plan.late = q.ms
	}
	return plan
}

type adminRequest struct {
	Method  string `json:"method"`
	Fault   string `json:"fault"`
	Count   int    `json:"count"`
	Ms      int64  `json:"ms"`
	ReadsAs string `json:"readsAs"`
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
		plan.fails[req.Method] = append(plan.fails[req.Method], queued{fault: req.Fault, left: n})
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "fault": req.Fault, "count": n}, nil
	})
	post("fail-task", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		if !isTaskMethod(req.Method) {
			return nil, fmt.Errorf("%q is not a vim25 *_Task method", req.Method)
		}
		n, err := count(req)
		if err != nil {
			return nil, err
		}
		if _, err := newFault(req.Fault, types.ManagedObjectReference{}); err != nil {
			return nil, err
		}
		plan.mu.Lock()
		plan.taskFails[req.Method] = append(plan.taskFails[req.Method], queued{fault: req.Fault, left: n})
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "fault": req.Fault, "count": n}, nil
	})
	post("delay", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		if req.Ms < 0 || req.Ms > maxDelay.Milliseconds() {
			return nil, fmt.Errorf("ms must be between 0 and %d", maxDelay.Milliseconds())
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
	post("delay-response", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		if req.Ms <= 0 || req.Ms > maxLateAnswer.Milliseconds() {
			return nil, fmt.Errorf("ms must be between 1 and %d", maxLateAnswer.Milliseconds())
		}
		ms := time.Duration(req.Ms) * time.Millisecond
		n, err := count(req)
		if err != nil {
			return nil, err
		}
		plan.mu.Lock()
		plan.lates[req.Method] = append(plan.lates[req.Method], queued{ms: ms, left: n})
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "ms": req.Ms, "count": n}, nil
	})
	post("slow-task", func(req adminRequest) (interface{}, error) {
		if err := needMethod(req); err != nil {
			return nil, err
		}
		if !isTaskMethod(req.Method) {
			return nil, fmt.Errorf("%q is not a vim25 *_Task method", req.Method)
		}
		if req.Ms <= 0 || req.Ms > maxSlowTask.Milliseconds() {
			return nil, fmt.Errorf("ms must be between 1 and %d", maxSlowTask.Milliseconds())
		}
		n, err := count(req)
		if err != nil {
			return nil, err
		}
		plan.mu.Lock()
		plan.slows[req.Method] = append(plan.slows[req.Method], queued{ms: time.Duration(req.Ms) * time.Millisecond, left: n})
		plan.mu.Unlock()
		return map[string]interface{}{"method": req.Method, "ms": req.Ms, "count": n}, nil
	})
	post("expire-sessions", func(req adminRequest) (interface{}, error) {
		readsAs := req.ReadsAs
		switch readsAs {
		case "":
			readsAs = readsAsMissingSet
		case readsAsMissingSet, readsAsFault:
		default:
			return nil, fmt.Errorf("readsAs must be %q or %q", readsAsMissingSet, readsAsFault)
		}
		return map[string]interface{}{"expired": sessions.expireAll(readsAs), "readsAs": readsAs}, nil
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
