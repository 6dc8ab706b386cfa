package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// guestProcessManager replaces vcsim's GuestProcessManager (which has no methods) with one
// that runs programs in the emulated guest.
type guestProcessManager struct {
	mo.GuestProcessManager
	g *guests
}

// guestFileManager replaces vcsim's GuestFileManager (which needs docker) with one that works
// on the emulated guest's file system.
type guestFileManager struct {
	mo.GuestFileManager
	g *guests
}

// installGuestManagers puts the managers in place of vcsim's, under the references that
// ServiceContent.guestOperationsManager names.
func installGuestManagers(model *simulator.Model, g *guests) error {
	ref := model.ServiceContent.GuestOperationsManager
	if ref == nil {
		return fmt.Errorf("the model's ServiceContent has no guestOperationsManager")
	}
	ops, ok := simulator.Map.Get(*ref).(*simulator.GuestOperationsManager)
	if !ok || ops.FileManager == nil || ops.ProcessManager == nil {
		return fmt.Errorf("the model's GuestOperationsManager has no file or process manager")
	}
	fm := &guestFileManager{g: g}
	fm.Self = *ops.FileManager
	pm := &guestProcessManager{g: g}
	pm.Self = *ops.ProcessManager
	simulator.Map.Put(fm)
	simulator.Map.Put(pm)
	return nil
}

func (m *guestProcessManager) StartProgramInGuest(ctx *simulator.Context, req *types.StartProgramInGuest) soap.HasFault {
	body := new(methods.StartProgramInGuestBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, owner, fault := m.g.enter(req.Vm, req.Auth)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	var spec *types.GuestProgramSpec
	if req.Spec != nil {
		spec = req.Spec.GetGuestProgramSpec()
	}
	if spec == nil || spec.ProgramPath == "" {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "spec.programPath"})
		return body
	}
	proc := m.g.startProgram(vm, *spec, owner, time.Now())
	body.Res = &types.StartProgramInGuestResponse{Returnval: proc.pid}
	return body
}

// processInfo is GuestProcessInfo with an exitCode that is sent when it is 0 too: vCenter
// reports the exit code of every exited process, and govmomi's type would omit a zero.
type processInfo struct {
	Name      string     `xml:"name"`
	Pid       int64      `xml:"pid"`
	Owner     string     `xml:"owner"`
	CmdLine   string     `xml:"cmdLine"`
	StartTime time.Time  `xml:"startTime"`
	EndTime   *time.Time `xml:"endTime,omitempty"`
	ExitCode  *int32     `xml:"exitCode,omitempty"`
}

// ListProcessesInGuestResponse is named as the vim25 response element it encodes as.
type ListProcessesInGuestResponse struct {
	Returnval []processInfo `xml:"returnval,omitempty"`
}

type listProcessesBody struct {
	Res    *ListProcessesInGuestResponse `xml:"ListProcessesInGuestResponse,omitempty"`
	Fault_ *soap.Fault                   `xml:"http://schemas.xmlsoap.org/soap/envelope/ Fault,omitempty"`
}

func (b *listProcessesBody) Fault() *soap.Fault { return b.Fault_ }

