package main

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// defaultPageSize is vCenter's policy when RetrievePropertiesEx has no maxObjects: 100 objects,
// then a token.
const defaultPageSize = 100

// maxOpenRetrievals bounds the retrievals one collector keeps for ContinueRetrievePropertiesEx;
// opening another forgets the one idle longest.
const maxOpenRetrievals = 64

// retrievalIdleLimit is how long an unused token stays valid (a variable so that tests can
// shorten it).
var retrievalIdleLimit atomic.Int64

func init() { retrievalIdleLimit.Store(int64(10 * time.Minute)) }

// pagingCollector takes the place of vcsim's PropertyCollector, which answers RetrievePropertiesEx
// in one piece and has no ContinueRetrievePropertiesEx. It pages as vCenter does: at most
// maxObjects objects and a token, each token good for one ContinueRetrievePropertiesEx (which
// answers the next page and, while more remain, a new token) or one CancelRetrievePropertiesEx,
// only on the collector and session that returned it.
//
// vcsim gives every session its own copy of the ServiceContent's collector, made with
// reflect.New of this type, so the zero value must work and tokens are per session: they go
// with the session. The embedded collector comes first, where vcsim looks for the mo type.
type pagingCollector struct {
	simulator.PropertyCollector
	mu         sync.Mutex
	lastToken  int64
	retrievals map[string]*retrieval
}

// retrieval is what remains of a paged read: the objects still to send, and the properties to
// read from them when their page is asked for.
type retrieval struct {
	props   []types.PropertySpec
	rest    []types.ManagedObjectReference
	max     int
	touched time.Time
}

// installPagingCollector puts a pagingCollector in place of the ServiceContent's collector.
func installPagingCollector(model *simulator.Model) {
	pc := &pagingCollector{}
	pc.Self = model.ServiceContent.PropertyCollector
	simulator.Map.Put(pc)
}

// CreatePropertyCollector makes collectors that page too.
func (pc *pagingCollector) CreatePropertyCollector(ctx *simulator.Context, req *types.CreatePropertyCollector) soap.HasFault {
	created := &pagingCollector{}
	// Of type PropertyCollector, as on vCenter; without a type vcsim would name it after the Go
	// type, and a client that writes the type itself would not find it.
	created.Self.Type = "PropertyCollector"
	return &methods.CreatePropertyCollectorBody{Res: &types.CreatePropertyCollectorResponse{
		Returnval: ctx.Session.Put(created).Reference(),
	}}
}

func (pc *pagingCollector) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	max := defaultPageSize
	if req.Options.MaxObjects < 0 {
		// govmomi decodes an explicit 0 as unset; vCenter refuses any value that is not positive.
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault("maxObjects must be positive",
			&types.InvalidArgument{InvalidProperty: "options.maxObjects"})}
	} else if req.Options.MaxObjects > 0 {
		max = int(req.Options.MaxObjects)
	}
	body := pc.PropertyCollector.RetrievePropertiesEx(ctx, req).(*methods.RetrievePropertiesExBody)
	if body.Res == nil || body.Res.Returnval == nil || len(body.Res.Returnval.Objects) <= max {
		return body
	}
	result := body.Res.Returnval
	// The rest is read again when its page is asked for, so that a retrieval holds references
	// only and each page shows the objects as they are then.
	rest := make([]types.ManagedObjectReference, 0, len(result.Objects)-max)
	for _, o := range result.Objects[max:] {
		rest = append(rest, o.Obj)
	}
	var props []types.PropertySpec
	for _, spec := range req.SpecSet {
		props = append(props, spec.PropSet...)
	}
	result.Objects = result.Objects[:max]
	result.Token = pc.open(&retrieval{props: props, rest: rest, max: max})
	return body
}

func (pc *pagingCollector) ContinueRetrievePropertiesEx(ctx *simulator.Context, req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	r := pc.take(req.Token)
	if r == nil {
		body.Fault_ = unknownToken()
		return body
	}
	page := r.rest
	if len(page) > r.max {
		page = page[:r.max]
	}
	objects := make([]types.ObjectSpec, len(page))
	for i, ref := range page {
		objects[i] = types.ObjectSpec{Obj: ref}
	}
	// Objects destroyed since the first page are left out, as vcsim leaves them out of any read.
	read := pc.PropertyCollector.RetrievePropertiesEx(ctx, &types.RetrievePropertiesEx{
		This: req.This,
		SpecSet: []types.PropertyFilterSpec{{
			PropSet:                       r.props,
			ObjectSet:                     objects,
			ReportMissingObjectsInResults: types.NewBool(true),
		}},
	}).(*methods.RetrievePropertiesExBody)
	if read.Fault_ != nil {
		body.Fault_ = read.Fault_
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{}
	if read.Res != nil && read.Res.Returnval != nil {
		body.Res.Returnval.Objects = read.Res.Returnval.Objects
	}
	if r.rest = r.rest[len(page):]; len(r.rest) > 0 {
		body.Res.Returnval.Token = pc.open(r)
	}
	return body
}

func (pc *pagingCollector) CancelRetrievePropertiesEx(ctx *simulator.Context, req *types.CancelRetrievePropertiesEx) soap.HasFault {
	if pc.take(req.Token) == nil {
		return &methods.CancelRetrievePropertiesExBody{Fault_: unknownToken()}
	}
	return &methods.CancelRetrievePropertiesExBody{Res: &types.CancelRetrievePropertiesExResponse{}}
}

func unknownToken() *soap.Fault {
	return simulator.Fault("the token does not name a retrieval open on this collector in this session",
		&types.InvalidArgument{InvalidProperty: "token"})
}

// open files r under a new token, forgetting retrievals that have idled too long and, when
// too many are open, the one idle longest.
func (pc *pagingCollector) open(r *retrieval) string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	now := time.Now()
	r.touched = now
	if pc.retrievals == nil {
		pc.retrievals = map[string]*retrieval{}
	}
	oldest := ""
	for token, other := range pc.retrievals {
		if now.Sub(other.touched) > time.Duration(retrievalIdleLimit.Load()) {
			delete(pc.retrievals, token)
		} else if oldest == "" || other.touched.Before(pc.retrievals[oldest].touched) {
			oldest = token
		}
	}
	if len(pc.retrievals) >= maxOpenRetrievals {
		delete(pc.retrievals, oldest)
	}
	pc.lastToken++
	token := strconv.FormatInt(pc.lastToken, 10)
	pc.retrievals[token] = r
	return token
}

// take removes the retrieval of token and returns it, or nil when the token is unknown, used
// or expired.
func (pc *pagingCollector) take(token string) *retrieval {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	r, ok := pc.retrievals[token]
	if !ok {
		return nil
	}
	delete(pc.retrievals, token)
	if time.Since(r.touched) > time.Duration(retrievalIdleLimit.Load()) {
		return nil
	}
	return r
}
