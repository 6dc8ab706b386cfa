package main

import (
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func (e *env) clone(source *object.VirtualMachine, name string, spec types.VirtualMachineCloneSpec) (*object.VirtualMachine, error) {
	e.t.Helper()
	spec.Location.Pool = types.NewReference(e.pool.Reference())
	task, err := source.Clone(e.ctx, e.folder, name, spec)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(e.ctx, nil)
	if err != nil {
		return nil, err
	}
	return e.vmObject(info.Result.(types.ManagedObjectReference)), nil
}

func TestCloneAppliesTheSpecConfigToTheClone(t *testing.T) {
	e := newEnv(t)
	source := e.createVM(option("guestinfo.keep", "k"), option("guestinfo.over", "old"))
	e.must(e.wait(source.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{MemoryMB: 64, NumCPUs: 1, Annotation: "source"})))
	limit, reservation := int64(500), int64(128)
	clone, err := e.clone(source, source.Name()+"-configured", types.VirtualMachineCloneSpec{
		Config: &types.VirtualMachineConfigSpec{
			MemoryMB:          256,
			NumCPUs:           2,
			NumCoresPerSocket: 2,
			Annotation:        "made by a clone",
			GuestId:           string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
			CpuAllocation:     &types.ResourceAllocationInfo{Limit: &limit},
			MemoryAllocation:  &types.ResourceAllocationInfo{Reservation: &reservation},
			ExtraConfig:       []types.BaseOptionValue{option("guestinfo.over", "new")},
		},
	})
	e.must(err)

	m := e.props(clone, "config", "summary.config")
	c := m.Config
	switch {
	case c.Hardware.MemoryMB != 256 || m.Summary.Config.MemorySizeMB != 256:
		t.Fatalf("memoryMB %d (summary %d), want 256", c.Hardware.MemoryMB, m.Summary.Config.MemorySizeMB)
	case c.Hardware.NumCPU != 2 || c.Hardware.NumCoresPerSocket != 2 || m.Summary.Config.NumCpu != 2:
		t.Fatalf("numCPU %d, coresPerSocket %d (summary %d), want 2 and 2", c.Hardware.NumCPU, c.Hardware.NumCoresPerSocket, m.Summary.Config.NumCpu)
	case c.Annotation != "made by a clone":
		t.Fatalf("annotation %q", c.Annotation)
	case c.GuestId != string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest):
		t.Fatalf("guestId %q", c.GuestId)
	case c.CpuAllocation == nil || c.CpuAllocation.Limit == nil || *c.CpuAllocation.Limit != limit:
		t.Fatalf("cpuAllocation %+v, want limit %d", c.CpuAllocation, limit)
	case c.MemoryAllocation == nil || c.MemoryAllocation.Reservation == nil || *c.MemoryAllocation.Reservation != reservation:
		t.Fatalf("memoryAllocation %+v, want reservation %d", c.MemoryAllocation, reservation)
	case c.Name != source.Name()+"-configured":
		t.Fatalf("the clone is named %q", c.Name)
	}
	if got := e.extraConfig(clone); got["guestinfo.keep"] != "k" || got["guestinfo.over"] != "new" {
		t.Fatalf("clone extraConfig = %v: the source's, with the spec's merged on top", got)
	}
	// What the spec does not set comes from the source, which the clone leaves as it was.
	bare, err := e.clone(source, source.Name()+"-bare", types.VirtualMachineCloneSpec{})
	e.must(err)
	for _, vm := range []*object.VirtualMachine{source, bare} {
		m := e.props(vm, "config.hardware", "config.annotation")
		if m.Config.Hardware.MemoryMB != 64 || m.Config.Hardware.NumCPU != 1 {
			t.Fatalf("%s: memoryMB %d, numCPU %d; want the source's 64 and 1", vm.Name(), m.Config.Hardware.MemoryMB, m.Config.Hardware.NumCPU)
		}
	}
}

func TestACloneWhoseConfigIsRefusedFailsAndLeavesNoVM(t *testing.T) {
	e := newEnv(t)
	source := e.createVM()
	name := source.Name() + "-refused"
	_, err := e.clone(source, name, types.VirtualMachineCloneSpec{
		Config: &types.VirtualMachineConfigSpec{MemoryMB: 128, GuestId: "noSuchGuest"},
	})
	expectFault(t, err, "InvalidArgument")
	if !isTaskError(err) {
		t.Fatalf("the clone task should fail, as in vCenter; got %T", err)
	}
	if _, err := e.finder().VirtualMachine(e.ctx, "/DC0/vm/"+name); err == nil {
		t.Fatalf("the refused clone %s is still in the inventory", name)
	}
}

func TestCloneWithPowerOnPowersTheCloneOn(t *testing.T) {
	e := newEnv(t)
	source := e.createVM()
	clone, err := e.clone(source, source.Name()+"-on", types.VirtualMachineCloneSpec{PowerOn: true})
	e.must(err)
	m := e.props(clone, "runtime", "guest.toolsRunningStatus")
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || m.Runtime.BootTime == nil {
		t.Fatalf("clone: powerState %s, bootTime %v; want poweredOn with a boot time", m.Runtime.PowerState, m.Runtime.BootTime)
	}
	if m.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		t.Fatalf("the powered-on clone's tools are %s", m.Guest.ToolsRunningStatus)
	}
	if s := e.props(source, "runtime.powerState"); s.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		t.Fatal("powerOn powered the source on")
	}
}
