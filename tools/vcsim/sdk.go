package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// maxSOAPBody bounds what one SOAP request may hold (guest file data travels over HTTP, not SOAP).
const maxSOAPBody = 64 << 20

// sdkFront stands in front of vcsim's /sdk handler: it applies the admin endpoint's fault plan,
// records session keys and answers for the sessions it expired, refuses duplicate names, and
// passes reconfigure and clone requests to the version keeper, which needs their specs inside
// the tasks vcsim runs for them. It also answers the calls planned to be slow with running tasks
// and applies them later, and cancels those tasks until then.
type sdkFront struct {
	inner    http.Handler
	plan     *faultPlan
	sessions *sessionKeys
	versions *versionKeeper
	names    *nameGuard
	slows    *slowTasks
}

func (f *sdkFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.inner.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSOAPBody))
	_ = r.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// A body vcsim cannot decode is passed on as it is: vcsim answers it with its own fault.
	call, _ := simulator.UnmarshalBody(vimType, body)
	name, this := "", types.ManagedObjectReference{}
	if call != nil {
		name, this = call.Name, call.This
	}
	state, gone := f.sessions.of(r)

	plan := f.plan.take(name, state == sessionLive)
	if plan.delay > 0 {
		// Like a slow vCenter, the call is still served if the client gives up meanwhile.
		time.Sleep(plan.delay)
	}
	if plan.fault != "" {
		fault, err := newFault(plan.fault, this)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeSOAPFault(w, fmt.Sprintf("vcsim harness: injected %s fault on %s", plan.fault, name), fault)
		return
	}

	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	if !plan.drop && plan.late == 0 {
		f.answer(w, r, call, plan, state, gone)
		return
	}
	// The call is applied in full before anything of the answer is sent; the locks it took are
	// released by then, so a held answer holds up no other call.
	held := &heldResponse{header: http.Header{}}
	f.answer(held, r, call, plan, state, gone)
	if plan.drop {
		// The connection closes before a byte of the answer.
		panic(http.ErrAbortHandler)
	}
	time.Sleep(plan.late)
	held.sendTo(w) // a client that gave up meanwhile just never reads it
}

// answer applies call (or the task fault or slow task planned for it) and writes its answer to w.
func (f *sdkFront) answer(w http.ResponseWriter, r *http.Request, call *simulator.Method, plan callPlan, state sessionState, gone expiredSession) {
	if call == nil || state != sessionLive {
		if call != nil && state == sessionExpired && propertyReads[call.Name] {
			gone.answerRead(w, call)
			return
		}
		// vcsim answers the calls that need a session with NotAuthenticated.
		f.serve(w, r)
		return
	}
	if plan.taskFault != "" {
		fault, err := newFault(plan.taskFault, call.This)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		detailFault(fault, call)
		answerWithFailedTask(w, call, fault)
		return
	}
	if plan.slow > 0 {
		f.answerSlowly(w, r, call, plan.slow)
		return
	}
	if call.Name == "CancelTask" && f.slows.cancel(call.This) {
		writeSOAPResponse(w, "CancelTaskResponse", &types.CancelTaskResponse{})
		return
	}
	f.apply(w, r, call)
}

// apply serves call in a live session: the name guard, the version keeper, then vcsim.
func (f *sdkFront) apply(w http.ResponseWriter, r *http.Request, call *simulator.Method) {
	if claim, ok := vmNameClaim(call); ok {
		holder, release := f.names.claim(claim)
		defer release()
		if holder != nil {
			answerWithFailedTask(w, call, &types.DuplicateName{Name: claim.name, Object: *holder})
			return
		}
	}
	defer f.versions.stash(call)()
	f.serve(w, r)
}

func (f *sdkFront) serve(w http.ResponseWriter, r *http.Request) {
	f.inner.ServeHTTP(w, r)
	for _, c := range w.Header().Values("Set-Cookie") {
		if strings.HasPrefix(c, soap.SessionCookieName+"=") {
			f.sessions.add(strings.SplitN(strings.TrimPrefix(c, soap.SessionCookieName+"="), ";", 2)[0])
		}
	}
}

// heldResponse takes an answer to send later, or never.
type heldResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }
func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) sendTo(w http.ResponseWriter) {
	for k, v := range h.header {
		w.Header()[k] = v
	}
	if h.status != 0 {
		w.WriteHeader(h.status)
	}
	_, _ = w.Write(h.body.Bytes())
}
