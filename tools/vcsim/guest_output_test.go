package main

import (
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// outputCase is one row of contracts' PROGRAM_OUTPUT_CASES (packages/contracts/src/program-output.ts),
// run with /tmp as the working directory.
type outputCase struct {
	name, path, args string
	files            map[string]string
	stdout, stderr   string
	exit             int32
}

var outputCases = []outputCase{
	{name: "echo", path: "/bin/echo", args: "hello   world", stdout: "hello world\n"},
	{name: "echo without arguments", path: "/bin/echo", args: "", stdout: "\n"},
	{name: "echo with quotes", path: "/bin/echo", args: `'a  b' "c d"`, stdout: "a  b c d\n"},
	{name: "cat", path: "/bin/cat", args: "a.txt b.txt", files: map[string]string{"a.txt": "one\n", "b.txt": "two\n"},
		stdout: "one\ntwo\n"},
	{name: "cat of a missing file", path: "/bin/cat", args: "a.txt nope.txt", files: map[string]string{"a.txt": "one\n"},
		stdout: "one\n", stderr: "cat: nope.txt: No such file or directory\n", exit: 1},
	{name: "sh echo; exit", path: "/bin/sh", args: `-c "echo hi there; exit 3"`, stdout: "hi there\n", exit: 3},
	{name: "sh echo >&2; exit", path: "/bin/sh", args: `-c "echo oops >&2; exit 2"`, stderr: "oops\n", exit: 2},
	{name: "sh exit", path: "/bin/sh", args: `-c "exit 4"`, exit: 4},
	{name: "not found", path: "/bin/nope", args: "", stderr: "/bin/nope: not found\n", exit: 127},
}

// Every row of the TypeScript table has its Go twin above, so a new row cannot go untested here.
func TestOutputCasesCoverContractsTable(t *testing.T) {
	src, err := os.ReadFile("../../packages/contracts/src/program-output.ts")
	if err != nil {
		t.Fatalf("contracts' table: %v", err)
	}
	table := string(src)
	start := strings.Index(table, "PROGRAM_OUTPUT_CASES")
	if start < 0 {
		t.Fatal("program-output.ts has no PROGRAM_OUTPUT_CASES")
	}
	var want []string
	for _, m := range regexp.MustCompile(`name: '([^']+)'`).FindAllStringSubmatch(table[start:], -1) {
		want = append(want, m[1])
	}
	var got []string
	for _, c := range outputCases {
		got = append(got, c.name)
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("Go cases %q, contracts' table %q", got, want)
	}
}

const outputDir = "/var/log/portlayer"

// captured is the arguments of the vSphere backend's capture wrapper for a process with ID id
// (packages/vsphere/src/output-capture.ts): a shell script in single quotes, in which each single
// quote closes the quoting, is written as an escaped quote and reopens it (POSIX).
func captured(id, path, args string) string {
	program := path
	if args != "" {
		program += " " + args
	}
	script := "mkdir -p " + outputDir + " && exec " + program +
		" >" + outputDir + "/" + id + ".stdout 2>" + outputDir + "/" + id + ".stderr"
	return "-c '" + strings.ReplaceAll(script, "'", `'\''`) + "'"
}

// startCaptured starts path args under the wrapper, checks the command line the guest reports
// and returns the pid.
func (g *guestEnv) startCaptured(id, path, args, cwd string) int64 {
	g.t.Helper()
	arguments := captured(id, path, args)
	pid := g.start("/bin/sh", arguments, cwd)
	if got, want := g.process(pid).CmdLine, "/bin/sh "+arguments; got != want {
		g.t.Fatalf("cmdLine %q, want %q", got, want)
	}
	return pid
}

// captures returns what process id wrote to its stdout and stderr files.
func (g *guestEnv) captures(id string) (string, string) {
	g.t.Helper()
	_, stdout, err := g.download(outputDir + "/" + id + ".stdout")
	g.must(err)
	_, stderr, err := g.download(outputDir + "/" + id + ".stderr")
	g.must(err)
	return string(stdout), string(stderr)
}

func (g *guestEnv) putFiles(dir string, files map[string]string) {
	g.t.Helper()
	for name, text := range files {
		g.must(g.upload(dir+"/"+name, []byte(text), 0o644, true))
	}
}

func TestEveryOutputCaseUnderTheCaptureWrapper(t *testing.T) {
	g := newGuestEnv(t)
	for i, c := range outputCases {
		g.putFiles("/tmp", c.files)
		id := "case-" + itoa(int64(i))
		pid := g.startCaptured(id, c.path, c.args, "/tmp")
		if code := g.exitCode(pid); code != c.exit {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.exit)
		}
		stdout, stderr := g.captures(id)
		if stdout != c.stdout || stderr != c.stderr {
			t.Errorf("%s: stdout %q stderr %q, want %q and %q", c.name, stdout, stderr, c.stdout, c.stderr)
		}
	}
}

