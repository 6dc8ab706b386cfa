// Command govmomi-peer is the measuring stick of issue 11: the vSphere work of one portlayer
// container lifecycle, written by hand with govmomi the way a careful Go programmer would, so
// `pnpm bench:vsphere` can run it beside PortLayerVsphere against one vcsim harness.
//
// Built like tools/vcsim: Debian's Go and govmomi 0.24 in GOPATH mode, no module downloads:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS=-buildvcs=false go build -o govmomi-peer .
//
// Connection (environment, so no password is on a command line): VC_URL, VC_USERNAME,
// VC_PASSWORD, GUEST_USERNAME, GUEST_PASSWORD, and for https VC_THUMBPRINT (the SHA-256
// thumbprint the harness prints, pinned) or VC_INSECURE=1, which is refused unless the host is
// a loopback address.
//
// Inventory (flags, defaults as the bench configures the backend): -folder, -pool, -datastore,
// and -datacenter, the dcPath of the datastore URLs the output is kept at.
//
// Once per run (not timed): log in, resolve the folder, the resource pool and the guest process
// and file managers. Then per lifecycle (timed), each change as one call and every task awaited
// with govmomi's own task.Wait (a property collector, a filter, WaitForUpdatesEx, destroying the
// collector: four calls per task):
//
//  1. CreateVM_Task with the limits (memoryMB 256, CPU limit 500 MHz) and extraConfig: the
//     container's identity (id, name, created), its limits and entry point (with the main
//     process's id) as JSON, and a small file inline (base64 in JSON), as the backend records a
//     create-handle's pending file.
//  2. PowerOnVM_Task.
//  3. One property read: guest.toolsRunningStatus and config.changeVersion (tools are up at once
//     on the harness; otherwise it waits for them with property.Wait).
//  4. The file into the guest: InitiateFileTransferToGuest, then an HTTP PUT.
//  5. StartProgramInGuest of the entry point (/bin/sleep 3600 in /) through /bin/sh, its stdout
//     and stderr in /var/log/portlayer/<processId>.{stdout,stderr}, the command line quoted as
//     the backend's captureCommand quotes it.
//  6. ReconfigVM_Task guarded by that changeVersion: the run recorded (pid, start time), the
//     pending file cleared.
//  7. Read state: one property read (changeVersion, extraConfig, powerState) and
//     ListProcessesInGuest of the main pid.
//  8. Stop: StartProgramInGuest of /bin/kill -15 <pid> (no working directory, as the backend),
//     ListProcessesInGuest until it has ended (every 20 ms, up to 10 s); then the output kept:
//     for stdout and stderr at once (as the backend does), InitiateFileTransferFromGuest and,
//     unless the file is empty, an HTTP GET of it and an HTTP PUT of it to the datastore at
//     portlayer-output/<containerId>/<processId>.<stream>; then PowerOffVM_Task and
//     ReconfigVM_Task guarded by the version of step 7 recording the exit code.
//  9. Destroy_Task, then an HTTP DELETE of both kept files at once (as the backend does).
//
// Per lifecycle that is 39 SOAP calls on the harness: 6 tasks, each its own call and govmomi's
// four-call wait (30); 2 property reads; 2 StartProgramInGuest; 2 ListProcessesInGuest (more
// where the exit is not seen at the first look); 1 InitiateFileTransferToGuest; 2
// InitiateFileTransferFromGuest. Beside them, 3 HTTP transfers (the file in; 2 DELETEs; a GET and
// a PUT more per output stream that is not empty — /bin/sleep writes nothing). Its own count ("soapCalls", "calls") covers SOAP requests only, and
// HTTP transfers are counted apart ("transfers"), as the bench keeps them out of the SOAP count.
//
// What it leaves out, compared with the backend (so its counts are a floor, not the same
// guarantees): no lookup by name before the create (it relies on DuplicateName only); no
// `starting`/`stopping` records written before power-on and before the SIGTERM (it records a run
// only once it has a pid, and its end only after power-off); no re-read that checks, after the
// tools came up, that the run is still its own, nor the read before the output is kept that
// checks the run is still the stop's; no destroy claim (a guarded reconfigure that makes
// destroys exclusive); no commit tokens; no retries or reconciliation of lost answers. A failed
// output transfer ends the run rather than being reported and passed over as the backend does
// (a missing file would mean the peer did less work than it is measured for); a DELETE of a file
// already gone counts as done, as in the backend. It also skips govmomi's
// guest.FileManager.TransferURL (which reads the VM and its host to find the ESX address) and
// replaces the "*" host of a guest transfer URL with the host it connected to, as vSphere
// documents for that placeholder, and it obtains the guest managers once rather than per VM
// (guest.OperationsManager's getters are one property read each).
//
// With -handshake it prints {"ready":true} after logging in, waits for a line on stdin before
// the first lifecycle, prints the result as one JSON line, then waits for stdin to close before
// logging out, so the caller can read the server's counters around the lifecycles alone.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

