package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

func admin(t *testing.T, path string, body interface{}) (int, string) {
	t.Helper()
	data, _ := json.Marshal(body)
	res, err := http.Post(testHarness.ready.AdminURL+"/"+path, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(res.Body)
	return res.StatusCode, out.String()
}

func mustAdmin(t *testing.T, path string, body interface{}) {
	t.Helper()
	if status, text := admin(t, path, body); status != http.StatusOK {
		t.Fatalf("admin %s: %d %s", path, status, text)
	}
}

func resetFaults(t *testing.T) {
	mustAdmin(t, "reset", nil)
	t.Cleanup(func() { mustAdmin(t, "reset", nil) })
}

func TestFailNextFailsTheNextCallsOfAMethodWithTheNamedFaultAndAppliesNothing(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	mustAdmin(t, "fail", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "InvalidState", "count": 2})
	for i := 0; i < 2; i++ {
		_, err := vm.PowerOn(e.ctx)
		expectFault(t, err, "InvalidState")
	}
	if m := e.props(vm, "runtime.powerState"); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		t.Fatal("a failed call was applied")
	}
	e.powerOn(vm)

	mustAdmin(t, "fail", map[string]interface{}{"method": "RetrievePropertiesEx", "fault": "ManagedObjectNotFound"})
	_, err := methods.RetrievePropertiesEx(e.ctx, e.client.Client, &types.RetrievePropertiesEx{
		This: e.client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			PropSet:   []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
			ObjectSet: []types.ObjectSpec{{Obj: vm.Reference()}},
		}},
	})
	expectFault(t, err, "ManagedObjectNotFound")
	if obj := soapFaultObj(err); obj != e.client.ServiceContent.PropertyCollector {
		t.Fatalf("the injected fault names %v, want the called object", obj)
	}
}

func soapFaultObj(err error) types.ManagedObjectReference {
	if f, ok := faultOf(err).(*types.ManagedObjectNotFound); ok {
		return f.Obj
	}
	if f, ok := faultOf(err).(types.ManagedObjectNotFound); ok {
		return f.Obj
	}
	return types.ManagedObjectReference{}
}

func TestDelayDelaysEveryCallOfAMethodUntilRemoved(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	mustAdmin(t, "delay", map[string]interface{}{"method": "CurrentTime", "ms": 300})
	for i := 0; i < 2; i++ {
		began := time.Now()
		_, err := methods.GetCurrentTime(e.ctx, e.client.Client)
		e.must(err)
		if d := time.Since(began); d < 300*time.Millisecond {
			t.Fatalf("a delayed call took %s", d)
		}
	}
	mustAdmin(t, "delay", map[string]interface{}{"method": "CurrentTime", "ms": 0})
	began := time.Now()
	_, err := methods.GetCurrentTime(e.ctx, e.client.Client)
	e.must(err)
	if d := time.Since(began); d > 200*time.Millisecond {
		t.Fatalf("a call after the delay was removed took %s", d)
	}
}

func TestDropResponseAppliesTheCallButNeverAnswers(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	mustAdmin(t, "drop", map[string]interface{}{"method": "PowerOnVM_Task"})
	_, err := vm.PowerOn(e.ctx)
	if err == nil || faultName(err) != "error: "+err.Error() {
		t.Fatalf("a dropped response should fail at the transport, got %v", err)
	}
	if m := e.props(vm, "runtime.powerState"); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatal("the call whose response was dropped was not applied")
	}
	e.powerOff(vm) // the next call is answered again
}

func TestExpireSessionsMakesTheNextCallFailWithNotAuthenticated(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	_, err := methods.GetCurrentTime(e.ctx, e.client.Client)
	e.must(err)
	status, text := admin(t, "expire-sessions", nil)
	if status != http.StatusOK || !strings.Contains(text, `"expired"`) {
		t.Fatalf("expire-sessions: %d %s", status, text)
	}
	_, err = methods.GetCurrentTime(e.ctx, e.client.Client)
	expectFault(t, err, "NotAuthenticated")
	// A new login works.
	newEnv(t)
}

func TestCallsAreCountedAndResetClearsThePlan(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	mustAdmin(t, "fail", map[string]interface{}{"method": "CurrentTime", "fault": "NotAuthenticated"})
	mustAdmin(t, "drop", map[string]interface{}{"method": "CurrentTime"})
	mustAdmin(t, "delay", map[string]interface{}{"method": "CurrentTime", "ms": 1000})
	mustAdmin(t, "delay-response", map[string]interface{}{"method": "CurrentTime", "ms": 1000})
	mustAdmin(t, "fail-task", map[string]interface{}{"method": "PowerOnVM_Task", "fault": "HostCommunication"})
	mustAdmin(t, "reset", nil)
	vm := e.createVM()
	e.powerOn(vm)
	for i := 0; i < 3; i++ {
		began := time.Now()
		_, err := methods.GetCurrentTime(e.ctx, e.client.Client)
		e.must(err)
		if d := time.Since(began); d > 500*time.Millisecond {
			t.Fatalf("a call after reset took %s", d)
		}
	}
	res, err := http.Get(testHarness.ready.AdminURL + "/calls")
	e.must(err)
	defer res.Body.Close()
	var calls map[string]int
	e.must(json.NewDecoder(res.Body).Decode(&calls))
	if calls["CurrentTime"] != 3 {
		t.Fatalf("calls = %v, want CurrentTime: 3", calls)
	}
}

