package main

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/guest"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// guestEnv is a powered-on VM with its guest's managers and credentials.
type guestEnv struct {
	*env
	vm    *object.VirtualMachine
	procs *guest.ProcessManager
	files *guest.FileManager
	auth  *types.NamePasswordAuthentication
}

func newGuestEnv(t *testing.T) *guestEnv {
	e := newEnv(t)
	vm := e.createVM()
	e.powerOn(vm)
	ops := guest.NewOperationsManager(e.client.Client, vm.Reference())
	procs, err := ops.ProcessManager(e.ctx)
	e.must(err)
	files, err := ops.FileManager(e.ctx)
	e.must(err)
	creds := testHarness.ready.Guest
	return &guestEnv{env: e, vm: vm, procs: procs, files: files,
		auth: &types.NamePasswordAuthentication{Username: creds.Username, Password: creds.Password}}
}

func (g *guestEnv) start(path, args, cwd string) int64 {
	g.t.Helper()
	pid, err := g.procs.StartProgram(g.ctx, g.auth, &types.GuestProgramSpec{ProgramPath: path, Arguments: args, WorkingDirectory: cwd})
	g.must(err)
	return pid
}

func (g *guestEnv) process(pid int64) types.GuestProcessInfo {
	g.t.Helper()
	list, err := g.procs.ListProcesses(g.ctx, g.auth, []int64{pid})
	g.must(err)
	if len(list) != 1 {
		g.t.Fatalf("ListProcessesInGuest(%d) returned %d processes", pid, len(list))
	}
	return list[0]
}

// exitCode returns the exit code of an exited process and fails if it still runs.
func (g *guestEnv) exitCode(pid int64) int32 {
	g.t.Helper()
	p := g.process(pid)
	if p.EndTime == nil {
		g.t.Fatalf("process %d (%s) is still running", pid, p.CmdLine)
	}
	return p.ExitCode
}

func (g *guestEnv) running(pid int64) bool {
	g.t.Helper()
	return g.process(pid).EndTime == nil
}

func (g *guestEnv) upload(path string, data []byte, perms int64, overwrite bool) error {
	g.t.Helper()
	u, err := g.files.InitiateFileTransferToGuest(g.ctx, g.auth, path,
		&types.GuestPosixFileAttributes{Permissions: perms}, int64(len(data)), overwrite)
	if err != nil {
		return err
	}
	status, body := g.transfer(http.MethodPut, u, data)
	if status != http.StatusOK {
		g.t.Fatalf("PUT %s: %d %s", u, status, body)
	}
	return nil
}

func (g *guestEnv) download(path string) (*types.FileTransferInformation, []byte, error) {
	g.t.Helper()
	info, err := g.files.InitiateFileTransferFromGuest(g.ctx, g.auth, path)
	if err != nil {
		return nil, nil, err
	}
	status, body := g.transfer(http.MethodGet, info.Url, nil)
	if status != http.StatusOK {
		g.t.Fatalf("GET %s: %d %s", info.Url, status, body)
	}
	return info, body, nil
}

