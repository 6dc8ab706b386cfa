package main

import (
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// guests is the emulated guest of every VM: a file system that survives power cycles, a
// process table that power-off clears, and guest tools that run while the VM is powered on.
// One lock guards it all; every guest operation is short.
type guests struct {
	mu              sync.Mutex
	vms             map[types.ManagedObjectReference]*guestVM
	creds           credentials
	exitedRetention time.Duration
	transfers       *transfers
}

type guestVM struct {
	power   types.VirtualMachinePowerState
	fs      *guestFS
	procs   map[int64]*guestProcess
	nextPid int64
}

func newGuests(creds credentials, exitedRetention time.Duration, transfers *transfers) *guests {
	return &guests{
		vms:             map[types.ManagedObjectReference]*guestVM{},
		creds:           creds,
		exitedRetention: exitedRetention,
		transfers:       transfers,
	}
}

// firstPid is where a guest's process IDs start; they keep counting across power cycles so a
// pid never names two processes of one VM.
const firstPid = 1000

// vm returns the guest of ref, creating it on first use. g.mu is held by the caller.
func (g *guests) vm(ref types.ManagedObjectReference) *guestVM {
	vm, ok := g.vms[ref]
	if !ok {
		vm = &guestVM{
			power:   types.VirtualMachinePowerStatePoweredOff,
			fs:      newGuestFS(time.Now()),
			procs:   map[int64]*guestProcess{},
			nextPid: firstPid,
		}
		g.vms[ref] = vm
	}
	return vm
}

func (vm *guestVM) stopTimers() {
	for _, p := range vm.procs {
		if p.timer != nil {
			p.timer.Stop()
		}
	}
}

// setPower moves a VM's guest to a new power state and publishes its tools state.
func (g *guests) setPower(obj mo.Reference, state types.VirtualMachinePowerState) {
	g.mu.Lock()
	vm := g.vm(obj.Reference())
	vm.power = state
	if state == types.VirtualMachinePowerStatePoweredOff {
		vm.stopTimers()
		vm.procs = map[int64]*guestProcess{}
	}
	g.mu.Unlock()
	// Outside g.mu: Update calls every RegisterObject handler, this one included.
	simulator.Map.Update(obj, toolsState(state == types.VirtualMachinePowerStatePoweredOn))
}

// toolsState is what vCenter reports of a guest whose tools run (or do not).
func toolsState(running bool) []types.PropertyChange {
	tools, status, guest, heartbeat := types.VirtualMachineToolsRunningStatusGuestToolsNotRunning,
		types.VirtualMachineToolsStatusToolsNotRunning, types.VirtualMachineGuestStateNotRunning,
		types.ManagedEntityStatusGray
	if running {
		tools, status, guest, heartbeat = types.VirtualMachineToolsRunningStatusGuestToolsRunning,
			types.VirtualMachineToolsStatusToolsOk, types.VirtualMachineGuestStateRunning,
			types.ManagedEntityStatusGreen
	}
	ready := running
	return []types.PropertyChange{
		{Name: "guest.toolsRunningStatus", Val: string(tools)},
		{Name: "guest.toolsStatus", Val: status},
		{Name: "guest.toolsVersionStatus2", Val: string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent)},
		{Name: "guest.toolsVersion", Val: "12352"},
		{Name: "guest.guestState", Val: string(guest)},
		{Name: "guest.guestOperationsReady", Val: ready},
		{Name: "summary.guest.toolsRunningStatus", Val: string(tools)},
		{Name: "summary.guest.toolsStatus", Val: status},
		{Name: "summary.quickStats.guestHeartbeatStatus", Val: heartbeat},
	}
}

// Reference, PutObject, UpdateObject and RemoveObject make guests a vcsim RegisterObject handler:
// it follows VMs being created, powered on and off, and destroyed.
func (g *guests) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PortlayerGuests", Value: "portlayer-guests"}
}

func (g *guests) PutObject(obj mo.Reference) {
	switch obj := obj.(type) {
	case *simulator.VirtualMachine:
		g.mu.Lock()
		g.vm(obj.Reference())
		g.mu.Unlock()
	case *simulator.Task:
		// vcsim reports a new VM's tools as not installed; this guest has them, not yet running.
		if obj.Info.DescriptionId != "Folder.createVm" {
			return
		}
		run := obj.Execute
		obj.Execute = func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
			res, fault := run(t)
			if ref, ok := res.(types.ManagedObjectReference); ok && fault == nil {
				if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
					simulator.Map.WithLock(vm, func() { g.setPower(vm, vm.Runtime.PowerState) })
				}
			}
			return res, fault
		}
	}
}

func (g *guests) UpdateObject(obj mo.Reference, changes []types.PropertyChange) {
	if obj.Reference().Type != "VirtualMachine" {
		return
	}
	for _, c := range changes {
		if c.Name == "runtime.powerState" {
			if state, ok := c.Val.(types.VirtualMachinePowerState); ok {
				g.setPower(obj, state)
			}
		}
	}
}

func (g *guests) RemoveObject(ref types.ManagedObjectReference) {
	if ref.Type != "VirtualMachine" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if vm, ok := g.vms[ref]; ok {
		vm.stopTimers()
		delete(g.vms, ref)
	}
	g.transfers.forgetVM(ref)
}

// adopt takes in the VMs that exist before the handler was registered (the model's own).
func (g *guests) adopt() {
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm := e.(*simulator.VirtualMachine)
		g.setPower(vm, vm.Runtime.PowerState)
	}
}

// enter checks a guest operation's preconditions as vCenter does: the VM exists, is powered
// on with tools running, and the credentials are the guest's. g.mu is held by the caller.
func (g *guests) enter(ref types.ManagedObjectReference, auth types.BaseGuestAuthentication) (*guestVM, string, types.BaseMethodFault) {
	if _, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); !ok {
		return nil, "", &types.ManagedObjectNotFound{Obj: ref}
	}
	vm := g.vm(ref)
	if vm.power != types.VirtualMachinePowerStatePoweredOn {
		return nil, "", &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOn,
			ExistingState:  vm.power,
		}
	}
	creds, ok := auth.(*types.NamePasswordAuthentication)
	if !ok || creds.Username != g.creds.Username || creds.Password != g.creds.Password {
		return nil, "", new(types.InvalidGuestLogin)
	}
	return vm, creds.Username, nil
}
