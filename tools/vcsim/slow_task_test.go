package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/types"
)

func adminCalls(t *testing.T) map[string]int {
	t.Helper()
	res, err := http.Get(testHarness.ready.AdminURL + "/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var calls map[string]int
	if err := json.NewDecoder(res.Body).Decode(&calls); err != nil {
		t.Fatal(err)
	}
	return calls
}

// expectRunning checks that a call answered with a proxy task that is still running, for entity.
// slowPowerOn powers vm on through a slow task (answered running, applied ms later) and checks
// that the answer is that running task.
func (e *env) slowPowerOn(vm *object.VirtualMachine, ms int) *object.Task {
	e.t.Helper()
	mustAdmin(e.t, "slow-task", map[string]interface{}{"method": "PowerOnVM_Task", "ms": ms})
	task, err := vm.PowerOn(e.ctx)
	e.expectRunning(task, err, "PowerOnVM_Task", "VirtualMachine.powerOn", vm.Reference())
	return task
}

func (e *env) expectRunning(task *object.Task, err error, method, description string, entity types.ManagedObjectReference) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("a slowed %s should answer with a task, got %v", method, err)
	}
	info := e.taskInfo(task)
	if info.State != types.TaskInfoStateRunning {
		e.t.Fatalf("a slowed %s answered with a task in state %s, want running", method, info.State)
	}
	if info.Name != method || info.DescriptionId != description || info.Entity == nil || *info.Entity != entity {
		e.t.Fatalf("task name %q, descriptionId %q, entity %v; want %s, %s, %v", info.Name, info.DescriptionId, info.Entity, method, description, entity)
	}
	if !info.Cancelable || info.StartTime == nil || info.CompleteTime != nil || info.Result != nil || info.Error != nil {
		e.t.Fatalf("a running task has cancelable %v, startTime %v, completeTime %v, result %v, error %v", info.Cancelable, info.StartTime, info.CompleteTime, info.Result, info.Error)
	}
}

func (e *env) powerState(vm *object.VirtualMachine) types.VirtualMachinePowerState {
	e.t.Helper()
	return e.props(vm, "runtime.powerState").Runtime.PowerState
}

func TestASlowTaskRunsFirstAndItsCallIsAppliedLater(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	task := e.slowPowerOn(vm, 400)
	if state := e.powerState(vm); state != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("the VM is %s before the slowed call was applied", state)
	}
	// govmomi waits through a property collector filter (WaitForUpdatesEx).
	info, err := task.WaitForResult(e.ctx, nil)
	e.must(err)
	if info.State != types.TaskInfoStateSuccess || info.CompleteTime == nil || info.Cancelable || info.Cancelled {
		t.Fatalf("the finished task: state %s, completeTime %v, cancelable %v, cancelled %v", info.State, info.CompleteTime, info.Cancelable, info.Cancelled)
	}
	if state := e.powerState(vm); state != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("the VM is %s after its slowed power-on succeeded", state)
	}
	if calls := adminCalls(t); calls["PowerOnVM_Task"] != 1 {
		t.Fatalf("calls = %v, want PowerOnVM_Task: 1 (the late application is not a call)", calls)
	}

	// count defaults to 1: the next call's task has ended when it answers, as vcsim's do.
	task, err = vm.PowerOff(e.ctx)
	e.must(err)
	if info := e.taskInfo(task); info.State != types.TaskInfoStateSuccess {
		t.Fatalf("the call after the slowed one answered with a task in state %s", info.State)
	}
}

