package main

import (
	"reflect"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
)

func (e *env) changeVersion(vm interface {
	Reference() types.ManagedObjectReference
}) string {
	e.t.Helper()
	return e.props(e.vmObject(vm.Reference()), "config.changeVersion").Config.ChangeVersion
}

func TestModelVMsAndNewVMsHaveAChangeVersion(t *testing.T) {
	e := newEnv(t)
	vms, err := e.finder().VirtualMachineList(e.ctx, "/DC0/vm/*")
	e.must(err)
	if len(vms) == 0 {
		t.Fatal("the VPX model has no VMs")
	}
	for _, vm := range vms {
		if e.changeVersion(vm) == "" {
			t.Fatalf("%s has no config.changeVersion", vm.Name())
		}
	}
	if e.changeVersion(e.createVM()) == "" {
		t.Fatal("a new VM has no config.changeVersion")
	}
}

func TestReconfigureWithTheCurrentChangeVersionAppliesAndChangesIt(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM()
	v1 := e.changeVersion(vm)
	e.must(e.wait(vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ChangeVersion: v1, MemoryMB: 256})))
	v2 := e.changeVersion(vm)
	if v2 == v1 || v2 < v1 {
		t.Fatalf("changeVersion did not move forward: %s then %s", v1, v2)
	}
	if m := e.props(vm, "config.hardware.memoryMB"); m.Config.Hardware.MemoryMB != 256 {
		t.Fatalf("memoryMB = %d, want 256", m.Config.Hardware.MemoryMB)
	}
	// A reconfigure without changeVersion is not checked, as in vCenter.
	e.must(e.wait(vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{MemoryMB: 512})))
	if v3 := e.changeVersion(vm); v3 == v2 {
		t.Fatal("an unchecked reconfigure did not change changeVersion")
	}
}

func TestReconfigureWithAStaleChangeVersionFailsWithConcurrentAccessAndAppliesNothing(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM(option("guestinfo.a", "1"))
	stale := e.changeVersion(vm)
	e.must(e.wait(vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ChangeVersion: stale, MemoryMB: 128})))
	current := e.changeVersion(vm)

	err := e.wait(vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{
		ChangeVersion: stale,
		MemoryMB:      1024,
		ExtraConfig:   []types.BaseOptionValue{option("guestinfo.a", "2"), option("guestinfo.b", "3")},
	}))
	expectFault(t, err, "ConcurrentAccess")
	if !isTaskError(err) {
		t.Fatalf("ConcurrentAccess should fail the task, as in vCenter; got %T", err)
	}
	m := e.props(vm, "config.hardware.memoryMB", "config.changeVersion")
	if m.Config.Hardware.MemoryMB != 128 || m.Config.ChangeVersion != current {
		t.Fatalf("a refused reconfigure changed the VM: memoryMB %d, changeVersion %s (was %s)",
			m.Config.Hardware.MemoryMB, m.Config.ChangeVersion, current)
	}
	if got := e.extraConfig(vm); got["guestinfo.a"] != "1" || got["guestinfo.b"] != "" {
		t.Fatalf("a refused reconfigure changed extraConfig: %v", got)
	}
}

func TestExtraConfigIsMergedByKeyAndAnEmptyValueDeletes(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM(option("guestinfo.a", "1"), option("guestinfo.b", "2"), option("guestinfo.a", "3"), option("guestinfo.gone", ""))
	if got := e.extraConfig(vm); got["guestinfo.a"] != "3" || got["guestinfo.b"] != "2" || len(got) != 3 {
		t.Fatalf("extraConfig after create = %v, want guestinfo.a=3 guestinfo.b=2 and vcsim's own key", got)
	}
	e.must(e.wait(vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		option("guestinfo.a", "10"), option("guestinfo.c", "x"), option("guestinfo.b", ""),
	}})))
	got := e.extraConfig(vm)
	want := map[string]string{"govcsim": "TRUE", "guestinfo.a": "10", "guestinfo.c": "x"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("extraConfig after reconfigure = %v, want %v", got, want)
	}
}

func TestCloneCopiesTheSourceExtraConfigAndMergesTheSpec(t *testing.T) {
	e := newEnv(t)
	source := e.createVM(option("guestinfo.keep", "k"), option("guestinfo.drop", "d"), option("guestinfo.over", "old"))
	task, err := source.Clone(e.ctx, e.folder, source.Name()+"-clone", types.VirtualMachineCloneSpec{
		Location: types.VirtualMachineRelocateSpec{Pool: types.NewReference(e.pool.Reference())},
		Config: &types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
			option("guestinfo.over", "new"), option("guestinfo.drop", ""), option("guestinfo.added", "a"),
		}},
	})
	e.must(err)
	info, err := task.WaitForResult(e.ctx, nil)
	e.must(err)
	clone := e.vmObject(info.Result.(types.ManagedObjectReference))
	got := e.extraConfig(clone)
	want := map[string]string{"govcsim": "TRUE", "guestinfo.keep": "k", "guestinfo.over": "new", "guestinfo.added": "a"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("clone extraConfig = %v, want %v", got, want)
	}
	if e.changeVersion(clone) == "" {
		t.Fatal("a clone has no changeVersion")
	}
}

func TestRenameChangesTheChangeVersion(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM()
	before := e.changeVersion(vm)
	e.must(e.wait(vm.Rename(e.ctx, vm.Name()+"-renamed")))
	if e.changeVersion(vm) == before {
		t.Fatal("rename did not change changeVersion")
	}
}

func TestPowerOperationsDoNotChangeTheChangeVersion(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM()
	before := e.changeVersion(vm)
	e.powerOn(vm)
	e.powerOff(vm)
	if e.changeVersion(vm) != before {
		t.Fatal("power operations changed changeVersion; vCenter changes it on configuration changes only")
	}
}
