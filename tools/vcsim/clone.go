package main

import (
	"context"
	"log"
	_ "unsafe" // go:linkname

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// configureVM is vcsim's own reconfigure of a VM, without the task and the event that
// ReconfigVM_Task adds. A clone's spec.config must be applied the same way, and vcsim 0.24
// exports no other way to do it (the harness builds against that exact Debian package; the
// empty linkname.s lets this declaration go without a body).
//
//go:linkname configureVM github.com/vmware/govmomi/simulator.(*VirtualMachine).configure
func configureVM(vm *simulator.VirtualMachine, spec *types.VirtualMachineConfigSpec) types.BaseMethodFault

// cloneFinisher does for a clone what vcsim leaves out and vCenter does: it applies the clone
// spec's config to the new VM (vcsim takes only its extraConfig, deviceChange and instanceUuid
// and copies the rest from the source), powers it on when the spec asks, and destroys it when
// the config is refused, so that a failed clone leaves nothing behind.
type cloneFinisher struct {
	// ctx stands for the caller where vcsim's methods need one to post events; the harness has
	// one user, so the events name the user who asked.
	ctx *simulator.Context
}

func newCloneFinisher(username string) *cloneFinisher {
	return &cloneFinisher{ctx: &simulator.Context{
		Context: context.Background(),
		Map:     simulator.Map,
		Session: &simulator.Session{
			UserSession: types.UserSession{Key: "vcsim-harness-clone", UserName: username},
			Registry:    simulator.NewRegistry(),
		},
	}}
}

// configure applies config to clone, as a reconfigure of the new VM would, except its
// extraConfig and deviceChange, which vcsim has applied already. On a fault it destroys the
// clone. The caller holds no lock on clone.
func (f *cloneFinisher) configure(clone *simulator.VirtualMachine, config *types.VirtualMachineConfigSpec) types.BaseMethodFault {
	if config == nil {
		return nil
	}
	spec := *config
	spec.ExtraConfig, spec.DeviceChange = nil, nil
	var fault types.BaseMethodFault
	simulator.Map.WithLock(clone, func() { fault = configureVM(clone, &spec) })
	if fault != nil {
		f.destroy(clone)
	}
	return fault
}

func (f *cloneFinisher) destroy(clone *simulator.VirtualMachine) {
	simulator.Map.WithLock(clone, func() {
		res := clone.DestroyTask(f.ctx, &types.Destroy_Task{This: clone.Self}).(*methods.Destroy_TaskBody)
		if task, ok := simulator.Map.Get(res.Res.Returnval).(*simulator.Task); ok && task.Info.Error != nil {
			log.Printf("removing the clone %s whose config was refused: %s", clone.Self, task.Info.Error.LocalizedMessage)
		}
	})
}

// powerOn powers the clone on, as CloneVM_Task does when spec.powerOn is set.
func (f *cloneFinisher) powerOn(clone *simulator.VirtualMachine) types.BaseMethodFault {
	var fault types.BaseMethodFault
	simulator.Map.WithLock(clone, func() {
		res := clone.PowerOnVMTask(f.ctx, &types.PowerOnVM_Task{This: clone.Self}).(*methods.PowerOnVM_TaskBody)
		if res.Fault_ != nil {
			fault = res.Fault_.VimFault().(types.BaseMethodFault)
		} else if task, ok := simulator.Map.Get(res.Res.Returnval).(*simulator.Task); ok && task.Info.Error != nil {
			fault = task.Info.Error.Fault
		}
	})
	return fault
}
