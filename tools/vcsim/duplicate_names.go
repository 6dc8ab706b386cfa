package main

import (
	"hash/fnv"
	"path"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// nameGuard refuses, as vCenter does, a second entity of one name in a folder: CreateVM_Task,
// CloneVM_Task and RegisterVM_Task into a folder that already holds the name, and a VM's
// Rename_Task to a name its folder already holds, fail as a task error with DuplicateName
// (its name, and the entity that has it as its object). vcsim 0.24 checks none of the three
// creations, and refuses a rename with InvalidArgument.
//
// vcsim serialises a create on its folder but a clone on its source VM and a rename on the VM,
// so two of these calls into one folder could interleave between a check and the creation. The
// guard holds a lock per folder and name (striped) from the check until vcsim has answered;
// vcsim runs a task to completion before it answers, so for every call through /sdk the check
// and the change are one step. Calls for different names need no order between them, so they
// are not serialised (a lock per folder made concurrent creates in one folder half as fast).
type nameGuard struct {
	stripes [256]sync.Mutex
}

// nameClaim is a name a call wants in a folder.
type nameClaim struct {
	folder types.ManagedObjectReference
	name   string
	// self is the entity being renamed, which may keep its own name.
	self types.ManagedObjectReference
}

// vmNameClaim says which name in which folder call wants, for the calls the guard checks.
func vmNameClaim(call *simulator.Method) (nameClaim, bool) {
	switch req := call.Body.(type) {
	case *types.CreateVM_Task:
		return nameClaim{folder: call.This, name: req.Config.Name}, true
	case *types.CloneVM_Task:
		return nameClaim{folder: req.Folder, name: req.Name}, true
	case *types.RegisterVM_Task:
		name := req.Name
		if name == "" {
			// vcsim names a VM registered without a name after the directory of its .vmx.
			var p object.DatastorePath
			if p.FromString(req.Path) {
				name = path.Dir(p.Path)
			}
		}
		return nameClaim{folder: call.This, name: name}, true
	case *types.Rename_Task:
		vm := vmOf(call.This)
		if vm == nil {
			return nameClaim{}, false
		}
		var parent *types.ManagedObjectReference
		simulator.Map.WithLock(vm, func() { parent = vm.Parent })
		if parent == nil {
			return nameClaim{}, false
		}
		return nameClaim{folder: *parent, name: req.NewName, self: call.This}, true
	}
	return nameClaim{}, false
}

// claim locks c's folder and name and returns the entity in it that already has c's name, if any. The
// caller calls release once vcsim has answered the call (or the call was refused).
func (g *nameGuard) claim(c nameClaim) (holder *types.ManagedObjectReference, release func()) {
	folder, ok := simulator.Map.Get(c.folder).(*simulator.Folder)
	if !ok || c.name == "" {
		// vcsim answers these itself (no such folder, InvalidVmConfig for an empty name).
		return nil, func() {}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(c.folder.Value))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(c.name))
	stripe := &g.stripes[h.Sum32()%uint32(len(g.stripes))]
	stripe.Lock()
	var children []types.ManagedObjectReference
	simulator.Map.WithLock(folder, func() {
		children = append(children, folder.ChildEntity...)
	})
	for _, child := range children {
		if child == c.self {
			continue
		}
		// Names are read as vcsim's own FindByName reads them.
		if e, ok := simulator.Map.Get(child).(mo.Entity); ok && e.Entity().Name == c.name {
			ref := child
			return &ref, stripe.Unlock
		}
	}
	return nil, stripe.Unlock
}
