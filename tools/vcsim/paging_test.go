package main

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// manyVMs is the number of VMs in the folder the paging tests read.
const manyVMs = 2500

var (
	manyOnce   sync.Once
	manyFolder types.ManagedObjectReference
	manyRefs   map[types.ManagedObjectReference]bool
)

// pagingFolder returns a folder of manyVMs VMs (made once; a subfolder, so that other tests'
// listings of DC0/vm do not see them).
func (e *env) pagingFolder() types.ManagedObjectReference {
	e.t.Helper()
	manyOnce.Do(func() {
		folder, err := e.folder.CreateFolder(e.ctx, "paging")
		e.must(err)
		refs, errs := make(chan types.ManagedObjectReference, manyVMs), make(chan error, manyVMs)
		names := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range names {
					ref, err := e.createIn(folder, fmt.Sprintf("paging-%04d", i))
					if err != nil {
						errs <- err
						continue
					}
					refs <- ref
				}
			}()
		}
		for i := 0; i < manyVMs; i++ {
			names <- i
		}
		close(names)
		wg.Wait()
		close(refs)
		close(errs)
		for err := range errs {
			e.t.Fatal(err)
		}
		manyFolder, manyRefs = folder.Reference(), map[types.ManagedObjectReference]bool{}
		for ref := range refs {
			manyRefs[ref] = true
		}
	})
	if len(manyRefs) != manyVMs {
		e.t.Fatalf("the paging folder has %d VMs, want %d", len(manyRefs), manyVMs)
	}
	return manyFolder
}

func (e *env) createIn(folder *object.Folder, name string) (types.ManagedObjectReference, error) {
	task, err := folder.CreateVM(e.ctx, types.VirtualMachineConfigSpec{
		Name:     name,
		GuestId:  string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		MemoryMB: 32,
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}, e.pool, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	info, err := task.WaitForResult(e.ctx, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return info.Result.(types.ManagedObjectReference), nil
}

// vmView makes a container view of the VMs under folder, destroyed after the test.
func (e *env) vmView(folder types.ManagedObjectReference) types.ManagedObjectReference {
	e.t.Helper()
	v, err := view.NewManager(e.client.Client).CreateContainerView(e.ctx, folder, []string{"VirtualMachine"}, true)
	e.must(err)
	e.t.Cleanup(func() { _ = v.Destroy(e.ctx) })
	return v.Reference()
}

// viewSpec reads paths of the VMs a container view holds.
func viewSpec(v types.ManagedObjectReference, paths ...string) types.PropertyFilterSpec {
	return types.PropertyFilterSpec{
		PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: paths}},
		ObjectSet: []types.ObjectSpec{{
			Obj:       v,
			Skip:      types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
		}},
	}
}

func (e *env) retrieve(pc types.ManagedObjectReference, spec types.PropertyFilterSpec, max int32) (*types.RetrieveResult, error) {
	res, err := methods.RetrievePropertiesEx(e.ctx, e.client.Client, &types.RetrievePropertiesEx{
		This: pc, SpecSet: []types.PropertyFilterSpec{spec}, Options: types.RetrieveOptions{MaxObjects: max},
	})
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}

func (e *env) continueRetrieve(pc types.ManagedObjectReference, token string) (*types.RetrieveResult, error) {
	res, err := methods.ContinueRetrievePropertiesEx(e.ctx, e.client.Client, &types.ContinueRetrievePropertiesEx{This: pc, Token: token})
	if err != nil {
		return nil, err
	}
	return &res.Returnval, nil
}

func (e *env) cancelRetrieve(pc types.ManagedObjectReference, token string) error {
	_, err := methods.CancelRetrievePropertiesEx(e.ctx, e.client.Client, &types.CancelRetrievePropertiesEx{This: pc, Token: token})
	return err
}

// readAll follows a retrieval's tokens to the end and returns its pages.
func (e *env) readAll(pc types.ManagedObjectReference, first *types.RetrieveResult) [][]types.ObjectContent {
	e.t.Helper()
	pages := [][]types.ObjectContent{first.Objects}
	for res := first; res.Token != ""; {
		next, err := e.continueRetrieve(pc, res.Token)
		e.must(err)
		pages = append(pages, next.Objects)
		res = next
	}
	return pages
}

func (e *env) defaultCollector() types.ManagedObjectReference {
	return e.client.ServiceContent.PropertyCollector
}

