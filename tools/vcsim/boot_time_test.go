package main

import (
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// bootTime returns runtime.bootTime, failing when summary.runtime.bootTime differs.
func (e *env) bootTime(vm *object.VirtualMachine) *time.Time {
	e.t.Helper()
	m := e.props(vm, "runtime.bootTime", "summary.runtime.bootTime")
	a, b := m.Runtime.BootTime, m.Summary.Runtime.BootTime
	if (a == nil) != (b == nil) || (a != nil && !a.Equal(*b)) {
		e.t.Fatalf("runtime.bootTime %v, summary.runtime.bootTime %v", a, b)
	}
	return a
}

func TestBootTimeIsSetOnPowerOnKeptThroughSuspendAndClearedOnPowerOff(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM()
	if boot := e.bootTime(vm); boot != nil {
		t.Fatalf("a new VM has bootTime %v", boot)
	}

	before := time.Now().Add(-time.Second) // the harness's clock, not the wire, truncates
	e.powerOn(vm)
	boot := e.bootTime(vm)
	if boot == nil || boot.Before(before) || boot.After(time.Now().Add(time.Second)) {
		t.Fatalf("after power-on bootTime = %v, want about now", boot)
	}

	// vCenter keeps the boot time of a suspended VM and does not renew it on resume.
	time.Sleep(10 * time.Millisecond)
	e.must(e.wait(vm.Suspend(e.ctx)))
	if got := e.bootTime(vm); got == nil || !got.Equal(*boot) {
		t.Fatalf("suspended: bootTime %v, want %v", got, boot)
	}
	e.powerOn(vm)
	if got := e.bootTime(vm); got == nil || !got.Equal(*boot) {
		t.Fatalf("resumed: bootTime %v, want %v", got, boot)
	}

	e.powerOff(vm)
	if got := e.bootTime(vm); got != nil {
		t.Fatalf("after power-off bootTime = %v, want unset", got)
	}
	e.powerOn(vm)
	if again := e.bootTime(vm); again == nil || !again.After(*boot) {
		t.Fatalf("after a new power-on bootTime = %v, want later than %v", again, boot)
	}
}

func TestTheModelsPoweredOnVMsHaveABootTime(t *testing.T) {
	e := newEnv(t)
	vms, err := e.finder().VirtualMachineList(e.ctx, "/DC0/vm/DC0_*")
	e.must(err)
	for _, vm := range vms {
		on := e.props(vm, "runtime.powerState").Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
		if boot := e.bootTime(vm); on != (boot != nil) {
			t.Fatalf("%s: powered on %v, bootTime %v", vm.Name(), on, boot)
		}
	}
}