// transfer resolves a guest file URL's "*" host as clients do and sends one request.
func (g *guestEnv) transfer(method, rawURL string, data []byte) (int, []byte) {
	g.t.Helper()
	if !strings.Contains(rawURL, "://*:") {
		g.t.Fatalf("guest file URL %s does not use * as host", rawURL)
	}
	u, err := g.files.TransferURL(g.ctx, rawURL)
	g.must(err)
	req, err := http.NewRequest(method, u.String(), bytes.NewReader(data))
	g.must(err)
	res, err := http.DefaultClient.Do(req)
	g.must(err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	g.must(err)
	return res.StatusCode, body
}

func TestGuestToolsRunWhileThePoweredOnVMRuns(t *testing.T) {
	e := newEnv(t)
	vm := e.createVM()
	check := func(running string, status types.VirtualMachineToolsStatus) {
		t.Helper()
		m := e.props(vm, "guest", "summary.guest")
		if m.Guest.ToolsRunningStatus != running || m.Guest.ToolsStatus != status ||
			m.Summary.Guest.ToolsRunningStatus != running {
			t.Fatalf("tools: %s/%s (summary %s), want %s/%s", m.Guest.ToolsRunningStatus, m.Guest.ToolsStatus,
				m.Summary.Guest.ToolsRunningStatus, running, status)
		}
	}
	check("guestToolsNotRunning", types.VirtualMachineToolsStatusToolsNotRunning)
	e.powerOn(vm)
	check("guestToolsRunning", types.VirtualMachineToolsStatusToolsOk)
	e.powerOff(vm)
	check("guestToolsNotRunning", types.VirtualMachineToolsStatusToolsNotRunning)
}

func TestGuestOperationsNeedAPoweredOnVMAndTheGuestCredentials(t *testing.T) {
	g := newGuestEnv(t)
	spec := &types.GuestProgramSpec{ProgramPath: "/bin/true"}
	wrong := &types.NamePasswordAuthentication{Username: g.auth.Username, Password: "wrong"}
	_, err := g.procs.StartProgram(g.ctx, wrong, spec)
	expectFault(t, err, "InvalidGuestLogin")
	_, err = g.procs.ListProcesses(g.ctx, wrong, nil)
	expectFault(t, err, "InvalidGuestLogin")
	expectFault(t, g.files.MakeDirectory(g.ctx, wrong, "/x", false), "InvalidGuestLogin")
	_, err = g.files.InitiateFileTransferFromGuest(g.ctx, wrong, "/etc")
	expectFault(t, err, "InvalidGuestLogin")

	g.powerOff(g.vm)
	_, err = g.procs.StartProgram(g.ctx, g.auth, spec)
	expectFault(t, err, "InvalidPowerState")
	_, err = g.files.InitiateFileTransferToGuest(g.ctx, g.auth, "/tmp/x", &types.GuestFileAttributes{}, 0, true)
	expectFault(t, err, "InvalidPowerState")

	gone := guest.NewOperationsManager(g.client.Client, types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-nope"})
	pm, err := gone.ProcessManager(g.ctx)
	g.must(err)
	_, err = pm.StartProgram(g.ctx, g.auth, spec)
	expectFault(t, err, "ManagedObjectNotFound")
}

func TestProgramsFollowTheProgramSemantics(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/tmp/plain", []byte("x"), 0o644, false))
	cases := []struct {
		path, args string
		exit       int32
	}{
		{"/bin/true", "", 0},
		{"/bin/false", "", 1},
		{"/bin/sh", `-c "exit 7"`, 7},
		{"/bin/sh", `-c 'exit 0'`, 0},
		{"/bin/sh", `-c "exit 256"`, 127},
		{"/bin/sh", `-c "echo hi"`, 127},
		{"/bin/sleep", "0", 0},
		{"/bin/sleep", "soon", 1},
		{"/bin/sleep", "", 1},
		{"/bin/cp", "/tmp/missing /tmp/y", 1},
		{"/bin/kill", "-9 99999", 1},
		{"/usr/bin/nothing", "", 127},
		{"/tmp/plain", "", 127}, // a file without an execute bit
		{"/bin/true", `"unterminated`, 2},
	}
	for _, c := range cases {
		pid := g.start(c.path, c.args, "")
		if got := g.exitCode(pid); got != c.exit {
			t.Errorf("%s %s: exit %d, want %d", c.path, c.args, got, c.exit)
		}
	}
}

func TestSleepRunsOnRealTime(t *testing.T) {
	g := newGuestEnv(t)
	pid := g.start("/bin/sleep", "0.3", "")
	if !g.running(pid) {
		t.Fatal("sleep 0.3 exited at once")
	}
	time.Sleep(450 * time.Millisecond)
	if code := g.exitCode(pid); code != 0 {
		t.Fatalf("sleep exited %d", code)
	}
	p := g.process(pid)
	if d := p.EndTime.Sub(p.StartTime); d < 250*time.Millisecond {
		t.Fatalf("sleep 0.3 took %s", d)
	}
}

func TestAnExecutableFileRunsUntilSignalledThroughKill(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/usr/local/bin/server", []byte("#!/bin/sh"), 0o755, false))
	a := g.start("/usr/local/bin/server", "--port 80", "")
	b := g.start("/usr/local/bin/server", "", "")
	c := g.start("/bin/sleep", "100", "")
	if !g.running(a) || !g.running(b) || !g.running(c) {
		t.Fatal("an executable file or a long sleep did not keep running")
	}
	if code := g.exitCode(g.start("/bin/kill", "-9 "+itoa(a), "")); code != 0 {
		t.Fatalf("kill -9 exited %d", code)
	}
	if code := g.exitCode(a); code != 137 {
		t.Fatalf("SIGKILL: exit %d, want 137", code)
	}
	if code := g.exitCode(g.start("/bin/kill", itoa(b), "")); code != 0 {
		t.Fatalf("kill exited %d", code)
	}
	if code := g.exitCode(b); code != 143 {
		t.Fatalf("kill's default SIGTERM: exit %d, want 143", code)
	}
	g.exitCode(g.start("/bin/kill", "-10 "+itoa(c), ""))
	if code := g.exitCode(c); code != 138 {
		t.Fatalf("SIGUSR1 to sleep: exit %d, want 138", code)
	}
	// Signalling an exited process fails.
	if code := g.exitCode(g.start("/bin/kill", "-9 "+itoa(a), "")); code != 1 {
		t.Fatalf("kill of an exited process exited %d, want 1", code)
	}
}

func TestTerminateProcessInGuestEndsItWithSIGTERM(t *testing.T) {
	g := newGuestEnv(t)
	pid := g.start("/bin/sleep", "100", "")
	g.must(g.procs.TerminateProcess(g.ctx, g.auth, pid))
	if code := g.exitCode(pid); code != 143 {
		t.Fatalf("terminated process exit %d, want 143", code)
	}
	expectFault(t, g.procs.TerminateProcess(g.ctx, g.auth, pid), "GuestProcessNotFound")
	expectFault(t, g.procs.TerminateProcess(g.ctx, g.auth, 424242), "GuestProcessNotFound")
}

// trapsTermScript ignores SIGTERM under the program semantics: it traps TERM with an empty action.
var trapsTermScript = []byte("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 1; done\n")

func TestIgnoresSigtermReadsTrapLinesAsContractsDoes(t *testing.T) {
	for _, content := range []string{
		"trap '' TERM", `trap "" TERM`, "trap '' SIGTERM", "trap '' 15",
		"#!/bin/sh\r\n  \ttrap\t''   TERM \r\nwhile :; do sleep 1; done\r\n", "\n\ntrap '' 15",
		"\xff\xfe\ntrap '' TERM\n\x00\x80",
	} {
		if !ignoresSigterm([]byte(content)) {
			t.Errorf("%q: want ignores SIGTERM", content)
		}
	}
	for _, content := range []string{
		"", "#!/bin/sh\n", "trap '' INT", "trap '' TERM INT", "trap 'exit 0' TERM", "trap - TERM",
		"trap ''TERM", "trap'' TERM", `trap '" TERM`, "trap ' TERM", "trap '' term", "# trap '' TERM",
		"echo trap '' TERM", "trap '' TERMINATE", "trap '' 150", "trap\n'' TERM", "\u00a0trap '' TERM",
		"x\rtrap '' TERM", "trap '' TERM\r foo",
	} {
		if ignoresSigterm([]byte(content)) {
			t.Errorf("%q: want ends on SIGTERM", content)
		}
	}
}

func TestAnExecutableFileThatTrapsSIGTERMOutlivesItButNotOtherSignals(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/usr/local/bin/stubborn", trapsTermScript, 0o755, false))
	a := g.start("/usr/local/bin/stubborn", "", "")
	b := g.start("/usr/local/bin/stubborn", "", "")
	for _, args := range []string{"-15 " + itoa(a), itoa(a)} {
		if code := g.exitCode(g.start("/bin/kill", args, "")); code != 0 {
			t.Fatalf("kill %s exited %d, want 0", args, code)
		}
	}
	if !g.running(a) {
		t.Fatalf("SIGTERM ended a process that traps it: exit %d", g.exitCode(a))
	}
	g.exitCode(g.start("/bin/kill", "-2 "+itoa(a), ""))
	if code := g.exitCode(a); code != 130 {
		t.Fatalf("SIGINT: exit %d, want 130", code)
	}
	g.exitCode(g.start("/bin/kill", "-9 "+itoa(b), ""))
	if code := g.exitCode(b); code != 137 {
		t.Fatalf("SIGKILL: exit %d, want 137", code)
	}
	// Read when the process starts: a file that no longer traps SIGTERM changes no running process.
	c := g.start("/usr/local/bin/stubborn", "", "")
	g.must(g.upload("/usr/local/bin/stubborn", []byte("#!/bin/sh\n"), 0o755, true))
	d := g.start("/usr/local/bin/stubborn", "", "")
	g.exitCode(g.start("/bin/kill", itoa(c), ""))
	g.exitCode(g.start("/bin/kill", itoa(d), ""))
	if !g.running(c) {
		t.Fatal("a process that trapped SIGTERM when it started ended on SIGTERM after its file changed")
	}
	if code := g.exitCode(d); code != 143 {
		t.Fatalf("SIGTERM to a file without the trap: exit %d, want 143", code)
	}
}

func TestTerminateProcessInGuestKillsAProcessThatIgnoresSIGTERM(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/usr/local/bin/stubborn", trapsTermScript, 0o755, false))
	pid := g.start("/usr/local/bin/stubborn", "", "")
	g.must(g.procs.TerminateProcess(g.ctx, g.auth, pid))
	if code := g.exitCode(pid); code != 137 {
		t.Fatalf("terminated process that ignores SIGTERM: exit %d, want 137 (the SIGKILL that follows)", code)
	}
}

func TestListProcessesInGuestReportsEveryFieldAndFiltersByPid(t *testing.T) {
	g := newGuestEnv(t)
	before := time.Now().Add(-time.Second)
	done := g.start("/bin/sh", `-c "exit 3"`, "")
	live := g.start("/bin/sleep", "100", "/tmp")
	all, err := g.procs.ListProcesses(g.ctx, g.auth, nil)
	g.must(err)
	if len(all) != 2 || all[0].Pid != done || all[1].Pid != live {
		t.Fatalf("ListProcessesInGuest without pids = %+v", all)
	}
	p := all[0]
	if p.Name != "sh" || p.Owner != g.auth.Username || p.CmdLine != `/bin/sh -c "exit 3"` ||
		p.StartTime.Before(before) || p.EndTime == nil || p.ExitCode != 3 {
		t.Fatalf("exited process = %+v", p)
	}
	if q := all[1]; q.EndTime != nil || q.ExitCode != 0 || q.Name != "sleep" {
		t.Fatalf("running process = %+v", q)
	}
	some, err := g.procs.ListProcesses(g.ctx, g.auth, []int64{live, 999999})
	g.must(err)
	if len(some) != 1 || some[0].Pid != live {
		t.Fatalf("ListProcessesInGuest(pids) = %+v", some)
	}
}

func TestExitedProcessesAreForgottenAfterTheRetention(t *testing.T) {
	g := newGuestEnv(t)
	pid := g.start("/bin/true", "", "")
	g.exitCode(pid)
	testHarness.guests.mu.Lock()
	testHarness.guests.exitedRetention = time.Millisecond
	testHarness.guests.mu.Unlock()
	defer func() {
		testHarness.guests.mu.Lock()
		testHarness.guests.exitedRetention = 5 * time.Minute
		testHarness.guests.mu.Unlock()
	}()
	time.Sleep(5 * time.Millisecond)
	list, err := g.procs.ListProcesses(g.ctx, g.auth, []int64{pid})
	g.must(err)
	if len(list) != 0 {
		t.Fatalf("an exited process outlived the retention: %+v", list)
	}
}

func TestCopyResolvesRelativePathsAgainstTheWorkingDirectory(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.files.MakeDirectory(g.ctx, g.auth, "/srv/app", true))
	g.must(g.upload("/srv/app/config", []byte("a=1"), 0o600, false))
	if code := g.exitCode(g.start("/bin/cp", "config config.bak", "/srv/app")); code != 0 {
		t.Fatalf("cp exited %d", code)
	}
	if code := g.exitCode(g.start("/bin/cp", "config /tmp", "/srv/app")); code != 0 {
		t.Fatalf("cp into a directory exited %d", code)
	}
	for _, p := range []string{"/srv/app/config.bak", "/tmp/config"} {
		info, data, err := g.download(p)
		g.must(err)
		if string(data) != "a=1" || info.Attributes.(*types.GuestPosixFileAttributes).Permissions != 0o600 {
			t.Fatalf("%s: %q, mode %o", p, data, info.Attributes.(*types.GuestPosixFileAttributes).Permissions)
		}
	}
	if code := g.exitCode(g.start("/bin/cp", "nothing here", "/srv/app")); code != 1 {
		t.Fatalf("cp of a missing file exited %d, want 1", code)
	}
}

func TestFileTransfersRoundTripWithPermissions(t *testing.T) {
	g := newGuestEnv(t)
	data := []byte("#!/bin/sh\necho hello\n")
	g.must(g.upload("/usr/local/bin/hello", data, 0o4755, false))
	info, got, err := g.download("/usr/local/bin/hello")
	g.must(err)
	attrs := info.Attributes.(*types.GuestPosixFileAttributes)
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) || attrs.Permissions != 0o4755 ||
		attrs.OwnerId == nil || attrs.ModificationTime == nil {
		t.Fatalf("download: %q size %d attrs %+v", got, info.Size, attrs)
	}

	err = g.upload("/usr/local/bin/hello", []byte("x"), 0o644, false)
	expectFault(t, err, "FileAlreadyExists")
	g.must(g.upload("/usr/local/bin/hello", []byte("v2"), 0o700, true))
	info, got, err = g.download("/usr/local/bin/hello")
	g.must(err)
	if string(got) != "v2" || info.Attributes.(*types.GuestPosixFileAttributes).Permissions != 0o700 {
		t.Fatalf("overwrite: %q mode %o", got, info.Attributes.(*types.GuestPosixFileAttributes).Permissions)
	}

	_, _, err = g.download("/usr/local/bin/nothing")
	expectFault(t, err, "FileNotFound")
	_, _, err = g.download("/usr/local/bin")
	expectFault(t, err, "NotAFile")
	expectFault(t, g.upload("/tmp", []byte("x"), 0o644, true), "NotAFile")
	expectFault(t, g.upload("/no/such/dir/file", []byte("x"), 0o644, true), "FileNotFound")
}