func (m *guestProcessManager) ListProcessesInGuest(ctx *simulator.Context, req *types.ListProcessesInGuest) soap.HasFault {
	body := new(listProcessesBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, _, fault := m.g.enter(req.Vm, req.Auth)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	res := &ListProcessesInGuestResponse{}
	for _, p := range m.g.processList(vm, req.Pids, time.Now()) {
		info := processInfo{Name: p.name, Pid: p.pid, Owner: p.owner, CmdLine: p.cmdLine, StartTime: p.start}
		if !p.running() {
			end, code := *p.end, p.exitCode
			info.EndTime, info.ExitCode = &end, &code
		}
		res.Returnval = append(res.Returnval, info)
	}
	body.Res = res
	return body
}

// TerminateProcessInGuest ends a process as vSphere does on Linux: SIGTERM, then SIGKILL if it
// lingers. A process that ends on SIGTERM exits 143; one that ignores it (an executable file that
// traps it) gets the SIGKILL at once and exits 137 — real tools wait a few seconds in between,
// which would only slow the tests down.
func (m *guestProcessManager) TerminateProcessInGuest(ctx *simulator.Context, req *types.TerminateProcessInGuest) soap.HasFault {
	body := new(methods.TerminateProcessInGuestBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, _, fault := m.g.enter(req.Vm, req.Auth)
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	p, ok := vm.procs[req.Pid]
	if !ok || !p.running() {
		body.Fault_ = simulator.Fault(fmt.Sprintf("process %d not found", req.Pid), &types.GuestProcessNotFound{Pid: req.Pid})
		return body
	}
	now := time.Now()
	if !p.signal(sigterm, now) {
		p.signal(sigkill, now)
	}
	body.Res = new(types.TerminateProcessInGuestResponse)
	return body
}

func (m *guestFileManager) MakeDirectoryInGuest(ctx *simulator.Context, req *types.MakeDirectoryInGuest) soap.HasFault {
	body := new(methods.MakeDirectoryInGuestBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, _, fault := m.g.enter(req.Vm, req.Auth)
	if fault == nil && !path.IsAbs(req.DirectoryPath) {
		fault = &types.InvalidArgument{InvalidProperty: "directoryPath"}
	}
	if fault == nil {
		fault = vm.fs.mkdir(req.DirectoryPath, req.CreateParentDirectories, time.Now())
	}
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	body.Res = new(types.MakeDirectoryInGuestResponse)
	return body
}

func (m *guestFileManager) InitiateFileTransferToGuest(ctx *simulator.Context, req *types.InitiateFileTransferToGuest) soap.HasFault {
	body := new(methods.InitiateFileTransferToGuestBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, _, fault := m.g.enter(req.Vm, req.Auth)
	if fault == nil && !path.IsAbs(req.GuestFilePath) {
		fault = &types.InvalidArgument{InvalidProperty: "guestFilePath"}
	}
	if fault == nil && req.FileSize < 0 {
		fault = &types.InvalidArgument{InvalidProperty: "fileSize"}
	}
	if fault == nil {
		fault = vm.fs.checkWritable(path.Clean(req.GuestFilePath), req.Overwrite)
	}
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	t := &transfer{vm: req.Vm, path: path.Clean(req.GuestFilePath), upload: true, size: req.FileSize, overwrite: req.Overwrite}
	if attrs, ok := req.FileAttributes.(*types.GuestPosixFileAttributes); ok {
		mode := uint32(attrs.Permissions) & 0o7777
		t.mode, t.uid, t.gid = &mode, attrs.OwnerId, attrs.GroupId
	}
	body.Res = &types.InitiateFileTransferToGuestResponse{Returnval: m.g.transfers.add(t)}
	return body
}

func (m *guestFileManager) InitiateFileTransferFromGuest(ctx *simulator.Context, req *types.InitiateFileTransferFromGuest) soap.HasFault {
	body := new(methods.InitiateFileTransferFromGuestBody)
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	vm, _, fault := m.g.enter(req.Vm, req.Auth)
	if fault == nil && !path.IsAbs(req.GuestFilePath) {
		fault = &types.InvalidArgument{InvalidProperty: "guestFilePath"}
	}
	var node *fsNode
	if fault == nil {
		node, fault = vm.fs.fileAt(path.Clean(req.GuestFilePath))
	}
	if fault != nil {
		body.Fault_ = simulator.Fault("", fault)
		return body
	}
	node.atime = time.Now()
	t := &transfer{vm: req.Vm, path: path.Clean(req.GuestFilePath), data: node.data}
	body.Res = &types.InitiateFileTransferFromGuestResponse{Returnval: types.FileTransferInformation{
		Attributes: node.posixAttributes(),
		Size:       int64(len(node.data)),
		Url:        m.g.transfers.add(t),
	}}
	return body
}

// transfer is one pending guest file transfer, reachable once through its URL.
type transfer struct {
	vm        types.ManagedObjectReference
	path      string
	upload    bool
	size      int64
	overwrite bool
	mode      *uint32
	uid, gid  *int32
	data      []byte // download: the file as it was when the transfer was initiated
	created   time.Time
}

// transferTTL is how long an unused transfer URL stays valid.
const transferTTL = 10 * time.Minute

// transfers hands out one-shot /guestFile URLs on the SDK server, as vCenter does (with "*" as
// host: the client substitutes the host it connected to).
type transfers struct {
	mu      sync.Mutex
	pending map[string]*transfer
	scheme  string
	port    string
	nextID  int
}

func newTransfers(scheme, port string) *transfers {
	return &transfers{pending: map[string]*transfer{}, scheme: scheme, port: port}
}

func (ts *transfers) add(t *transfer) string {
	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		panic(err)
	}
	t.created = time.Now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, old := range ts.pending {
		if t.created.Sub(old.created) > transferTTL {
			delete(ts.pending, k)
		}
	}
	ts.nextID++
	key := hex.EncodeToString(token)
	ts.pending[key] = t
	return (&url.URL{
		Scheme:   ts.scheme,
		Host:     "*:" + ts.port,
		Path:     "/guestFile",
		RawQuery: url.Values{"id": {strconv.Itoa(ts.nextID)}, "token": {key}}.Encode(),
	}).String()
}

// take removes and returns the transfer of token if it is of the wanted direction.
func (ts *transfers) take(token string, upload bool) (*transfer, int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	t, ok := ts.pending[token]
	if !ok || time.Since(t.created) > transferTTL {
		delete(ts.pending, token)
		return nil, http.StatusNotFound
	}
	if t.upload != upload {
		return nil, http.StatusMethodNotAllowed
	}
	delete(ts.pending, token)
	return t, http.StatusOK
}

func (ts *transfers) forgetVM(ref types.ManagedObjectReference) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for k, t := range ts.pending {
		if t.vm == ref {
			delete(ts.pending, k)
		}
	}
}

// serveTransfer answers GET (from guest) and PUT (to guest) on /guestFile.
func (g *guests) serveTransfer(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		t, status := g.transfers.take(token, false)
		if t == nil {
			http.Error(w, "no such guest file transfer", status)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(t.data)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(t.data)
		}
	case http.MethodPut:
		t, status := g.transfers.take(token, true)
		if t == nil {
			http.Error(w, "no such guest file transfer", status)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, t.size+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if int64(len(data)) != t.size {
			http.Error(w, fmt.Sprintf("expected %d bytes (the fileSize given to InitiateFileTransferToGuest), got %d or more", t.size, len(data)), http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		vm, ok := g.vms[t.vm]
		if !ok || vm.power != types.VirtualMachinePowerStatePoweredOn {
			http.Error(w, "the guest is not running", http.StatusServiceUnavailable)
			return
		}
		if fault := vm.fs.writeFile(t.path, data, t.mode, t.uid, t.gid, t.overwrite, time.Now()); fault != nil {
			http.Error(w, fmt.Sprintf("%s: %s", reflect.TypeOf(fault).Elem().Name(), t.path), http.StatusConflict)
			return
		}
	default:
		http.Error(w, "GET or PUT only", http.StatusMethodNotAllowed)
	}
}
