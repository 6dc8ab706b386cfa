package main

import (
	"net/http"
	"testing"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// expectUnauthenticatedObjects checks that every object of a read has no properties and each
// property asked for in missingSet with a NotAuthenticated fault naming the object, and
// returns the objects read.
func expectUnauthenticatedObjects(t *testing.T, objects []types.ObjectContent, paths ...string) map[types.ManagedObjectReference]bool {
	t.Helper()
	seen := map[types.ManagedObjectReference]bool{}
	for _, o := range objects {
		seen[o.Obj] = true
		if len(o.PropSet) != 0 {
			t.Fatalf("%v: properties %v sent to an expired session", o.Obj, o.PropSet)
		}
		missing := map[string]bool{}
		for _, m := range o.MissingSet {
			f, ok := m.Fault.Fault.(*types.NotAuthenticated)
			if !ok || f.Object != o.Obj {
				t.Fatalf("%v: missingSet %s has fault %#v, want NotAuthenticated naming the object", o.Obj, m.Path, m.Fault.Fault)
			}
			missing[m.Path] = true
		}
		for _, p := range paths {
			if !missing[p] {
				t.Fatalf("%v: %s is not in missingSet (%v)", o.Obj, p, o.MissingSet)
			}
		}
	}
	return seen
}

func TestExpiredSessionsReadPropertiesAsMissingSetByDefault(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	folder, _ := e.subfolder()
	vms := map[types.ManagedObjectReference]bool{}
	for i := 0; i < 3; i++ {
		ref, err := e.createIn(folder, uniqueName("expiry"))
		e.must(err)
		vms[ref] = true
	}
	view := e.vmView(folder.Reference())
	pc := e.defaultCollector()
	// A paged read opened before the expiry.
	first, err := e.retrieve(pc, viewSpec(view, "name", "runtime.powerState"), 2)
	e.must(err)
	if first.Token == "" || len(first.Objects) != 2 {
		t.Fatalf("first page: %d objects, token %q; want 2 and a token", len(first.Objects), first.Token)
	}

	status, text := admin(t, "expire-sessions", nil)
	if status != http.StatusOK {
		t.Fatalf("expire-sessions: %d %s", status, text)
	}

	// The session's own view still leads to its VMs, each answered with missingSet.
	res, err := e.retrieve(pc, viewSpec(view, "name", "runtime.powerState"), 0)
	e.must(err)
	if seen := expectUnauthenticatedObjects(t, res.Objects, "name", "runtime.powerState"); len(seen) != len(vms) {
		t.Fatalf("a read through the view saw %d objects, want %d", len(seen), len(vms))
	}
	// A VM named directly, too.
	var one types.ManagedObjectReference
	for ref := range vms {
		one = ref
	}
	direct := types.PropertyFilterSpec{
		PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"config.extraConfig"}}},
		ObjectSet: []types.ObjectSpec{{Obj: one}},
	}
	res, err = e.retrieve(pc, direct, 0)
	e.must(err)
	if seen := expectUnauthenticatedObjects(t, res.Objects, "config.extraConfig"); !seen[one] || len(seen) != 1 {
		t.Fatalf("a direct read saw %v, want %v", seen, one)
	}
	old, err := methods.RetrieveProperties(e.ctx, e.client.Client, &types.RetrieveProperties{This: pc, SpecSet: []types.PropertyFilterSpec{direct}})
	e.must(err)
	expectUnauthenticatedObjects(t, old.Returnval, "config.extraConfig")
	// The paged read continues, answered the same way.
	next, err := e.continueRetrieve(pc, first.Token)
	e.must(err)
	if seen := expectUnauthenticatedObjects(t, next.Objects, "name", "runtime.powerState"); len(seen) != 1 {
		t.Fatalf("the last page has %d objects, want 1", len(seen))
	}

	// Every other call fails with a SOAP NotAuthenticated fault.
	_, err = methods.GetCurrentTime(e.ctx, e.client.Client)
	expectFault(t, err, "NotAuthenticated")
	_, err = e.vmObject(one).PowerOn(e.ctx)
	expectFault(t, err, "NotAuthenticated")

	// A new session reads normally.
	fresh := newEnv(t)
	res, err = fresh.retrieve(fresh.defaultCollector(), direct, 0)
	fresh.must(err)
	if len(res.Objects) != 1 || len(res.Objects[0].PropSet) != 1 || len(res.Objects[0].MissingSet) != 0 {
		t.Fatalf("a live session's read: %+v", res.Objects)
	}
}

func TestExpiredSessionsCanReadPropertiesAsASOAPFault(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	pc := e.defaultCollector()
	many := e.vmView(e.folder.Reference())
	first, err := e.retrieve(pc, viewSpec(many, "name"), 1)
	e.must(err)
	if first.Token == "" {
		t.Fatal("the first page has no token")
	}
	mustAdmin(t, "expire-sessions", map[string]interface{}{"readsAs": "fault"})

	direct := types.PropertyFilterSpec{
		PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
		ObjectSet: []types.ObjectSpec{{Obj: vm.Reference()}},
	}
	_, err = e.retrieve(pc, direct, 0)
	expectFault(t, err, "NotAuthenticated")
	_, err = methods.RetrieveProperties(e.ctx, e.client.Client, &types.RetrieveProperties{This: pc, SpecSet: []types.PropertyFilterSpec{direct}})
	expectFault(t, err, "NotAuthenticated")
	_, err = e.continueRetrieve(pc, first.Token)
	expectFault(t, err, "NotAuthenticated")
	_, err = methods.GetCurrentTime(e.ctx, e.client.Client)
	expectFault(t, err, "NotAuthenticated")

	fresh := newEnv(t)
	_, err = fresh.retrieve(fresh.defaultCollector(), direct, 0)
	fresh.must(err)
}

func TestExpireSessionsRefusesAnUnknownReadsAs(t *testing.T) {
	if status, text := admin(t, "expire-sessions", map[string]interface{}{"readsAs": "sometimes"}); status != http.StatusBadRequest {
		t.Fatalf("readsAs sometimes: %d %s, want 400", status, text)
	}
}