func TestTransferURLsAreOneShotAndCheckTheSize(t *testing.T) {
	g := newGuestEnv(t)
	u, err := g.files.InitiateFileTransferToGuest(g.ctx, g.auth, "/tmp/sized", &types.GuestPosixFileAttributes{Permissions: 0o644}, 3, false)
	g.must(err)
	if status, _ := g.transfer(http.MethodPut, u, []byte("toolong")); status != http.StatusBadRequest {
		t.Fatalf("PUT of the wrong size: %d, want 400", status)
	}
	if status, _ := g.transfer(http.MethodPut, u, []byte("abc")); status != http.StatusNotFound {
		t.Fatalf("second PUT on a one-shot URL: %d, want 404", status)
	}
	_, _, err = g.download("/tmp/sized")
	expectFault(t, err, "FileNotFound")

	info, err := g.files.InitiateFileTransferFromGuest(g.ctx, g.auth, "/etc")
	expectFault(t, err, "NotAFile")
	g.must(g.upload("/tmp/once", []byte("1"), 0o644, false))
	info, err = g.files.InitiateFileTransferFromGuest(g.ctx, g.auth, "/tmp/once")
	g.must(err)
	if status, _ := g.transfer(http.MethodPut, info.Url, []byte("1")); status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT on a download URL: %d, want 405", status)
	}
	if status, _ := g.transfer(http.MethodGet, info.Url, nil); status != http.StatusOK {
		t.Fatalf("GET: %d", status)
	}
	if status, _ := g.transfer(http.MethodGet, info.Url, nil); status != http.StatusNotFound {
		t.Fatalf("second GET on a one-shot URL: %d, want 404", status)
	}
}

