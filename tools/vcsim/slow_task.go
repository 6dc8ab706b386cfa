package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sync"
	"time"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// vcsim runs every task inside the call that starts it; vCenter answers at once with a task that
// is still running and finishes it later. A slow task (admin slow-task) gives the harness's users
// the second kind: the call is answered with a running proxy task, and the call itself is applied
// only ms later, through the same path as any other call; its outcome then ends the proxy task.

// putSession and delSession are vcsim's own session registry writes (it exports none). A slow
// task applies its call in a copy of the caller's session, as vCenter goes on with a task after
// the session that started it has ended.
//
//go:linkname putSession github.com/vmware/govmomi/simulator.(*SessionManager).putSession
func putSession(m *simulator.SessionManager, s simulator.Session)

//go:linkname delSession github.com/vmware/govmomi/simulator.(*SessionManager).delSession
func delSession(m *simulator.SessionManager, id string)

// slowTasks are the proxy tasks whose calls have not been applied yet; only those can be
// cancelled.
type slowTasks struct {
	mu      sync.Mutex
	pending map[types.ManagedObjectReference]chan struct{} // closed on cancel
}

// answerSlowly answers call with a running proxy task and applies it after the given time.
func (f *sdkFront) answerSlowly(w http.ResponseWriter, r *http.Request, call *simulator.Method, after time.Duration) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	cookie, err := r.Cookie(soap.SessionCookieName)
	sm := simulator.Map.SessionManager()
	var session simulator.Session
	ok := err == nil
	if ok {
		session, ok = sessionOf(sm, cookie.Value)
	}
	if !ok {
		// The session ended since the plan was taken: vcsim answers as for any call without one.
		f.apply(w, r, call)
		return
	}
	session.Key = randomSecret()
	putSession(sm, session)
	later := r.Clone(context.Background())
	later.Header.Del("Cookie")
	later.AddCookie(&http.Cookie{Name: soap.SessionCookieName, Value: session.Key})

	task, cancelled := f.slows.start(call)
	writeSOAPResponse(w, call.Name+"Response", &taskResponse{Returnval: task.Self})

	go func() {
		defer delSession(sm, session.Key)
		timer := time.NewTimer(after)
		defer timer.Stop()
		select {
		case <-cancelled:
			return // CancelTask has ended the task
		case <-timer.C:
		}
		if !f.slows.claim(task.Self) {
			return
		}
		later.Body = io.NopCloser(bytes.NewReader(body))
		held := &heldResponse{header: http.Header{}}
		f.apply(held, later, call)
		result, fault := outcomeOf(held)
		finishTask(task, result, fault, false)
	}()
}

// start makes a running proxy task for call, with the name, description and entity vcsim gives
// the task of that call, and that CancelTask can end until the call is applied.
func (s *slowTasks) start(call *simulator.Method) (*simulator.Task, <-chan struct{}) {
	// Under a description no RegisterObject handler knows, so that none wraps this task (the
	// version keeper wraps the real one when the call is applied).
	task := simulator.CreateTask(call.This, "portlayerSlowTask", nil)
	simulator.Map.WithLock(task, func() {
		task.Info.Name = call.Name
		task.Info.DescriptionId = call.This.Type + "." + taskDescription(call.Name)
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.startTime", Val: time.Now()},
			{Name: "info.cancelable", Val: true},
			{Name: "info.state", Val: types.TaskInfoStateRunning},
		})
	})
	s.mu.Lock()
	if s.pending == nil {
		s.pending = map[types.ManagedObjectReference]chan struct{}{}
	}
	cancelled := make(chan struct{})
	s.pending[task.Self] = cancelled
	s.mu.Unlock()
	return task, cancelled
}

// claim takes a pending task out of reach of CancelTask, so that its call is applied; false if
// CancelTask got it first.
func (s *slowTasks) claim(ref types.ManagedObjectReference) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[ref]; !ok {
		return false
	}
	delete(s.pending, ref)
	task, _ := simulator.Map.Get(ref).(*simulator.Task)
	if task != nil {
		simulator.Map.WithLock(task, func() {
			simulator.Map.Update(task, []types.PropertyChange{{Name: "info.cancelable", Val: false}})
		})
	}
	return true
}