func TestRetrievePropertiesExPagesAContainerViewByMaxObjectsAndSendsEachVMOnce(t *testing.T) {
	e := newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()
	first, err := e.retrieve(pc, viewSpec(v, "name", "config.hardware.memoryMB"), 300)
	e.must(err)
	pages := e.readAll(pc, first)

	if want := (manyVMs + 299) / 300; len(pages) != want {
		t.Fatalf("%d pages, want %d", len(pages), want)
	}
	seen := map[types.ManagedObjectReference]int{}
	for i, page := range pages {
		if len(page) > 300 || (i < len(pages)-1 && len(page) != 300) {
			t.Fatalf("page %d has %d objects; maxObjects is 300", i, len(page))
		}
		for _, o := range page {
			seen[o.Obj]++
			var m mo.VirtualMachine
			e.must(mo.LoadObjectContent([]types.ObjectContent{o}, &m))
			if m.Name == "" || m.Config == nil || m.Config.Hardware.MemoryMB != 32 {
				t.Fatalf("page %d: %s came without its properties: %+v", i, o.Obj, o.PropSet)
			}
		}
	}
	for ref := range manyRefs {
		if seen[ref] != 1 {
			t.Fatalf("%s was sent %d times", ref, seen[ref])
		}
	}
	if len(seen) != manyVMs {
		t.Fatalf("%d distinct objects, want %d", len(seen), manyVMs)
	}
}

func TestRetrievePropertiesExWithoutMaxObjectsSendsPagesOf100AsVCenterDoes(t *testing.T) {
	e := newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()
	first, err := e.retrieve(pc, viewSpec(v, "name"), 0)
	e.must(err)
	if len(first.Objects) != defaultPageSize || first.Token == "" {
		t.Fatalf("first page: %d objects, token %q; want 100 and a token", len(first.Objects), first.Token)
	}
	total := 0
	for _, page := range e.readAll(pc, first) {
		total += len(page)
	}
	if total != manyVMs {
		t.Fatalf("%d objects in all, want %d", total, manyVMs)
	}

	// A read that fits in one page has no token; RetrieveProperties (deprecated) never pages.
	small, err := e.retrieve(pc, viewSpec(v, "name"), manyVMs)
	e.must(err)
	if len(small.Objects) != manyVMs || small.Token != "" {
		t.Fatalf("maxObjects %d: %d objects, token %q", manyVMs, len(small.Objects), small.Token)
	}
	var vms []mo.VirtualMachine
	e.must(view.NewContainerView(e.client.Client, v).Retrieve(e.ctx, []string{"VirtualMachine"}, []string{"name"}, &vms))
	if len(vms) != manyVMs {
		t.Fatalf("RetrieveProperties returned %d VMs, want all %d", len(vms), manyVMs)
	}
}

func TestRetrievePropertiesExRefusesANegativeMaxObjects(t *testing.T) {
	e := newEnv(t)
	_, err := e.retrieve(e.defaultCollector(), viewSpec(e.vmView(e.pagingFolder()), "name"), -1)
	expectFault(t, err, "InvalidArgument")
}

func TestATokenServesOnceAndCancelDropsIt(t *testing.T) {
	e := newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()

	first, err := e.retrieve(pc, viewSpec(v, "name"), 1000)
	e.must(err)
	second, err := e.continueRetrieve(pc, first.Token)
	e.must(err)
	if len(second.Objects) != 1000 || second.Token == "" || second.Token == first.Token {
		t.Fatalf("second page: %d objects, token %q (first %q)", len(second.Objects), second.Token, first.Token)
	}
	_, err = e.continueRetrieve(pc, first.Token)
	expectFault(t, err, "InvalidArgument")

	e.must(e.cancelRetrieve(pc, second.Token))
	_, err = e.continueRetrieve(pc, second.Token)
	expectFault(t, err, "InvalidArgument")
	expectFault(t, e.cancelRetrieve(pc, second.Token), "InvalidArgument")
	expectFault(t, e.cancelRetrieve(pc, "no-such-token"), "InvalidArgument")
	_, err = e.continueRetrieve(pc, "")
	expectFault(t, err, "InvalidArgument")
}

