package main

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// answerWithFailedTask answers a *_Task call the way vCenter reports a fault its task meets: the
// call succeeds and returns a task whose info.state is error and info.error.fault is fault.
// Nothing else is changed; the call is not passed to vcsim.
func answerWithFailedTask(w http.ResponseWriter, call *simulator.Method, fault types.BaseMethodFault) {
	if !isTaskMethod(call.Name) {
		http.Error(w, fmt.Sprintf("vcsim harness: %s does not return a task", call.Name), http.StatusInternalServerError)
		return
	}
	writeSOAPResponse(w, call.Name+"Response", &taskResponse{Returnval: failedTask(call, fault)})
}

// taskResponse is the response of every vim25 *_Task method.
type taskResponse struct {
	Returnval types.ManagedObjectReference `xml:"returnval"`
}

// isTaskMethod says whether method is a vim25 method that returns a task.
func isTaskMethod(method string) bool {
	if !strings.HasSuffix(method, "_Task") {
		return false
	}
	t, ok := vimType(method)
	return ok && t.Kind() == reflect.Struct
}

// failedTask creates a task for call and runs it to its failure.
func failedTask(call *simulator.Method, fault types.BaseMethodFault) types.ManagedObjectReference {
	// A description no RegisterObject handler knows, so that none wraps this task; the real
	// one is set before anyone can see the task.
	task := simulator.CreateTask(call.This, "portlayerInjectedFault", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, fault
	})
	task.Info.Name = call.Name
	task.Info.DescriptionId = call.This.Type + "." + taskDescription(call.Name)
	return task.Run()
}

// vcsimDescriptions are the descriptionIds vcsim 0.24 gives the tasks of these methods, where
// they do not follow from the method's name.
var vcsimDescriptions = map[string]string{
	"PowerOnVM_Task":          "powerOn",
	"PowerOffVM_Task":         "powerOff",
	"SuspendVM_Task":          "suspend",
	"ResetVM_Task":            "reset",
	"RevertToSnapshot_Task":   "revertSnapshot",
	"RemoveAllSnapshots_Task": "RemoveAllSnapshots",
	"PowerOnMultiVM_Task":     "powerOnMultiVM",
	"CloneVApp_Task":          "cloneVapp",
}

// taskDescription turns a method name into the last part of a task's descriptionId as vcsim
// gives it: "ReconfigVM_Task" → "reconfigVm", "PowerOnVM_Task" → "powerOn".
func taskDescription(method string) string {
	if id, ok := vcsimDescriptions[method]; ok {
		return id
	}
	id := strings.Replace(strings.TrimSuffix(method, "_Task"), "VM", "Vm", 1)
	if id == "" {
		return id
	}
	return strings.ToLower(id[:1]) + id[1:]
}

// requestedPowerState is the power state each power method asks for.
var requestedPowerState = map[string]types.VirtualMachinePowerState{
	"PowerOnVM_Task":  types.VirtualMachinePowerStatePoweredOn,
	"PowerOffVM_Task": types.VirtualMachinePowerStatePoweredOff,
	"SuspendVM_Task":  types.VirtualMachinePowerStateSuspended,
	"ResetVM_Task":    types.VirtualMachinePowerStatePoweredOn,
}

// detailFault fills in what vCenter puts in these faults and what the call tells: the name a
// DuplicateName is about, the power states of an InvalidPowerState.
func detailFault(fault types.BaseMethodFault, call *simulator.Method) {
	switch f := fault.(type) {
	case *types.DuplicateName:
		if claim, ok := vmNameClaim(call); ok {
			f.Name = claim.name
		}
	case *types.InvalidPowerState:
		f.RequestedState = requestedPowerState[call.Name]
		if vm := vmOf(call.This); vm != nil {
			simulator.Map.WithLock(vm, func() { f.ExistingState = vm.Runtime.PowerState })
		}
	}
}