// cancel ends a pending proxy task as vCenter ends a cancelled one (error RequestCanceled,
// info.cancelled), so that its call is never applied. False if ref is no such task: its call was
// applied already or it is not a proxy task, and CancelTask goes to vcsim.
func (s *slowTasks) cancel(ref types.ManagedObjectReference) bool {
	s.mu.Lock()
	cancelled, ok := s.pending[ref]
	delete(s.pending, ref)
	s.mu.Unlock()
	if !ok {
		return false
	}
	close(cancelled)
	if task, _ := simulator.Map.Get(ref).(*simulator.Task); task != nil {
		finishTask(task, nil, &types.LocalizedMethodFault{
			Fault:            &types.RequestCanceled{},
			LocalizedMessage: "The task was canceled by a user.",
		}, true)
	}
	return true
}

// finishTask ends a proxy task with a result or a fault, through the registry, so that property
// collectors waiting for its changes see them.
func finishTask(task *simulator.Task, result types.AnyType, fault *types.LocalizedMethodFault, cancelled bool) {
	state := types.TaskInfoStateSuccess
	var failure interface{}
	if fault != nil {
		state, failure, result = types.TaskInfoStateError, *fault, nil
	}
	changes := []types.PropertyChange{
		{Name: "info.completeTime", Val: time.Now()},
		{Name: "info.cancelable", Val: false},
		{Name: "info.result", Val: result},
		{Name: "info.error", Val: failure},
		{Name: "info.state", Val: state},
	}
	if cancelled {
		changes = append(changes, types.PropertyChange{Name: "info.cancelled", Val: true})
	}
	simulator.Map.WithLock(task, func() { simulator.Map.Update(task, changes) })
}

// appliedAnswer is what a *_Task call answered: its task, or a SOAP fault.
type appliedAnswer struct {
	Body struct {
		Fault *soap.Fault   `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
		Res   *taskResponse `xml:",any"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

// outcomeOf reads how an applied call ended from its answer: the result or error of the task it
// returned (vcsim's tasks have ended when their call answers), or the SOAP fault of the call.
func outcomeOf(held *heldResponse) (types.AnyType, *types.LocalizedMethodFault) {
	var answer appliedAnswer
	dec := xml.NewDecoder(bytes.NewReader(held.body.Bytes()))
	dec.TypeFunc = types.TypeFunc()
	if err := dec.Decode(&answer); err != nil {
		return nil, harnessFault(fmt.Sprintf("the applied call's answer (HTTP %d) could not be read: %v", held.status, err))
	}
	if f := answer.Body.Fault; f != nil {
		if fault, ok := asMethodFault(f.VimFault()); ok {
			return nil, &types.LocalizedMethodFault{Fault: fault, LocalizedMessage: f.String}
		}
		return nil, harnessFault(fmt.Sprintf("the applied call failed: %s", f.String))
	}
	if answer.Body.Res == nil {
		return nil, harnessFault(fmt.Sprintf("the applied call answered HTTP %d without a task", held.status))
	}
	applied, _ := simulator.Map.Get(answer.Body.Res.Returnval).(*simulator.Task)
	if applied == nil {
		return nil, harnessFault("the applied call's task is gone")
	}
	var info types.TaskInfo
	simulator.Map.WithLock(applied, func() { info = applied.Info })
	switch info.State {
	case types.TaskInfoStateSuccess:
		return info.Result, nil
	case types.TaskInfoStateError:
		if info.Error != nil {
			return nil, info.Error
		}
	}
	return nil, harnessFault(fmt.Sprintf("the applied call's task ended %s", info.State))
}

// asMethodFault gives a decoded fault as the pointer that implements BaseMethodFault (the
// decoder makes values).
func asMethodFault(v interface{}) (types.BaseMethodFault, bool) {
	if fault, ok := v.(types.BaseMethodFault); ok {
		return fault, true
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Struct {
		return nil, false
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	fault, ok := p.Interface().(types.BaseMethodFault)
	return fault, ok
}

// harnessFault is the error of a proxy task whose call's outcome the harness could not read.
func harnessFault(reason string) *types.LocalizedMethodFault {
	return &types.LocalizedMethodFault{
		Fault:            &types.SystemError{Reason: "vcsim harness: " + reason},
		LocalizedMessage: "vcsim harness: " + reason,
	}
}