func TestEveryOutputCaseWithoutTheWrapperExitsAlikeAndWritesNoFile(t *testing.T) {
	g := newGuestEnv(t)
	for _, c := range outputCases {
		g.putFiles("/tmp", c.files)
		if code := g.exitCode(g.start(c.path, c.args, "/tmp")); code != c.exit {
			t.Errorf("%s: exit %d, want %d", c.name, code, c.exit)
		}
	}
	_, _, err := g.download(outputDir)
	expectFault(t, err, "FileNotFound")
}

func TestTheWrapperKeepsTheShellsQuoting(t *testing.T) {
	g := newGuestEnv(t)
	cases := []struct{ args, stdout string }{
		{`it's`, ""}, // an unterminated quote: the shell refuses the script
		{`"it's"  'x  y' z\ w`, "it's x  y z w\n"},
		{`'a'\''b' "c'd"`, "a'b c'd\n"},
		{`"a >b 2>c" '&&' ';'`, "a >b 2>c && ;\n"},
		{`"\"q\" \\ \$HOME"`, `"q" \ $HOME` + "\n"},
		{"\t spaced \t out ", "spaced out\n"},
	}
	for i, c := range cases {
		id := "quote-" + itoa(int64(i))
		pid := g.startCaptured(id, "/bin/echo", c.args, "")
		if c.stdout == "" {
			if code := g.exitCode(pid); code != exitShellSyntax {
				t.Errorf("%s: exit %d, want %d", c.args, code, exitShellSyntax)
			}
			continue
		}
		if code := g.exitCode(pid); code != 0 {
			t.Errorf("%s: exit %d", c.args, code)
		}
		if stdout, _ := g.captures(id); stdout != c.stdout {
			t.Errorf("%s: stdout %q, want %q", c.args, stdout, c.stdout)
		}
	}
	// The same quoting reaches a shell script given as ARGS.
	pid := g.startCaptured("sh", "/bin/sh", `-c 'echo "it'\''s" done >&2; exit 5'`, "")
	if code := g.exitCode(pid); code != 5 {
		t.Fatalf("sh in the wrapper: exit %d, want 5", code)
	}
	if stdout, stderr := g.captures("sh"); stdout != "" || stderr != "it's done\n" {
		t.Fatalf("sh in the wrapper: stdout %q stderr %q", stdout, stderr)
	}
}