func TestASlowCreateEndsWithItsResultAndKeepsTheHarnessChecks(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	name := uniqueName("slow-create")
	// The second is applied well after the first.
	mustAdmin(t, "slow-task", map[string]interface{}{"method": "CreateVM_Task", "ms": 200})
	mustAdmin(t, "slow-task", map[string]interface{}{"method": "CreateVM_Task", "ms": 700})
	spec := types.VirtualMachineConfigSpec{
		Name:    name,
		GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files:   &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
	}
	first, err := e.folder.CreateVM(e.ctx, spec, e.pool, nil)
	e.expectRunning(first, err, "CreateVM_Task", "Folder.createVm", e.folder.Reference())
	second, err := e.folder.CreateVM(e.ctx, spec, e.pool, nil)
	e.expectRunning(second, err, "CreateVM_Task", "Folder.createVm", e.folder.Reference())
	if got := e.named(e.folder, name); len(got) != 0 {
		t.Fatalf("a slowed create made %v before it was applied", got)
	}
	info, err := first.WaitForResult(e.ctx, nil)
	e.must(err)
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok || ref.Type != "VirtualMachine" {
		t.Fatalf("the task's result is %#v, want the new VM", info.Result)
	}
	if got := e.named(e.folder, name); len(got) != 1 || got[0] != ref {
		t.Fatalf("VMs named %s: %v, want %v", name, got, ref)
	}
	// The version keeper saw the applied call.
	if m := e.props(e.vmObject(ref), "config.changeVersion"); m.Config.ChangeVersion == "" {
		t.Fatal("the VM made by a slowed create has no changeVersion")
	}
	// The name guard refuses the second one when it is applied.
	expectFault(t, second.Wait(e.ctx), "DuplicateName")
	if got := e.named(e.folder, name); len(got) != 1 {
		t.Fatalf("VMs named %s: %v, want one", name, got)
	}
}

func TestASlowTaskEndsWithTheFaultOfItsCall(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)

	// A task error of the applied call: power on a VM that is on.
	vm := e.createVM()
	e.powerOn(vm)
	task := e.slowPowerOn(vm, 200)
	werr := task.Wait(e.ctx)
	expectFault(t, werr, "InvalidPowerState")
	if !isTaskError(werr) {
		t.Fatalf("want a task error, got %T", werr)
	}
	if info := e.taskInfo(task); info.State != types.TaskInfoStateError || info.Error == nil || info.Result != nil {
		t.Fatalf("task state %s, error %v, result %v", info.State, info.Error, info.Result)
	}

	// A SOAP fault of the applied call: the VM is gone by then.
	gone := e.createVM()
	task = e.slowPowerOn(gone, 300)
	e.must(e.wait(gone.Destroy(e.ctx)))
	werr = task.Wait(e.ctx)
	expectFault(t, werr, "ManagedObjectNotFound")
	if !isTaskError(werr) {
		t.Fatalf("want a task error, got %T", werr)
	}
}

func TestCancelTaskEndsASlowTaskWhoseCallWasNotApplied(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	task := e.slowPowerOn(vm, 300)
	e.must(task.Cancel(e.ctx))
	info := e.taskInfo(task)
	if info.State != types.TaskInfoStateError || !info.Cancelled || info.Cancelable || info.CompleteTime == nil {
		t.Fatalf("a cancelled task: state %s, cancelled %v, cancelable %v, completeTime %v", info.State, info.Cancelled, info.Cancelable, info.CompleteTime)
	}
	expectFault(t, task.Wait(e.ctx), "RequestCanceled")
	time.Sleep(500 * time.Millisecond)
	if state := e.powerState(vm); state != types.VirtualMachinePowerStatePoweredOff {
		t.Fatalf("the call of a cancelled task was applied: the VM is %s", state)
	}
	if info := e.taskInfo(task); info.State != types.TaskInfoStateError {
		t.Fatalf("the cancelled task became %s", info.State)
	}
	if calls := adminCalls(t); calls["PowerOnVM_Task"] != 1 {
		t.Fatalf("calls = %v, want PowerOnVM_Task: 1", calls)
	}

	// A task that has ended fails CancelTask as vcsim's own tasks do (MethodNotFound: vcsim 0.24
	// cancels no task), whether it ended by a cancel or by its applied call.
	expectFault(t, task.Cancel(e.ctx), "MethodNotFound")
	task = e.slowPowerOn(vm, 100)
	e.must(task.Wait(e.ctx))
	expectFault(t, task.Cancel(e.ctx), "MethodNotFound")
	own, err := vm.PowerOff(e.ctx)
	e.must(err)
	expectFault(t, own.Cancel(e.ctx), "MethodNotFound")
}

