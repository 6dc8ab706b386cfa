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
// records session keys, and passes reconfigure and clone requests to the version keeper, which
// needs their specs inside the tasks vcsim runs for them.
type sdkFront struct {
	inner    http.Handler
	plan     *faultPlan
	sessions *sessionKeys
	versions *versionKeeper
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

	plan := f.plan.take(name)
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
	if call != nil {
		defer f.versions.stash(call)()
	}
	if plan.drop {
		// The call is applied in full; then the connection closes before a byte of the answer.
		f.serve(&discardingWriter{header: http.Header{}}, r)
		panic(http.ErrAbortHandler)
	}
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

// discardingWriter takes a response that is never sent.
type discardingWriter struct {
	header http.Header
}

func (d *discardingWriter) Header() http.Header         { return d.header }
func (d *discardingWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardingWriter) WriteHeader(int)             {}