func TestMakeDirectoryInGuest(t *testing.T) {
	g := newGuestEnv(t)
	for _, dir := range defaultDirectories {
		expectFault(t, g.files.MakeDirectory(g.ctx, g.auth, dir, false), "FileAlreadyExists")
	}
	expectFault(t, g.files.MakeDirectory(g.ctx, g.auth, "/a/b/c", false), "FileNotFound")
	g.must(g.files.MakeDirectory(g.ctx, g.auth, "/a/b/c", true))
	g.must(g.files.MakeDirectory(g.ctx, g.auth, "/a/b/d", false))
	expectFault(t, g.files.MakeDirectory(g.ctx, g.auth, "/a/b", true), "FileAlreadyExists")
	g.must(g.upload("/a/file", []byte("x"), 0o644, false))
	expectFault(t, g.files.MakeDirectory(g.ctx, g.auth, "/a/file/sub", true), "NotADirectory")
	expectFault(t, g.files.MakeDirectory(g.ctx, g.auth, "relative", true), "InvalidArgument")
	g.must(g.upload("/a/b/c/inside", []byte("ok"), 0o644, false))
}

func TestTheFileSystemSurvivesAPowerCycleAndTheProcessTableDoesNot(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/etc/kept", []byte("kept"), 0o640, false))
	old := g.start("/bin/sleep", "100", "")
	g.powerOff(g.vm)
	g.powerOn(g.vm)
	list, err := g.procs.ListProcesses(g.ctx, g.auth, nil)
	g.must(err)
	if len(list) != 0 {
		t.Fatalf("processes survived power-off: %+v", list)
	}
	_, data, err := g.download("/etc/kept")
	g.must(err)
	if string(data) != "kept" {
		t.Fatalf("file after a power cycle: %q", data)
	}
	if pid := g.start("/bin/true", "", ""); pid <= old {
		t.Fatalf("pid %d after a power cycle reuses an old one (%d)", pid, old)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