const keyPrefix = "guestinfo.peer."

const (
	// outputDir is where the guest keeps the output of processes (the backend's OUTPUT_DIR).
	outputDir = "/var/log/portlayer"
	// outputFolder is the datastore folder of kept output (the backend's OUTPUT_FOLDER).
	outputFolder = "portlayer-output"
)

// counter counts the SOAP requests that go through the vim25 client, by method.
type counter struct {
	rt    soap.RoundTripper
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	name := strings.TrimSuffix(reflect.TypeOf(req).Elem().Name(), "Body")
	c.mu.Lock()
	c.calls[name]++
	c.mu.Unlock()
	return c.rt.RoundTrip(ctx, req, res)
}

func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.calls
	c.calls = map[string]int{}
	return old
}

type peer struct {
	soap       *soap.Client
	vc         *vim25.Client
	count      *counter
	folder     *object.Folder
	pool       *object.ResourcePool
	datastore  string
	datacenter string
	procs      types.ManagedObjectReference
	files      types.ManagedObjectReference
	auth       types.BaseGuestAuthentication
	transfers  int64
}

type result struct {
	Lifecycles            int            `json:"lifecycles"`
	InFlight              int            `json:"inFlight"`
	WallMs                float64        `json:"wallMs"`
	PerLifecycleMs        float64        `json:"perLifecycleMs"`
	CPUMs                 float64        `json:"cpuMs"`
	CPUPerLifecycleMs     float64        `json:"cpuPerLifecycleMs"`
	SoapCalls             int            `json:"soapCalls"`
	SoapCallsPerLifecycle float64        `json:"soapCallsPerLifecycle"`
	Calls                 map[string]int `json:"calls"`
	Transfers             int64          `json:"transfers"`
}