func TestTheAdminEndpointRefusesBadRequestsAndNonLoopbackClients(t *testing.T) {
	if status, _ := admin(t, "fail", map[string]interface{}{"method": "CurrentTime", "fault": "NoSuchFault"}); status != http.StatusBadRequest {
		t.Fatalf("unknown fault: %d, want 400", status)
	}
	if status, _ := admin(t, "fail", map[string]interface{}{"method": "CurrentTime", "fault": "ManagedObjectReference"}); status != http.StatusBadRequest {
		t.Fatalf("a type that is not a fault: %d, want 400", status)
	}
	if status, _ := admin(t, "delay", map[string]interface{}{"method": "CurrentTime", "ms": int64(1) << 62}); status != http.StatusBadRequest {
		t.Fatalf("a delay beyond a day: %d, want 400", status)
	}
	if status, _ := admin(t, "drop", map[string]interface{}{"count": 1}); status != http.StatusBadRequest {
		t.Fatalf("no method: %d, want 400", status)
	}
	handler := adminHandler(newFaultPlan(), &sessionKeys{})
	req := httptest.NewRequest(http.MethodPost, "/admin/reset", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("a non-loopback client got %d, want 403", rec.Code)
	}
}

func TestADelayedCallIsAppliedEvenWhenTheClientGivesUp(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	mustAdmin(t, "delay", map[string]interface{}{"method": "PowerOnVM_Task", "ms": 300})
	ctx, cancel := context.WithTimeout(e.ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := vm.PowerOn(ctx); err == nil {
		t.Fatal("the call returned before its delay")
	}
	time.Sleep(400 * time.Millisecond)
	if m := e.props(vm, "runtime.powerState"); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatal("a delayed call was dropped when its client gave up")
	}
}

func TestDelayResponseAppliesTheCallAtOnceAndAnswersLate(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	vm := e.createVM()
	mustAdmin(t, "delay-response", map[string]interface{}{"method": "PowerOnVM_Task", "ms": 1500})
	ctx, cancel := context.WithTimeout(e.ctx, 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if _, err := vm.PowerOn(ctx); err == nil {
		t.Fatal("the call was answered before its hold-back")
	}
	// Unlike delay, the change has landed before the client's deadline passed.
	if m := e.props(vm, "runtime.powerState"); m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatal("a call whose answer is held back was not applied at once")
	}
	if d := time.Since(began); d > 1200*time.Millisecond {
		t.Fatalf("reading the state took until %s: it waited for the held answer", d)
	}
	// The next call (count defaults to 1) is answered at once.
	began = time.Now()
	e.powerOff(vm)
	if d := time.Since(began); d > 800*time.Millisecond {
		t.Fatalf("the call after the held one took %s", d)
	}

	// A patient client gets the answer, ms later; count holds back that many calls.
	mustAdmin(t, "delay-response", map[string]interface{}{"method": "PowerOnVM_Task", "ms": 500, "count": 2})
	for i := 0; i < 2; i++ {
		began = time.Now()
		e.powerOn(vm)
		if d := time.Since(began); d < 500*time.Millisecond {
			t.Fatalf("held answer %d came after %s", i, d)
		}
		e.powerOff(vm)
	}
	began = time.Now()
	e.powerOn(vm)
	if d := time.Since(began); d > 400*time.Millisecond {
		t.Fatalf("the third call took %s", d)
	}
}

func TestAHeldAnswerHoldsUpNoOtherCall(t *testing.T) {
	resetFaults(t)
	e := newEnv(t)
	mustAdmin(t, "delay-response", map[string]interface{}{"method": "CreateVM_Task", "ms": 2500})
	done := make(chan error, 1)
	go func() {
		_, err := e.createIn(e.folder, uniqueName("held"))
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	// Another create in the same folder (whose name check locks the folder) is not held up.
	other := newEnv(t)
	began := time.Now()
	if _, err := other.createIn(other.folder, uniqueName("not-held")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 1500*time.Millisecond {
		t.Fatalf("a create waited %s for another's held answer", d)
	}
	e.must(<-done)
}

func TestDelayResponseRefusesBadArguments(t *testing.T) {
	for _, body := range []map[string]interface{}{
		{"method": "PowerOnVM_Task", "ms": 0},
		{"method": "PowerOnVM_Task", "ms": -5},
		{"method": "PowerOnVM_Task", "ms": 600001},
		{"method": "PowerOnVM_Task", "ms": int64(1) << 62},
		{"method": "PowerOnVM_Task", "ms": 10, "count": -1},
		{"ms": 10},
	} {
		if status, text := admin(t, "delay-response", body); status != http.StatusBadRequest {
			t.Fatalf("delay-response %v: %d %s, want 400", body, status, text)
		}
	}
}
