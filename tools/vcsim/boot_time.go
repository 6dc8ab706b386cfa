package main

import (
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// bootTimes keeps runtime.bootTime as vCenter does: set when a VM powers on from poweredOff,
// kept while it is suspended and when it resumes, cleared on power-off; summary.runtime.bootTime
// shows the same. vcsim sets only the summary's, anew on every power-on, and clears it on
// suspend.
//
// It is a vcsim RegisterObject handler that follows runtime.powerState changes. Since bootTime
// is unset exactly while a VM is powered off, it needs no memory of the previous state.
type bootTimes struct{}

func (bootTimes) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PortlayerBootTimes", Value: "portlayer-boot-times"}
}

func (bootTimes) PutObject(mo.Reference)                    {}
func (bootTimes) RemoveObject(types.ManagedObjectReference) {}

func (b bootTimes) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	for _, c := range changes {
		if state, ok := c.Val.(types.VirtualMachinePowerState); ok && c.Name == "runtime.powerState" {
			b.follow(vm, state)
		}
	}
}

// follow sets vm's boot times for its new power state. The caller holds vm's lock.
func (bootTimes) follow(vm *mo.VirtualMachine, state types.VirtualMachinePowerState) {
	var boot types.AnyType // nil clears
	switch {
	case state == types.VirtualMachinePowerStatePoweredOff:
	case vm.Runtime.BootTime != nil:
		boot = *vm.Runtime.BootTime
	case state == types.VirtualMachinePowerStatePoweredOn:
		boot = time.Now()
	}
	// Update calls every handler again, this one included; it reacts to power states only.
	simulator.Map.Update(vm, []types.PropertyChange{
		{Name: "runtime.bootTime", Val: boot},
		{Name: "summary.runtime.bootTime", Val: boot},
	})
}

// adopt gives the VMs that exist before the handler was registered (the model's, some powered
// on) their boot times.
func (b bootTimes) adopt() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() { b.follow(&vm.VirtualMachine, vm.Runtime.PowerState) })
	}
}