func TestATokenBelongsToItsSessionAndCollector(t *testing.T) {
	e, other := newEnv(t), newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()
	first, err := e.retrieve(pc, viewSpec(v, "name"), 100)
	e.must(err)

	// Another session's default collector has the same reference but its own retrievals.
	_, err = other.continueRetrieve(pc, first.Token)
	expectFault(t, err, "InvalidArgument")

	// A collector made with CreatePropertyCollector pages too, with tokens of its own.
	created, err := methods.CreatePropertyCollector(e.ctx, e.client.Client, &types.CreatePropertyCollector{This: pc})
	e.must(err)
	own := created.Returnval
	if own.Type != "PropertyCollector" {
		t.Fatalf("a created collector is of type %q, want PropertyCollector", own.Type)
	}
	_, err = e.continueRetrieve(own, first.Token)
	expectFault(t, err, "InvalidArgument")
	page, err := e.retrieve(own, viewSpec(v, "name"), 10)
	e.must(err)
	if len(page.Objects) != 10 || page.Token == "" {
		t.Fatalf("a created collector: %d objects, token %q", len(page.Objects), page.Token)
	}
	_, err = e.continueRetrieve(own, page.Token)
	e.must(err)

	// The token still works where it came from, until the session ends.
	_, err = e.continueRetrieve(pc, first.Token)
	e.must(err)
	again, err := e.retrieve(pc, viewSpec(v, "name"), 100)
	e.must(err)
	e.must(e.client.SessionManager.Logout(e.ctx))
	e.must(e.client.SessionManager.Login(e.ctx, url.UserPassword(testHarness.ready.Username, testHarness.ready.Password)))
	_, err = e.continueRetrieve(pc, again.Token)
	expectFault(t, err, "InvalidArgument")
}

func TestAnIdleTokenExpires(t *testing.T) {
	e := newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()
	limit := retrievalIdleLimit.Load()
	retrievalIdleLimit.Store(int64(100 * time.Millisecond))
	t.Cleanup(func() { retrievalIdleLimit.Store(limit) })

	first, err := e.retrieve(pc, viewSpec(v, "name"), 100)
	e.must(err)
	time.Sleep(200 * time.Millisecond)
	_, err = e.continueRetrieve(pc, first.Token)
	expectFault(t, err, "InvalidArgument")
}

func TestOpeningTooManyRetrievalsForgetsTheOldest(t *testing.T) {
	e := newEnv(t)
	v := e.vmView(e.pagingFolder())
	pc := e.defaultCollector()
	var tokens []string
	for i := 0; i <= maxOpenRetrievals; i++ {
		res, err := e.retrieve(pc, viewSpec(v, "name"), 1)
		e.must(err)
		tokens = append(tokens, res.Token)
	}
	_, err := e.continueRetrieve(pc, tokens[0])
	expectFault(t, err, "InvalidArgument")
	for _, token := range tokens[1:] {
		e.must(e.cancelRetrieve(pc, token))
	}
}

func TestLaterPagesShowObjectsAsTheyAreThenAndLeaveOutDestroyedOnes(t *testing.T) {
	e := newEnv(t)
	folder, err := e.folder.CreateFolder(e.ctx, fmt.Sprintf("paging-small-%d", time.Now().UnixNano()))
	e.must(err)
	for i := 0; i < 4; i++ {
		_, err := e.createIn(folder, fmt.Sprintf("%s-vm%d", folder.Reference().Value, i))
		e.must(err)
	}
	pc := e.defaultCollector()
	first, err := e.retrieve(pc, viewSpec(e.vmView(folder.Reference()), "config.hardware.memoryMB"), 2)
	e.must(err)
	if len(first.Objects) != 2 || first.Token == "" {
		t.Fatalf("first page: %d objects, token %q", len(first.Objects), first.Token)
	}

	// Of the two VMs not sent yet, one is destroyed and one reconfigured.
	sent := map[types.ManagedObjectReference]bool{first.Objects[0].Obj: true, first.Objects[1].Obj: true}
	var rest []*object.VirtualMachine
	children, err := folder.Children(e.ctx)
	e.must(err)
	for _, c := range children {
		if !sent[c.Reference()] {
			rest = append(rest, e.vmObject(c.Reference()))
		}
	}
	e.must(e.wait(rest[0].Destroy(e.ctx)))
	e.must(e.wait(rest[1].Reconfigure(e.ctx, types.VirtualMachineConfigSpec{MemoryMB: 64})))

	second, err := e.continueRetrieve(pc, first.Token)
	e.must(err)
	if len(second.Objects) != 1 || second.Objects[0].Obj != rest[1].Reference() || second.Token != "" {
		t.Fatalf("second page: %+v, token %q; want only %s", second.Objects, second.Token, rest[1].Reference())
	}
	if got := second.Objects[0].PropSet[0].Val; got != int32(64) {
		t.Fatalf("memoryMB on the second page = %v, want the reconfigured 64", got)
	}
}
