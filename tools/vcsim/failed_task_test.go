package main

import (
	"net/http"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// taskInfo reads a task's info.
func (e *env) taskInfo(task *object.Task) types.TaskInfo {
	e.t.Helper()
	var m mo.Task
	e.must(e.client.RetrieveOne(e.ctx, task.Reference(), []string{"info"}, &m))
	return m.Info
}

// expectFailedTask checks that a *_Task call succeeded and returned a task that failed with
// fault, and returns the task's error.
func (e *env) expectFailedTask(task *object.Task, err error, fault string) error {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("the call itself should succeed and return a failed task; got %v", err)
	}
	info := e.taskInfo(task)
	if info.State != types.TaskInfoStateError || info.Error == nil {
		e.t.Fatalf("task state %s, error %v; want error", info.State, info.Error)
	}
	werr := task.Wait(e.ctx)
	expectFault(e.t, werr, fault)
	if !isTaskError(werr) {
		e.t.Fatalf("want a task error, got %T", werr)
	}
	return werr
}

func TestFailTaskAnswersWithAFailedTaskAndChangesNothing(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	for _, fault := range []string{"NotAuthenticated", "ConcurrentAccess", "HostCommunication"} {
		mustAdmin(t, "fail-task", map[string]interface{}{"method": "PowerOnVM_Task", "fault": fault})
		task, err := vm.PowerOn(e.ctx)
		e.expectFailedTask(task, err, fault)
		if info := e.taskInfo(task); info.Entity == nil || *info.Entity != vm.Reference() || info.Name != "PowerOnVM_Task" {
			t.Fatalf("task entity %v, name %s; want the VM and PowerOnVM_Task", info.Entity, info.Name)
		}
		if m := e.props(vm, "runtime.powerState"); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			t.Fatalf("a %s task fault was applied", fault)
		}
	}
	e.powerOn(vm) // the next call is served again

	// InvalidPowerState names the states.
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "InvalidPowerState"})
	task, err := vm.PowerOn(e.ctx)
	werr := e.expectFailedTask(task, err, "InvalidPowerState")
	var ips *types.InvalidPowerState
	switch f := faultOf(werr).(type) {
	case *types.InvalidPowerState:
		ips = f
	case types.InvalidPowerState:
		ips = &f
	}
	if ips == nil || ips.ExistingState != types.VirtualMachinePowerStatePoweredOn || ips.RequestedState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("InvalidPowerState %+v; want existing and requested poweredOn", ips)
	}

	// ConcurrentAccess on a reconfigure leaves the config and its changeVersion alone.
	before := e.props(vm, "config.changeVersion", "config.annotation")
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "ReconfigVM_Task", "fault": "ConcurrentAccess"})
	task, err = vm.Reconfigure(e.ctx, types.VirtualMachineConfigSpec{Annotation: "must not land"})
	e.expectFailedTask(task, err, "ConcurrentAccess")
	after := e.props(vm, "config.changeVersion", "config.annotation")
	if after.Config.ChangeVersion != before.Config.ChangeVersion || after.Config.Annotation != before.Config.Annotation {
		t.Fatal("a reconfigure answered with a failed task was applied")
	}
}

func TestFailTaskDuplicateNameOnCreateMakesNoVMAndNamesTheName(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	name := uniqueName("failtask-create")
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "CreateVM_Task", "fault": "DuplicateName", "count": 2})
	for i := 0; i < 2; i++ {
		_, err := e.createIn(e.folder, name)
		expectFault(t, err, "DuplicateName")
		if !isTaskError(err) {
			t.Fatalf("want a task error, got %T", err)
		}
		if f, ok := faultOf(err).(*types.DuplicateName); !ok || f.Name != name {
			t.Fatalf("DuplicateName %+v, want name %s", faultOf(err), name)
		}
		if got := e.named(e.folder, name); len(got) != 0 {
			t.Fatalf("a create answered with a failed task made %v", got)
		}
	}
	if _, err := e.createIn(e.folder, name); err != nil {
		t.Fatalf("the third create should be served: %v", err)
	}
}

func TestASOAPFaultComesBeforeATaskFaultAndAnExpiredSessionGetsNoTask(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "HostCommunication"})
	mustAdmin(t, "fail", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "InvalidState"})
	_, err := vm.PowerOn(e.ctx)
	expectFault(t, err, "InvalidState")
	if isTaskError(err) {
		t.Fatal("failNext should answer with a SOAP fault")
	}

	// The task fault waits for a call of a live session.
	mustAdmin(t, "expire-sessions", nil)
	_, err = vm.PowerOn(e.ctx)
	expectFault(t, err, "NotAuthenticated")
	if isTaskError(err) {
		t.Fatal("an expired session should get vcsim's SOAP fault, not a task")
	}
	fresh := newEnv(t)
	vm = fresh.vmObject(vm.Reference())
	task, err := vm.PowerOn(fresh.ctx)
	fresh.expectFailedTask(task, err, "HostCommunication")
	fresh.powerOn(vm)
}

func TestFailTaskRefusesMethodsThatReturnNoTaskAndUnknownFaults(t *testing.T) {
	for _, body := range []map[string]interface{}{
		{"method": "CurrentTime", "fault": "NotAuthenticated"},
		{"method": "NoSuchMethod_Task", "fault": "NotAuthenticated"},
		{"method": "PowerOnVM_Task", "fault": "NoSuchFault"},
		{"method": "PowerOnVM_Task", "fault": "NotAuthenticated", "count": -1},
		{"fault": "NotAuthenticated"},
	} {
		if status, text := admin(t, "fail-task", body); status != http.StatusBadRequest {
			t.Fatalf("fail-task %v: %d %s, want 400", body, status, text)
		}
	}
}