func main() {
	n := flag.Int("n", 10, "lifecycles to run")
	inFlight := flag.Int("inflight", 1, "lifecycles in flight at once")
	handshake := flag.Bool("handshake", false, "print ready, wait for a line on stdin before starting and for stdin's end before logging out")
	folderPath := flag.String("folder", "DC0/vm", "inventory path of the VM folder")
	poolPath := flag.String("pool", "DC0/host/DC0_C0/Resources", "inventory path of the resource pool")
	datastore := flag.String("datastore", "LocalDS_0", "datastore name")
	datacenter := flag.String("datacenter", "DC0", "inventory path of the datacenter (the dcPath of datastore URLs)")
	flag.Parse()
	if *n < 1 || *inFlight < 1 {
		fail(errors.New("-n and -inflight must be at least 1"))
	}

	ctx := context.Background()
	p, err := connect(ctx, *folderPath, *poolPath, *datastore, *datacenter)
	if err != nil {
		fail(err)
	}
	stdin := bufio.NewReader(os.Stdin)
	if *handshake {
		fmt.Println(`{"ready":true}`)
		if _, err := stdin.ReadString('\n'); err != nil {
			fail(fmt.Errorf("waiting for the go-ahead: %w", err))
		}
	}

	p.count.reset()
	cpu0 := cpuTime()
	began := time.Now()
	var next int64
	var wg sync.WaitGroup
	errs := make(chan error, *inFlight)
	for w := 0; w < *inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= int64(*n) {
				if err := p.lifecycle(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(began)
	cpu := cpuTime() - cpu0
	calls := p.count.reset()
	close(errs)
	if err := <-errs; err != nil {
		fail(err)
	}

	total := 0
	for _, v := range calls {
		total += v
	}
	r := result{
		Lifecycles:            *n,
		InFlight:              *inFlight,
		WallMs:                ms(wall),
		PerLifecycleMs:        ms(wall) / float64(*n),
		CPUMs:                 ms(cpu),
		CPUPerLifecycleMs:     ms(cpu) / float64(*n),
		SoapCalls:             total,
		SoapCallsPerLifecycle: float64(total) / float64(*n),
		Calls:                 calls,
		Transfers:             atomic.LoadInt64(&p.transfers),
	}
	out, _ := json.Marshal(r)
	fmt.Println(string(out))
	if *handshake {
		_, _ = io.Copy(io.Discard, stdin)
	}
	_ = session.NewManager(p.vc).Logout(ctx)
}

func connect(ctx context.Context, folderPath, poolPath, datastore, datacenter string) (*peer, error) {
	u, err := soap.ParseURL(os.Getenv("VC_URL"))
	if err != nil || u == nil {
		return nil, fmt.Errorf("VC_URL: not a URL")
	}
	u.User = nil
	thumbprint := normaliseThumbprint(os.Getenv("VC_THUMBPRINT"))
	insecure := os.Getenv("VC_INSECURE") == "1"
	if u.Scheme == "https" && thumbprint == "" && !(insecure && isLoopback(u.Hostname())) {
		return nil, errors.New("https needs VC_THUMBPRINT (SHA-256), or VC_INSECURE=1 for a loopback host")
	}
	// Skipping Go's chain check is safe here only because the pin below replaces it.
	sc := soap.NewClient(u, u.Scheme == "https")
	// net/http keeps 2 idle connections per host by default; lifecycles in flight would otherwise
	// open (and TLS-handshake) a new connection for most calls.
	sc.DefaultTransport().MaxIdleConnsPerHost = 16
	if thumbprint != "" {
		sc.DefaultTransport().TLSClientConfig.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no server certificate")
			}
			sum := sha256.Sum256(raw[0])
			if hex.EncodeToString(sum[:]) != thumbprint {
				return errors.New("server certificate does not match VC_THUMBPRINT")
			}
			return nil
		}
	}
	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("service content: %w", err)
	}
	count := &counter{rt: sc, calls: map[string]int{}}
	vc.RoundTripper = count
	if err := session.NewManager(vc).Login(ctx, url.UserPassword(os.Getenv("VC_USERNAME"), os.Getenv("VC_PASSWORD"))); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}

	index := object.NewSearchIndex(vc)
	folderRef, err := index.FindByInventoryPath(ctx, folderPath)
	if err != nil || folderRef == nil {
		return nil, fmt.Errorf("folder %s not found", folderPath)
	}
	poolRef, err := index.FindByInventoryPath(ctx, poolPath)
	if err != nil || poolRef == nil {
		return nil, fmt.Errorf("resource pool %s not found", poolPath)
	}
	folder, ok := folderRef.(*object.Folder)
	if !ok {
		return nil, fmt.Errorf("%s is not a folder", folderPath)
	}
	pool, ok := poolRef.(*object.ResourcePool)
	if !ok {
		return nil, fmt.Errorf("%s is not a resource pool", poolPath)
	}
	if vc.ServiceContent.GuestOperationsManager == nil {
		return nil, errors.New("the server has no guest operations manager")
	}
	var gom mo.GuestOperationsManager
	err = property.DefaultCollector(vc).RetrieveOne(ctx, *vc.ServiceContent.GuestOperationsManager,
		[]string{"processManager", "fileManager"}, &gom)
	if err != nil || gom.ProcessManager == nil || gom.FileManager == nil {
		return nil, fmt.Errorf("guest operations managers: %v", err)
	}
	return &peer{
		soap:       sc,
		vc:         vc,
		count:      count,
		folder:     folder,
		pool:       pool,
		datastore:  datastore,
		datacenter: datacenter,
		procs:      *gom.ProcessManager,
		files:      *gom.FileManager,
		auth: &types.NamePasswordAuthentication{
			Username: os.Getenv("GUEST_USERNAME"),
			Password: os.Getenv("GUEST_PASSWORD"),
		},
	}, nil
}