func TestTheWrapperCreatesItsDirectoryAndOpensTheFilesAsAShellWould(t *testing.T) {
	g := newGuestEnv(t)
	_, _, err := g.download(outputDir)
	expectFault(t, err, "FileNotFound")
	pid := g.startCaptured("first", "/bin/true", "", "")
	if code := g.exitCode(pid); code != 0 {
		t.Fatalf("true in the wrapper: exit %d", code)
	}
	_, _, err = g.download(outputDir)
	expectFault(t, err, "NotAFile") // a directory now
	info, data, err := g.download(outputDir + "/first.stdout")
	g.must(err)
	if len(data) != 0 || info.Attributes.(*types.GuestPosixFileAttributes).Permissions != 0o644 {
		t.Fatalf("the stdout file of /bin/true: %q, mode %o", data, info.Attributes.(*types.GuestPosixFileAttributes).Permissions)
	}
	// An existing directory is fine (mkdir -p), also for a relative DIR against the working directory.
	script := func(dir, out, errFile string) string {
		return "-c 'mkdir -p " + dir + " && exec /bin/echo hi >" + out + " 2>" + errFile + "'"
	}
	if code := g.exitCode(g.start("/bin/sh", script("logs/deep", "logs/deep/o", "logs/deep/e"), "/srv")); code != 0 {
		t.Fatalf("relative paths: exit %d", code)
	}
	_, data, err = g.download("/srv/logs/deep/o")
	g.must(err)
	if string(data) != "hi\n" {
		t.Fatalf("relative stdout file: %q", data)
	}
	// mkdir failing ends the script with 1; a redirection that cannot be opened with 2.
	g.must(g.upload("/tmp/file", []byte("x"), 0o644, false))
	if code := g.exitCode(g.start("/bin/sh", script("/tmp/file", "/tmp/o", "/tmp/e"), "")); code != 1 {
		t.Fatalf("mkdir over a file: exit %d, want 1", code)
	}
	if code := g.exitCode(g.start("/bin/sh", script("/tmp/d", "/nowhere/o", "/tmp/e"), "")); code != 2 {
		t.Fatalf("stdout into a missing directory: exit %d, want 2", code)
	}
	if code := g.exitCode(g.start("/bin/sh", script("/tmp/d", "/tmp/o", "/tmp"), "")); code != 2 {
		t.Fatalf("stderr onto a directory: exit %d, want 2", code)
	}
	// A script that stops before a redirection never opens the files after it.
	_, _, err = g.download("/tmp/e")
	expectFault(t, err, "FileNotFound")
}

func TestASecondRunTruncatesTheFiles(t *testing.T) {
	g := newGuestEnv(t)
	g.exitCode(g.startCaptured("again", "/bin/sh", `-c "echo first run; exit 0"`, ""))
	g.exitCode(g.startCaptured("again", "/bin/sh", `-c "echo err >&2; exit 1"`, ""))
	if stdout, stderr := g.captures("again"); stdout != "" || stderr != "err\n" {
		t.Fatalf("after the second run: stdout %q stderr %q", stdout, stderr)
	}
	// cat of its own output file reads it truncated, as a shell's redirection opens it first.
	g.exitCode(g.startCaptured("again", "/bin/cat", outputDir+"/again.stderr", ""))
	if stdout, stderr := g.captures("again"); stdout != "" || stderr != "" {
		t.Fatalf("cat of its own stderr file: stdout %q stderr %q", stdout, stderr)
	}
}

func TestAWrappedProgramIsTheProcessAndTakesSignals(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/usr/local/bin/server", []byte("#!/bin/sh\nwhile :; do sleep 1; done\n"), 0o755, false))
	g.must(g.upload("/usr/local/bin/stubborn", trapsTermScript, 0o755, false))
	server := g.startCaptured("server", "/usr/local/bin/server", "--port 80", "")
	sleeper := g.startCaptured("sleeper", "/bin/sleep", "100", "")
	stubborn := g.startCaptured("stubborn", "/usr/local/bin/stubborn", "", "")
	killed := g.startCaptured("killed", "/usr/local/bin/server", "", "")
	for _, pid := range []int64{server, sleeper, stubborn, killed} {
		if !g.running(pid) {
			t.Fatalf("wrapped process %s exited with %d", g.process(pid).CmdLine, g.exitCode(pid))
		}
	}
	if name := g.process(server).Name; name != "server" {
		t.Fatalf("name of the exec'd program: %q, want server", name)
	}
	// Their files exist, empty, while they run.
	for _, id := range []string{"server", "sleeper"} {
		if stdout, stderr := g.captures(id); stdout != "" || stderr != "" {
			t.Fatalf("%s while running: stdout %q stderr %q", id, stdout, stderr)
		}
	}
	g.must(g.procs.TerminateProcess(g.ctx, g.auth, server))
	g.must(g.procs.TerminateProcess(g.ctx, g.auth, stubborn))
	g.exitCode(g.start("/bin/kill", "-10 "+itoa(sleeper), ""))
	g.exitCode(g.start("/bin/kill", itoa(killed), ""))
	for pid, want := range map[int64]int32{server: 143, stubborn: 137, sleeper: 138, killed: 143} {
		if code := g.exitCode(pid); code != want {
			t.Errorf("%s: exit %d, want %d", g.process(pid).CmdLine, code, want)
		}
	}
	// A stubborn one started under the wrapper ignores SIGTERM from kill too.
	again := g.startCaptured("stubborn2", "/usr/local/bin/stubborn", "", "")
	g.exitCode(g.start("/bin/kill", itoa(again), ""))
	if !g.running(again) {
		t.Fatal("a wrapped program that traps SIGTERM ended on it")
	}
}

