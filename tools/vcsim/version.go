package main

import (
	"hash/fnv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// versionKeeper adds what vcsim 0.24 lacks around VM configuration: config.changeVersion, set on
// every configuration change and checked by ReconfigVM_Task (a stale one fails the task with
// ConcurrentAccess and applies nothing), and extraConfig merged by key (an empty value deletes
// the key) on create, clone and reconfigure, where vcsim appends.
//
// It works by wrapping the Execute function of the tasks vcsim creates for these methods, so
// its checks and changes run inside the task, under the VM's lock, atomically with vcsim's own.
type versionKeeper struct {
	mu      sync.Mutex
	last    time.Time
	pending map[types.ManagedObjectReference]interface{}
	// Serialises reconfigure and clone requests per VM (striped), so that at most one request
	// per VM has a spec in pending while its task runs.
	stripes [64]sync.Mutex
	clones  *cloneFinisher
}

func newVersionKeeper(clones *cloneFinisher) *versionKeeper {
	return &versionKeeper{pending: map[types.ManagedObjectReference]interface{}{}, clones: clones}
}

// stash makes a ReconfigVM_Task or CloneVM_Task request visible to the task vcsim creates for it,
// until the returned function is called after vcsim has answered.
func (k *versionKeeper) stash(call *simulator.Method) func() {
	switch call.Body.(type) {
	case *types.ReconfigVM_Task, *types.CloneVM_Task:
	default:
		return func() {}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(call.This.Value))
	stripe := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	stripe.Lock()
	k.mu.Lock()
	k.pending[call.This] = call.Body
	k.mu.Unlock()
	return func() {
		k.mu.Lock()
		delete(k.pending, call.This)
		k.mu.Unlock()
		stripe.Unlock()
	}
}

func (k *versionKeeper) request(vm types.ManagedObjectReference) interface{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pending[vm]
}

// next returns a new change version: vCenter's form (an ISO 8601 UTC timestamp with
// microseconds), strictly increasing across the whole inventory.
func (k *versionKeeper) next() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if !now.After(k.last) {
		now = k.last.Add(time.Microsecond)
	}
	k.last = now
	return now.Format("2006-01-02T15:04:05.000000Z")
}

// settle merges vm's extraConfig (or sets it to the given list, merged) and gives vm a new
// change version. The caller holds vm's lock.
func (k *versionKeeper) settle(vm *simulator.VirtualMachine, extraConfig []types.BaseOptionValue) {
	if extraConfig == nil {
		extraConfig = vm.Config.ExtraConfig
	}
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "config.extraConfig", Val: mergeOptions(extraConfig)},
		{Name: "config.changeVersion", Val: k.next()},
	})
}

// mergeOptions applies option values in order, as vCenter applies a spec's extraConfig: the last
// value of a key wins, an empty value removes the key. Keys keep their first position.
func mergeOptions(lists ...[]types.BaseOptionValue) []types.BaseOptionValue {
	var order []string
	values := map[string]types.BaseOptionValue{}
	for _, list := range lists {
		for _, o := range list {
			v := o.GetOptionValue()
			if s, ok := v.Value.(string); v.Value == nil || (ok && s == "") {
				delete(values, v.Key)
				continue
			}
			if _, ok := values[v.Key]; !ok {
				order = append(order, v.Key)
			}
			values[v.Key] = o
		}
	}
	out := make([]types.BaseOptionValue, 0, len(values))
	for _, key := range order {
		if v, ok := values[key]; ok {
			out = append(out, v)
			delete(values, key) // a key deleted and set again appears in order twice
		}
	}
	return out
}

func vmOf(ref types.ManagedObjectReference) *simulator.VirtualMachine {
	vm, _ := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	return vm
}

// Reference, PutObject, UpdateObject and RemoveObject make the keeper a vcsim RegisterObject
// handler, told of every task as it is created (before it runs).
func (k *versionKeeper) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PortlayerVersionKeeper", Value: "portlayer-versions"}
}

func (k *versionKeeper) UpdateObject(mo.Reference, []types.PropertyChange) {}
func (k *versionKeeper) RemoveObject(types.ManagedObjectReference)         {}

func (k *versionKeeper) PutObject(obj mo.Reference) {
	task, ok := obj.(*simulator.Task)
	if !ok || task.Info.Entity == nil {
		return
	}
	entity := *task.Info.Entity
	run := task.Execute
	switch task.Info.DescriptionId {
	case "VirtualMachine.reconfigVm":
		req, _ := k.request(entity).(*types.ReconfigVM_Task)
		task.Execute = func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			vm := vmOf(entity)
			if vm == nil {
				return run(t)
			}
			if req != nil && req.Spec.ChangeVersion != "" && req.Spec.ChangeVersion != vm.Config.ChangeVersion {
				return nil, &types.ConcurrentAccess{}
			}
			before := vm.Config.ExtraConfig
			res, fault := run(t)
			if fault != nil {
				// vcsim appends extraConfig last, so restoring it undoes what a failed spec added.
				vm.Config.ExtraConfig = before
				return res, fault
			}
			k.settle(vm, nil)
			return res, nil
		}
	case "Folder.createVm":
		task.Execute = func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			res, fault := run(t)
			if ref, ok := res.(types.ManagedObjectReference); ok && fault == nil {
				if vm := vmOf(ref); vm != nil {
					simulator.Map.WithLock(vm, func() { k.settle(vm, nil) })
				}
			}
			return res, fault
		}
	case "VirtualMachine.cloneVm":
		// vcsim gives a clone only the spec's extraConfig; vCenter copies the source's and
		// applies the spec's on top. The rest of the spec's config and powerOn are the
		// finisher's.
		req, _ := k.request(entity).(*types.CloneVM_Task)
		task.Execute = func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			res, fault := run(t)
			ref, ok := res.(types.ManagedObjectReference)
			source, clone := vmOf(entity), vmOf(ref)
			if !ok || fault != nil || source == nil || clone == nil {
				return res, fault
			}
			spec := clone.Config.ExtraConfig
			var config *types.VirtualMachineConfigSpec
			if req != nil && req.Spec.Config != nil {
				config = req.Spec.Config
				spec = config.ExtraConfig
			}
			merged := mergeOptions(source.Config.ExtraConfig, spec)
			if fault := k.clones.configure(clone, config); fault != nil {
				return nil, fault
			}
			simulator.Map.WithLock(clone, func() { k.settle(clone, merged) })
			if req != nil && req.Spec.PowerOn {
				if fault := k.clones.powerOn(clone); fault != nil {
					return nil, fault
				}
			}
			return res, nil
		}
	case "VirtualMachine.rename", "VirtualMachine.upgradeVm":
		task.Execute = func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			res, fault := run(t)
			if vm := vmOf(entity); vm != nil && fault == nil {
				k.settle(vm, nil)
			}
			return res, fault
		}
	}
}

// adopt gives the VMs that exist before the keeper was registered (the model's) a change
// version and merged extraConfig.
func (k *versionKeeper) adopt() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() { k.settle(vm, nil) })
	}
}