// lifecycle is one container from create to destroy; see the file comment for the steps.
func (p *peer) lifecycle(ctx context.Context) error {
	id := newID()
	seed := []byte("seed")
	files, _ := json.Marshal([]map[string]interface{}{
		{"dir": "/tmp", "name": "seed.txt", "perms": 0o644, "size": len(seed), "data": base64.StdEncoding.EncodeToString(seed)},
	})
	processID := newID()
	main, _ := json.Marshal(map[string]string{"processId": processID, "workDir": "/", "execPath": "/bin/sleep", "execArgs": "3600"})
	limit := int64(500)
	spec := types.VirtualMachineConfigSpec{
		Name:          "peer-" + id,
		GuestId:       "otherLinux64Guest",
		NumCPUs:       1,
		MemoryMB:      256,
		CpuAllocation: &types.ResourceAllocationInfo{Limit: &limit},
		Files:         &types.VirtualMachineFileInfo{VmPathName: "[" + p.datastore + "]"},
		ExtraConfig: options(
			"id", id,
			"name", "bench",
			"created", time.Now().UTC().Format(time.RFC3339Nano),
			"limits", `{"memoryMb":256,"cpuMhz":500}`,
			"main", string(main),
			"files", string(files),
		),
	}
	task, err := p.folder.CreateVM(ctx, spec, p.pool, nil)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	info, err := task.WaitForResult(ctx)
	if err != nil {
		return fmt.Errorf("create task: %w", err)
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return errors.New("create task: no VM in its result")
	}
	vm := object.NewVirtualMachine(p.vc, ref)

	// Start.
	if err := wait(ctx, vm.PowerOn); err != nil {
		return fmt.Errorf("power on: %w", err)
	}
	pc := property.DefaultCollector(p.vc)
	var seen mo.VirtualMachine
	if err := pc.RetrieveOne(ctx, ref, []string{"guest.toolsRunningStatus", "config.changeVersion"}, &seen); err != nil {
		return fmt.Errorf("tools: %w", err)
	}
	if seen.Guest == nil || seen.Guest.ToolsRunningStatus != string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		err := property.Wait(ctx, pc, ref, []string{"guest.toolsRunningStatus"}, func(changes []types.PropertyChange) bool {
			for _, c := range changes {
				if c.Val == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
					return true
				}
			}
			return false
		})
		if err != nil {
			return fmt.Errorf("waiting for tools: %w", err)
		}
		if err := pc.RetrieveOne(ctx, ref, []string{"config.changeVersion"}, &seen); err != nil {
			return fmt.Errorf("version: %w", err)
		}
	}
	if err := p.upload(ctx, ref, "/tmp/seed.txt", 0o644, seed); err != nil {
		return err
	}
	started := time.Now().UTC()
	program, args := captureCommand(processID, "/bin/sleep", "3600")
	pid, err := p.start(ctx, ref, program, args, "/")
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	run, _ := json.Marshal(map[string]interface{}{"phase": "started", "pid": pid, "startedAt": started.Format(time.RFC3339Nano)})
	if err := p.reconfigure(ctx, vm, seen.Config.ChangeVersion, "main.state", string(run), "files", ""); err != nil {
		return fmt.Errorf("recording the start: %w", err)
	}

	// Read state.
	var now mo.VirtualMachine
	if err := pc.RetrieveOne(ctx, ref, []string{"config.changeVersion", "config.extraConfig", "runtime.powerState"}, &now); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	procs, err := p.list(ctx, ref, pid)
	if err != nil {
		return fmt.Errorf("read processes: %w", err)
	}
	if now.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn || len(procs) != 1 || procs[0].EndTime != nil {
		return fmt.Errorf("read: the container is not running (%s, %d processes)", now.Runtime.PowerState, len(procs))
	}

	// Stop.
	if _, err := p.start(ctx, ref, "/bin/kill", fmt.Sprintf("-15 %d", pid), ""); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	exitCode := int32(137)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		procs, err := p.list(ctx, ref, pid)
		if err != nil {
			return fmt.Errorf("waiting for the exit: %w", err)
		}
		if len(procs) == 1 && procs[0].EndTime != nil {
			exitCode = procs[0].ExitCode
			break
		}
		if time.Now().After(deadline) {
			break
		}
	}
	// The guest's output files go with the VM, so they are kept on the datastore first: both
	// streams at once, as the backend copies them.
	streams := []string{"stdout", "stderr"}
	kept := make([]error, len(streams))
	var copies sync.WaitGroup
	for i, stream := range streams {
		copies.Add(1)
		go func(i int, stream string) {
			defer copies.Done()
			kept[i] = p.keepOutput(ctx, ref, id, processID, stream)
		}(i, stream)
	}
	copies.Wait()
	for _, err := range kept {
		if err != nil {
			return err
		}
	}
	if err := wait(ctx, vm.PowerOff); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	end, _ := json.Marshal(map[string]interface{}{"phase": "exited", "pid": pid, "exitCode": exitCode, "finishedAt": time.Now().UTC().Format(time.RFC3339Nano)})
	if err := p.reconfigure(ctx, vm, now.Config.ChangeVersion, "main.state", string(end)); err != nil {
		return fmt.Errorf("recording the stop: %w", err)
	}

	// Destroy.
	if err := wait(ctx, vm.Destroy); err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	return p.deleteOutput(ctx, id, processID)
}