func TestNotFoundUnderTheWrapperIsTheShellsAnswer(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/tmp/plain", []byte("x"), 0o644, false))
	for id, prog := range map[string]string{"missing": "/usr/bin/nothing", "plain": "/tmp/plain"} {
		pid := g.startCaptured(id, prog, "a b", "")
		if code := g.exitCode(pid); code != 127 {
			t.Errorf("%s: exit %d, want 127", prog, code)
		}
		if name := g.process(pid).Name; name != "sh" {
			t.Errorf("%s: process name %q, want sh (nothing was exec'd)", prog, name)
		}
		if stdout, stderr := g.captures(id); stdout != "" || stderr != prog+": not found\n" {
			t.Errorf("%s: stdout %q stderr %q", prog, stdout, stderr)
		}
	}
}

func TestOtherProgramsUnderTheWrapper(t *testing.T) {
	g := newGuestEnv(t)
	g.must(g.upload("/tmp/src", []byte("data"), 0o600, false))
	if code := g.exitCode(g.startCaptured("cp", "/bin/cp", "src dst", "/tmp")); code != 0 {
		t.Fatalf("cp: exit %d", code)
	}
	if code := g.exitCode(g.startCaptured("cp-missing", "/bin/cp", "gone dst", "/tmp")); code != 1 {
		t.Fatalf("cp of a missing file: exit %d", code)
	}
	if _, stderr := g.captures("cp-missing"); stderr != "cp: cannot stat 'gone': No such file or directory\n" {
		t.Fatalf("cp of a missing file: stderr %q", stderr)
	}
	for i, c := range []struct {
		path, args string
		exit       int32
	}{{"/bin/true", "", 0}, {"/bin/false", "", 1}, {"/bin/sleep", "0", 0}, {"/bin/sleep", "soon", 1}, {"/bin/kill", "-9 99999", 1}} {
		pid := g.startCaptured("other-"+itoa(int64(i)), c.path, c.args, "")
		if code := g.exitCode(pid); code != c.exit {
			t.Errorf("%s %s: exit %d, want %d", c.path, c.args, code, c.exit)
		}
	}
	_, data, err := g.download("/tmp/dst")
	g.must(err)
	if string(data) != "data" {
		t.Fatalf("cp's copy: %q", data)
	}
}

func TestShellScriptsTheGuestUnderstands(t *testing.T) {
	cases := []struct {
		script, stdout, stderr string
		exit                   int32
	}{
		{"exit 0", "", "", 0},
		{" exit 255 ", "", "", 255},
		{"exit 256", "", "", 127},
		{"echo; exit 1", "\n", "", 1},
		{"echo >&2; exit 1", "", "\n", 1},
		{"echo a   b;exit 0", "a b\n", "", 0},
		{"echo a 1>&2 ; exit 9", "", "a\n", 9},
		{`echo 'a;b' "c  d"; exit 0`, "a;b c  d\n", "", 0},
		{`echo 'x >&2'; exit 0`, "x >&2\n", "", 0},
		{"echo hi", "", "", 127},
		{"echo a; echo b; exit 0", "", "", 127},
		{"echo a1>&2; exit 0", "", "", 127},
		{"echo $HOME; exit 0", "", "", 127},
		{`echo "$HOME"; exit 0`, "", "", 127},
		{"echo a | cat; exit 0", "", "", 127},
		{"echo 'open; exit 0", "", "", 127},
		{"echo a; exit 300", "", "", 127},
		{"true", "", "", 127},
	}
	for _, c := range cases {
		vm := &guestVM{fs: newGuestFS(time.Now())}
		for _, f := range []string{"/tmp/o", "/tmp/e"} {
			if fault := vm.fs.writeFile(f, []byte{}, nil, nil, nil, true, time.Now()); fault != nil {
				t.Fatalf("%s: %T", f, fault)
			}
		}
		out := &output{vm: vm, stdoutPath: "/tmp/o", stderrPath: "/tmp/e"}
		code := shell([]string{"-c", c.script}, out, time.Now())
		stdout, stderr := vm.fs.text("/tmp/o"), vm.fs.text("/tmp/e")
		if code != c.exit || stdout != c.stdout || stderr != c.stderr {
			t.Errorf("%q: exit %d stdout %q stderr %q, want %d %q %q", c.script, code, stdout, stderr, c.exit, c.stdout, c.stderr)
		}
	}
}

