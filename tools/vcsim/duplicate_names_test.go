package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// uniqueName returns a VM name no other test uses.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, atomic.AddInt64(&vmCounter, 1))
}

// subfolder makes a new folder under DC0/vm and returns it with its name.
func (e *env) subfolder() (*object.Folder, string) {
	e.t.Helper()
	name := uniqueName("folder")
	f, err := e.folder.CreateFolder(e.ctx, name)
	e.must(err)
	return f, name
}

// nameOf reads an entity's name (object.Common.Name() is empty for objects made from a bare
// reference).
func (e *env) nameOf(ref types.ManagedObjectReference) string {
	e.t.Helper()
	var entity mo.ManagedEntity
	e.must(e.client.RetrieveOne(e.ctx, ref, []string{"name"}, &entity))
	return entity.Name
}

// named returns the entities in folder called name.
func (e *env) named(folder *object.Folder, name string) []types.ManagedObjectReference {
	e.t.Helper()
	var f mo.Folder
	e.must(folder.Properties(e.ctx, folder.Reference(), []string{"childEntity"}, &f))
	var out []types.ManagedObjectReference
	for _, child := range f.ChildEntity {
		if e.nameOf(child) == name {
			out = append(out, child)
		}
	}
	return out
}

func (e *env) cloneInto(source *object.VirtualMachine, folder *object.Folder, name string) (types.ManagedObjectReference, error) {
	task, err := source.Clone(e.ctx, folder, name, types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Pool: types.NewReference(e.pool.Reference())},
	})
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	info, err := task.WaitForResult(e.ctx, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return info.Result.(types.ManagedObjectReference), nil
}

// expectDuplicateName checks that err is a failed task (not a SOAP fault) with a DuplicateName
// naming name and holder.
func expectDuplicateName(t *testing.T, err error, name string, holder types.ManagedObjectReference) {
	t.Helper()
	expectFault(t, err, "DuplicateName")
	if !isTaskError(err) {
		t.Fatalf("DuplicateName should fail the task, as in vCenter; got %T", err)
	}
	var f *types.DuplicateName
	switch v := faultOf(err).(type) {
	case *types.DuplicateName:
		f = v
	case types.DuplicateName:
		f = &v
	}
	if f == nil || f.Name != name || f.Object != holder {
		t.Fatalf("DuplicateName %+v, want name %q and object %v", f, name, holder)
	}
}

func TestCreateVMRefusesANameItsFolderHoldsWithDuplicateName(t *testing.T) {
	e := newEnv(t)
	name := uniqueName("dup-create")
	first, err := e.createIn(e.folder, name)
	e.must(err)
	_, err = e.createIn(e.folder, name)
	expectDuplicateName(t, err, name, first)
	if got := e.named(e.folder, name); len(got) != 1 || got[0] != first {
		t.Fatalf("VMs named %s: %v, want only %v", name, got, first)
	}
	// Another folder may hold the name.
	other, otherName := e.subfolder()
	_, err = e.createIn(other, name)
	e.must(err)
	// A folder's name counts too: vCenter names are unique among a folder's children.
	_, err = e.createIn(e.folder, otherName)
	expectDuplicateName(t, err, otherName, other.Reference())
}

func TestCloneRefusesANameItsTargetFolderHoldsWithDuplicateName(t *testing.T) {
	e := newEnv(t)
	source := e.createVM()
	taken := e.createVM()
	takenName, sourceName := e.nameOf(taken.Reference()), e.nameOf(source.Reference())
	_, err := e.cloneInto(source, e.folder, takenName)
	expectDuplicateName(t, err, takenName, taken.Reference())
	if got := e.named(e.folder, takenName); len(got) != 1 {
		t.Fatalf("VMs named %s: %v, want one", takenName, got)
	}
	// Its own source's name, in its own folder, is taken too.
	_, err = e.cloneInto(source, e.folder, sourceName)
	expectDuplicateName(t, err, sourceName, source.Reference())
	// Into another folder, the name is free.
	other, _ := e.subfolder()
	_, err = e.cloneInto(source, other, takenName)
	e.must(err)
}

func TestRegisterVMAndRenameRefuseATakenNameWithDuplicateName(t *testing.T) {
	e := newEnv(t)
	taken := e.createVM()
	takenName := e.nameOf(taken.Reference())
	task, err := e.folder.RegisterVM(e.ctx, "[LocalDS_0] elsewhere/elsewhere.vmx", takenName, false, e.pool, nil)
	e.must(err)
	_, err = task.WaitForResult(e.ctx, nil)
	expectDuplicateName(t, err, takenName, taken.Reference())
	// Without a name, the VM is named after its directory.
	task, err = e.folder.RegisterVM(e.ctx, "[LocalDS_0] "+takenName+"/"+takenName+".vmx", "", false, e.pool, nil)
	e.must(err)
	_, err = task.WaitForResult(e.ctx, nil)
	expectDuplicateName(t, err, takenName, taken.Reference())

	other := e.createVM()
	otherName := e.nameOf(other.Reference())
	task, err = other.Rename(e.ctx, takenName)
	e.must(err)
	_, err = task.WaitForResult(e.ctx, nil)
	expectDuplicateName(t, err, takenName, taken.Reference())
	if got := e.nameOf(other.Reference()); got != otherName {
		t.Fatalf("the refused rename was applied: %s", got)
	}
	e.must(e.wait(other.Rename(e.ctx, otherName+"-renamed")))
}

// TestConcurrentCreatesAndClonesOfOneNameMakeOneVM races four clients, each in its own session,
// to make a VM of one name in one folder: by CreateVM_Task, by CloneVM_Task (which vcsim locks
// on the source VM, not the folder), and both mixed.
func TestConcurrentCreatesAndClonesOfOneNameMakeOneVM(t *testing.T) {
	const clients = 4
	envs := make([]*env, clients)
	for i := range envs {
		envs[i] = newEnv(t)
	}
	sources := make([]*object.VirtualMachine, clients)
	for i := range sources {
		sources[i] = envs[i].createVM()
	}
	kinds := map[string]func(i int) string{
		"create": func(int) string { return "create" },
		"clone":  func(int) string { return "clone" },
		"mixed": func(i int) string {
			if i%2 == 0 {
				return "create"
			}
			return "clone"
		},
	}
	for kind, pick := range kinds {
		for round := 0; round < 5; round++ {
			name := uniqueName("race-" + kind)
			made := make([]types.ManagedObjectReference, clients)
			errs := make([]error, clients)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					e := envs[i]
					if pick(i) == "create" {
						made[i], errs[i] = e.createIn(e.folder, name)
					} else {
						made[i], errs[i] = e.cloneInto(sources[i], e.folder, name)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			var winner types.ManagedObjectReference
			wins := 0
			for i, err := range errs {
				if err == nil {
					wins++
					winner = made[i]
				}
			}
			if wins != 1 {
				t.Fatalf("%s round %d: %d calls succeeded (%v), want exactly one", kind, round, wins, errs)
			}
			for _, err := range errs {
				if err != nil {
					expectDuplicateName(t, err, name, winner)
				}
			}
			if got := envs[0].named(envs[0].folder, name); len(got) != 1 || got[0] != winner {
				t.Fatalf("%s round %d: VMs named %s: %v, want only %v", kind, round, name, got, winner)
			}
		}
	}
}