func TestAPropertyCollectorFilterSeesASlowTaskFinish(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	task := e.slowPowerOn(vm, 600)

	pc, err := property.DefaultCollector(e.client.Client).Create(e.ctx)
	e.must(err)
	defer func() { _ = pc.Destroy(e.ctx) }()
	e.must(pc.CreateFilter(e.ctx, types.CreateFilter{Spec: types.PropertyFilterSpec{
		PropSet:   []types.PropertySpec{{Type: "Task", PathSet: []string{"info.state"}}},
		ObjectSet: []types.ObjectSpec{{Obj: task.Reference()}},
	}}))
	var seen []types.TaskInfoState
	version := ""
	for len(seen) == 0 || seen[len(seen)-1] == types.TaskInfoStateRunning {
		if len(seen) > 3 {
			t.Fatalf("states seen: %v", seen)
		}
		set, err := pc.WaitForUpdates(e.ctx, version)
		e.must(err)
		version = set.Version
		for _, fs := range set.FilterSet {
			for _, o := range fs.ObjectSet {
				for _, c := range o.ChangeSet {
					if c.Name == "info.state" {
						seen = append(seen, c.Val.(types.TaskInfoState))
					}
				}
			}
		}
	}
	if len(seen) != 2 || seen[0] != types.TaskInfoStateRunning || seen[1] != types.TaskInfoStateSuccess {
		t.Fatalf("states seen through the filter: %v, want [running success]", seen)
	}
	if state := e.powerState(vm); state != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("the VM is %s", state)
	}
}

func TestASlowTaskOutlivesItsSession(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	task := e.slowPowerOn(vm, 300)
	// As on vCenter, a task goes on after the session that started it has ended.
	mustAdmin(t, "expire-sessions", nil)
	fresh := newEnv(t)
	e.must(object.NewTask(fresh.client.Client, task.Reference()).Wait(fresh.ctx))
	if state := fresh.powerState(fresh.vmObject(vm.Reference())); state != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("the VM is %s", state)
	}
}

func TestResetForgetsPlannedSlowTasksButRunningOnesFinish(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	a, b := e.createVM(), e.createVM()
	// A task fault comes first; the slow task waits for the next call.
	mustAdmin(t, "slow-task", map[string]interface{}{"method": "PowerOnVM_Task", "ms": 400, "count": 2})
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "HostCommunication"})
	task, err := a.PowerOn(e.ctx)
	e.expectFailedTask(task, err, "HostCommunication")
	task, err = a.PowerOn(e.ctx)
	e.expectRunning(task, err, "PowerOnVM_Task", "VirtualMachine.powerOn", a.Reference())
	mustAdmin(t, "reset", nil)
	other, err := b.PowerOn(e.ctx)
	e.must(err)
	if info := e.taskInfo(other); info.State != types.TaskInfoStateSuccess {
		t.Fatalf("a call after reset answered with a task in state %s", info.State)
	}
	e.must(task.Wait(e.ctx))
	if state := e.powerState(a); state != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("the slow task that ran across the reset left the VM %s", state)
	}
}

func TestSlowTaskRefusesBadArguments(t *testing.T) {
	for _, body := range []map[string]interface{}{
		{"method": "CurrentTime", "ms": 10},
		{"method": "NoSuchMethod_Task", "ms": 10},
		{"method": "PowerOnVM_Task", "ms": 0},
		{"method": "PowerOnVM_Task"},
		{"method": "PowerOnVM_Task", "ms": -5},
		{"method": "PowerOnVM_Task", "ms": 600001},
		{"method": "PowerOnVM_Task", "ms": int64(1) << 62},
		{"method": "PowerOnVM_Task", "ms": 10, "count": -1},
		{"ms": 10},
	} {
		if status, text := admin(t, "slow-task", body); status != http.StatusBadRequest {
			t.Fatalf("slow-task %v: %d %s, want 400", body, status, text)
		}
	}
}
