package main

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// sessionOf is vcsim's own session lookup by key; vcsim 0.24 exports no other way to reach a
// session's registry (its views and collectors), which the reads of an expired session need.
//
//go:linkname sessionOf github.com/vmware/govmomi/simulator.(*SessionManager).getSession
func sessionOf(m *simulator.SessionManager, key string) (simulator.Session, bool)

// How the property reads of an expired session are answered.
const (
	// readsAsMissingSet: answered normally, every property of every object in missingSet with
	// a NotAuthenticated fault (what vcsim does for reads without a session, and what the
	// harness's users met on vCenter).
	readsAsMissingSet = "missingSet"
	// readsAsFault: a SOAP NotAuthenticated fault, like every other call.
	readsAsFault = "fault"
)

// propertyReads are the calls answered according to readsAs in a session the harness expired;
// every other call of such a session gets vcsim's SOAP NotAuthenticated fault (the few that need
// no session, such as Login, work).
var propertyReads = map[string]bool{
	"RetrieveProperties":           true,
	"RetrievePropertiesEx":         true,
	"ContinueRetrievePropertiesEx": true,
}

// maxExpiredSessions bounds how many expired sessions are remembered; a forgotten one's reads
// get vcsim's answer for a call without a session (missingSet for objects outside the session,
// nothing for the session's own views).
const maxExpiredSessions = 4096

// sessionKeys remembers every session key handed out, so that all sessions can be expired, and
// what is left of the sessions it expired, so that their reads can be answered as asked.
type sessionKeys struct {
	mu      sync.Mutex
	keys    map[string]bool
	expired map[string]expiredSession
	order   []string // expired keys, oldest first
}

// expiredSession is a session vcsim no longer knows, kept to serve its property reads.
type expiredSession struct {
	session simulator.Session
	readsAs string
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
// call with an old cookie fails with NotAuthenticated, and its property reads are answered as
// readsAs says.
func (s *sessionKeys) expireAll(readsAs string) int {
	s.mu.Lock()
	keys := s.keys
	s.keys = nil
	s.mu.Unlock()
	sm := simulator.Map.SessionManager()
	// TerminateSession refuses to end the caller's own session; this caller has none of them.
	ctx := &simulator.Context{Session: &simulator.Session{UserSession: types.UserSession{Key: "vcsim-harness-admin"}}}
	expired := 0
	for key := range keys {
		session, known := sessionOf(sm, key)
		res := sm.TerminateSession(ctx, &types.TerminateSession{This: sm.Self, SessionId: []string{key}})
		if res.Fault() != nil {
			continue // logged out already
		}
		expired++
		if known {
			s.remember(key, expiredSession{session: session, readsAs: readsAs})
		}
	}
	return expired
}

func (s *sessionKeys) remember(key string, gone expiredSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expired == nil {
		s.expired = map[string]expiredSession{}
	}
	if _, ok := s.expired[key]; !ok {
		s.order = append(s.order, key)
	}
	s.expired[key] = gone
	for len(s.order) > maxExpiredSessions {
		delete(s.expired, s.order[0])
		s.order = s.order[1:]
	}
}

// sessionState is what the harness knows of the session a request names.
type sessionState int

const (
	sessionNone    sessionState = iota // no cookie, or one vcsim does not know
	sessionLive                        // a session vcsim knows
	sessionExpired                     // a session the harness expired
)

// of looks up the session of r's cookie.
func (s *sessionKeys) of(r *http.Request) (sessionState, expiredSession) {
	cookie, err := r.Cookie(soap.SessionCookieName)
	if err != nil {
		return sessionNone, expiredSession{}
	}
	if _, ok := sessionOf(simulator.Map.SessionManager(), cookie.Value); ok {
		return sessionLive, expiredSession{}
	}
	s.mu.Lock()
	gone, ok := s.expired[cookie.Value]
	s.mu.Unlock()
	if ok {
		return sessionExpired, gone
	}
	return sessionNone, expiredSession{}
}

// answerRead answers a property read of the expired session.
func (gone expiredSession) answerRead(w http.ResponseWriter, call *simulator.Method) {
	if gone.readsAs == readsAsFault {
		writeSOAPFault(w, "vcsim harness: the session has expired", notAuthenticated(call.This, "System.View"))
		return
	}
	body := gone.read(call)
	unauthenticate(body)
	writeSOAPResult(w, body)
}

// read serves call in the expired session, whose views, collectors and paging tokens are as
// they were, as vcsim would have served it before the session ended.
func (gone expiredSession) read(call *simulator.Method) soap.HasFault {
	session := gone.session
	handler := session.Get(call.This)
	if handler == nil {
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault(
			fmt.Sprintf("managed object not found: %s", call.This), &types.ManagedObjectNotFound{Obj: call.This})}
	}
	m := reflect.ValueOf(handler).MethodByName(call.Name)
	if !m.IsValid() || m.Type().NumOut() != 1 {
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault(
			fmt.Sprintf("%s does not implement: %s", call.This, call.Name),
			&types.MethodNotFound{Receiver: call.This, Method: call.Name})}
	}
	ctx := &simulator.Context{Context: context.Background(), Session: &session, Map: simulator.Map, Caller: &call.This}
	var args []reflect.Value
	if m.Type().NumIn() == 2 {
		args = append(args, reflect.ValueOf(ctx))
	}
	args = append(args, reflect.ValueOf(call.Body))
	var out []reflect.Value
	simulator.Map.WithLock(handler, func() { out = m.Call(args) })
	body, _ := out[0].Interface().(soap.HasFault)
	if body == nil {
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault("no answer", &types.InvalidRequest{})}
	}
	return body
}

// unauthenticate turns every property of every object a read returned into a missingSet entry
// with a NotAuthenticated fault.
func unauthenticate(body soap.HasFault) {
	var objects []types.ObjectContent
	switch b := body.(type) {
	case *methods.RetrievePropertiesExBody:
		if b.Res != nil && b.Res.Returnval != nil {
			objects = b.Res.Returnval.Objects
		}
	case *methods.ContinueRetrievePropertiesExBody:
		if b.Res != nil {
			objects = b.Res.Returnval.Objects
		}
	case *methods.RetrievePropertiesBody:
		if b.Res != nil {
			objects = b.Res.Returnval
		}
	}
	for i := range objects {
		o := &objects[i]
		missing := make([]types.MissingProperty, 0, len(o.PropSet)+len(o.MissingSet))
		for _, p := range o.PropSet {
			missing = append(missing, types.MissingProperty{Path: p.Name, Fault: types.LocalizedMethodFault{Fault: notAuthenticated(o.Obj, "System.Read")}})
		}
		for _, p := range o.MissingSet {
			missing = append(missing, types.MissingProperty{Path: p.Path, Fault: types.LocalizedMethodFault{Fault: notAuthenticated(o.Obj, "System.Read")}})
		}
		o.PropSet, o.MissingSet = nil, missing
	}
}

// notAuthenticated is the fault vcsim gives a call without a session.
func notAuthenticated(obj types.ManagedObjectReference, privilege string) *types.NotAuthenticated {
	return &types.NotAuthenticated{NoPermission: types.NoPermission{Object: obj, PrivilegeId: privilege}}
}