func wait(ctx context.Context, call func(context.Context) (*object.Task, error)) error {
	task, err := call(ctx)
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

func (p *peer) reconfigure(ctx context.Context, vm *object.VirtualMachine, version string, kv ...string) error {
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeVersion: version, ExtraConfig: options(kv...)})
	if err != nil {
		return err
	}
	return task.Wait(ctx)
}

func (p *peer) start(ctx context.Context, vm types.ManagedObjectReference, path, args, dir string) (int64, error) {
	res, err := methods.StartProgramInGuest(ctx, p.vc, &types.StartProgramInGuest{
		This: p.procs,
		Vm:   vm,
		Auth: p.auth,
		Spec: &types.GuestProgramSpec{ProgramPath: path, Arguments: args, WorkingDirectory: dir},
	})
	if err != nil {
		return 0, err
	}
	return res.Returnval, nil
}

func (p *peer) list(ctx context.Context, vm types.ManagedObjectReference, pid int64) ([]types.GuestProcessInfo, error) {
	res, err := methods.ListProcessesInGuest(ctx, p.vc, &types.ListProcessesInGuest{This: p.procs, Vm: vm, Auth: p.auth, Pids: []int64{pid}})
	if err != nil {
		return nil, err
	}
	return res.Returnval, nil
}

func (p *peer) upload(ctx context.Context, vm types.ManagedObjectReference, path string, perms int64, data []byte) error {
	res, err := methods.InitiateFileTransferToGuest(ctx, p.vc, &types.InitiateFileTransferToGuest{
		This:           p.files,
		Vm:             vm,
		Auth:           p.auth,
		GuestFilePath:  path,
		FileAttributes: &types.GuestPosixFileAttributes{Permissions: perms},
		FileSize:       int64(len(data)),
		Overwrite:      true,
	})
	if err != nil {
		return fmt.Errorf("file transfer: %w", err)
	}
	target, err := p.guestURL(res.Returnval)
	if err != nil {
		return err
	}
	param := soap.DefaultUpload
	param.ContentLength = int64(len(data))
	atomic.AddInt64(&p.transfers, 1)
	if err := p.soap.Upload(ctx, strings.NewReader(string(data)), target, &param); err != nil {
		return fmt.Errorf("file upload: %w", err)
	}
	return nil
}

// guestURL is a guest file transfer URL with its "*" host (vSphere's "the host you connected
// to") replaced by that host, keeping the port the URL names.
func (p *peer) guestURL(raw string) (*url.URL, error) {
	target, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("file transfer URL: %w", err)
	}
	if target.Hostname() == "*" {
		target.Host = net.JoinHostPort(p.soap.URL().Hostname(), target.Port())
	}
	return target, nil
}

