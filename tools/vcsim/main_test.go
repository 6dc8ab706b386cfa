package main

// The harness's tests run it in-process (one harness for the package: vcsim's registry is
// global) and speak to it over HTTP with govmomi's own client. Run them with
//   GO111MODULE=off GOPATH=/usr/share/gocode go test ./tools/vcsim
// (packages/vcsim's vitest suite runs them too, and fails when they fail).

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

var (
	testHarness *harness
	vmCounter   int64
)

func TestMain(m *testing.M) {
	h, err := start(options{exitedRetention: 5 * time.Minute})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testHarness = h
	code := m.Run()
	h.close()
	os.Exit(code)
}

// env is one test's client and the inventory it works in.
type env struct {
	t      *testing.T
	ctx    context.Context
	client *govmomi.Client
	folder *object.Folder
	pool   *object.ResourcePool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	u, err := soap.ParseURL(testHarness.ready.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(testHarness.ready.Username, testHarness.ready.Password)
	client, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Logout(context.Background()) })
	finder := find.NewFinder(client.Client)
	folder, err := finder.Folder(ctx, "/DC0/vm")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := finder.ResourcePool(ctx, "/DC0/host/DC0_C0/Resources")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, client: client, folder: folder, pool: pool}
}

func option(key, value string) types.BaseOptionValue {
	return &types.OptionValue{Key: key, Value: value}
}

// createVM makes a new powered-off VM with the given extraConfig.
func (e *env) createVM(extra ...types.BaseOptionValue) *object.VirtualMachine {
	e.t.Helper()
	name := fmt.Sprintf("test-vm-%d", atomic.AddInt64(&vmCounter, 1))
	spec := types.VirtualMachineConfigSpec{
		Name:        name,
		GuestId:     string(types.VirtualMachineGuestOsIdentifierOtherGuest),
		Files:       &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"},
		ExtraConfig: extra,
	}
	t, err := e.folder.CreateVM(e.ctx, spec, e.pool, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := t.WaitForResult(e.ctx, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return object.NewVirtualMachine(e.client.Client, info.Result.(types.ManagedObjectReference))
}

func (e *env) finder() *find.Finder {
	f := find.NewFinder(e.client.Client)
	return f
}

func (e *env) vmObject(ref types.ManagedObjectReference) *object.VirtualMachine {
	return object.NewVirtualMachine(e.client.Client, ref)
}

func (e *env) wait(t *object.Task, err error) error {
	if err != nil {
		return err
	}
	return t.Wait(e.ctx)
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) powerOn(vm *object.VirtualMachine) {
	e.t.Helper()
	e.must(e.wait(vm.PowerOn(e.ctx)))
}

func (e *env) powerOff(vm *object.VirtualMachine) {
	e.t.Helper()
	e.must(e.wait(vm.PowerOff(e.ctx)))
}

func (e *env) props(vm *object.VirtualMachine, paths ...string) mo.VirtualMachine {
	e.t.Helper()
	var m mo.VirtualMachine
	e.must(vm.Properties(e.ctx, vm.Reference(), paths, &m))
	return m
}

// faultName names the vim25 fault of a SOAP fault or a task error ("" for nil).
func faultName(err error) string {
	if err == nil {
		return ""
	}
	fault := faultOf(err)
	if fault == nil {
		return "error: " + err.Error()
	}
	return strings.TrimSuffix(reflect.Indirect(reflect.ValueOf(fault)).Type().Name(), "Fault")
}

func faultOf(err error) interface{} {
	switch {
	case soap.IsSoapFault(err):
		return soap.ToSoapFault(err).VimFault()
	case isTaskError(err):
		return err.(task.Error).Fault()
	}
	return nil
}

func isTaskError(err error) bool {
	_, ok := err.(task.Error)
	return ok
}

func expectFault(t *testing.T, err error, want string) {
	t.Helper()
	if got := faultName(err); got != want {
		t.Fatalf("expected fault %s, got %s", want, got)
	}
}

// extraConfig returns a VM's extraConfig as key → value, failing on duplicate keys.
func (e *env) extraConfig(vm *object.VirtualMachine) map[string]string {
	e.t.Helper()
	m := e.props(vm, "config.extraConfig")
	out := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		v := o.GetOptionValue()
		if _, dup := out[v.Key]; dup {
			e.t.Fatalf("extraConfig has key %s twice", v.Key)
		}
		out[v.Key] = fmt.Sprint(v.Value)
	}
	return out
}