func TestTheCaptureScriptIsRecognisedExactly(t *testing.T) {
	ok := []struct {
		script string
		want   capture
	}{
		{"mkdir -p /d && exec /bin/echo a >/d/o 2>/d/e", capture{dir: "/d", command: "/bin/echo a", stdout: "/d/o", stderr: "/d/e"}},
		{"mkdir -p /d && exec /bin/true >/d/o 2>/d/e", capture{dir: "/d", command: "/bin/true", stdout: "/d/o", stderr: "/d/e"}},
		{`mkdir -p /d && exec /bin/echo "x >y 2>z" >/d/o 2>/d/e`, capture{dir: "/d", command: `/bin/echo "x >y 2>z"`, stdout: "/d/o", stderr: "/d/e"}},
		{"mkdir -p '/a b' && exec p >'/a b/o' 2>/e", capture{}},
	}
	for i, c := range ok {
		got, recognised := parseCapture([]string{"-c", c.script})
		if i == len(ok)-1 {
			if recognised {
				t.Errorf("%q: paths with blanks recognised as %+v", c.script, got)
			}
			continue
		}
		if !recognised || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.script, got, recognised, c.want)
		}
	}
	for _, args := range [][]string{
		{"-c", "mkdir -p /d && /bin/echo a >/d/o 2>/d/e"},
		{"-c", "mkdir -p /d && exec /bin/echo a >/d/o"},
		{"-c", "mkdir /d && exec /bin/echo a >/d/o 2>/d/e"},
		{"-c", "mkdir -p /d; exec /bin/echo a >/d/o 2>/d/e"},
		{"-x", "mkdir -p /d && exec /bin/echo a >/d/o 2>/d/e"},
		{"-c", "mkdir -p /d && exec /bin/echo a >/d/o 2>/d/e", "extra"},
		{"-c", "mkdir -p /d && exec >/d/o 2>/d/e"},
	} {
		if got, recognised := parseCapture(args); recognised {
			t.Errorf("%q recognised as %+v", args, got)
		}
	}
}

func TestCapturedOutputSurvivesAPowerCycleAndDownloadsAreSnapshots(t *testing.T) {
	g := newGuestEnv(t)
	g.exitCode(g.startCaptured("kept", "/bin/echo", "kept", ""))
	running := g.startCaptured("running", "/bin/sleep", "100", "")
	// A download hands out the file as it was when it was initiated.
	info, err := g.files.InitiateFileTransferFromGuest(g.ctx, g.auth, outputDir+"/kept.stdout")
	g.must(err)
	g.exitCode(g.startCaptured("kept", "/bin/echo", "replaced", ""))
	if _, body := g.transfer("GET", info.Url, nil); string(body) != "kept\n" || info.Size != 5 {
		t.Fatalf("download initiated before the rewrite: %q (size %d)", body, info.Size)
	}
	g.powerOff(g.vm)
	g.powerOn(g.vm)
	if list, err := g.procs.ListProcesses(g.ctx, g.auth, []int64{running}); err != nil || len(list) != 0 {
		t.Fatalf("process after a power cycle: %+v %v", list, err)
	}
	if stdout, _ := g.captures("kept"); stdout != "replaced\n" {
		t.Fatalf("output after a power cycle: %q", stdout)
	}
	if stdout, stderr := g.captures("running"); stdout != "" || stderr != "" {
		t.Fatalf("output of a process ended by power-off: %q %q", stdout, stderr)
	}
}

// text is the content of the file at p, "" when there is none.
func (fs *guestFS) text(p string) string {
	node, err := fs.fileAt(p)
	if err != nil {
		return ""
	}
	return string(node.data)
}