// captureCommand is the program and arguments that run `execPath execArgs` with its stdout and
// stderr in guest files named for the process, quoted as the backend's captureCommand
// (packages/vsphere/src/output-capture.ts) quotes them, so the guest sees the same command line.
func captureCommand(processID, execPath, execArgs string) (string, string) {
	program := execPath
	if execArgs != "" {
		program += " " + execArgs
	}
	script := "mkdir -p " + outputDir + " && exec " + program +
		" >" + outputPath(processID, "stdout") + " 2>" + outputPath(processID, "stderr")
	return "/bin/sh", "-c '" + strings.ReplaceAll(script, "'", `'\''`) + "'"
}

func outputPath(processID, stream string) string {
	return outputDir + "/" + processID + "." + stream
}

// datastoreURL is where a container's kept output goes on the datastore, in the /folder form the
// backend's datastoreUrl builds, resolved against the server the peer connected to.
func (p *peer) datastoreURL(containerID, processID, stream string) *url.URL {
	segments := []string{outputFolder, containerID, processID + "." + stream}
	for i, s := range segments {
		segments[i] = url.PathEscape(s)
	}
	base := p.soap.URL()
	rel, _ := url.Parse("/folder/" + strings.Join(segments, "/") +
		"?dcPath=" + url.QueryEscape(p.datacenter) + "&dsName=" + url.QueryEscape(p.datastore))
	return base.ResolveReference(rel)
}

// keepOutput copies one output stream of a process from the guest to the datastore: the guest
// hands out a URL for the file, the bytes come down with a GET and go up with a PUT. A failure
// ends the run (the backend reports it and powers off anyway): a peer that skipped the work
// quietly would be measured doing less than the backend.
func (p *peer) keepOutput(ctx context.Context, vm types.ManagedObjectReference, containerID, processID, stream string) error {
	path := outputPath(processID, stream)
	res, err := methods.InitiateFileTransferFromGuest(ctx, p.vc, &types.InitiateFileTransferFromGuest{
		This:          p.files,
		Vm:            vm,
		Auth:          p.auth,
		GuestFilePath: path,
	})
	if err != nil {
		return fmt.Errorf("file transfer of %s: %w", path, err)
	}
	// An empty file has nothing to fetch or keep (a missing kept file reads as empty output).
	if res.Returnval.Size == 0 {
		return nil
	}
	source, err := p.guestURL(res.Returnval.Url)
	if err != nil {
		return err
	}
	atomic.AddInt64(&p.transfers, 1)
	body, _, err := p.soap.Download(ctx, source, &soap.DefaultDownload)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	param := soap.DefaultUpload
	param.ContentLength = int64(len(data))
	atomic.AddInt64(&p.transfers, 1)
	if err := p.soap.Upload(ctx, bytes.NewReader(data), p.datastoreURL(containerID, processID, stream), &param); err != nil {
		return fmt.Errorf("keeping %s: %w", path, err)
	}
	return nil
}

// deleteOutput deletes a destroyed container's kept output, both streams at once as the backend's
// deleteOutput does. A file already gone counts as deleted.
func (p *peer) deleteOutput(ctx context.Context, containerID, processID string) error {
	streams := []string{"stdout", "stderr"}
	errs := make([]error, len(streams))
	var wg sync.WaitGroup
	for i, stream := range streams {
		wg.Add(1)
		go func(i int, stream string) {
			defer wg.Done()
			errs[i] = p.deleteFile(ctx, p.datastoreURL(containerID, processID, stream))
		}(i, stream)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("deleting kept output: %w", err)
		}
	}
	return nil
}

func (p *peer) deleteFile(ctx context.Context, target *url.URL) error {
	req, err := http.NewRequest(http.MethodDelete, target.String(), nil)
	if err != nil {
		return err
	}
	atomic.AddInt64(&p.transfers, 1)
	return p.soap.Do(ctx, req, func(res *http.Response) error {
		// Read to the end so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, res.Body)
		if res.StatusCode/100 != 2 && res.StatusCode != http.StatusNotFound {
			return errors.New(res.Status)
		}
		return nil
	})
}

// options builds extraConfig entries from key/value pairs, keys under keyPrefix.
func options(kv ...string) []types.BaseOptionValue {
	out := make([]types.BaseOptionValue, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &types.OptionValue{Key: keyPrefix + kv[i], Value: kv[i+1]})
	}
	return out
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func normaliseThumbprint(s string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintf(os.Stderr, "govmomi-peer: %v\n", err)
	os.Exit(1)
}
