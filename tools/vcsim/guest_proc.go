package main

import (
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// guestProcess is one entry of a VM's process table.
type guestProcess struct {
	pid      int64
	name     string
	owner    string
	cmdLine  string
	start    time.Time
	end      *time.Time
	exitCode int32
	timer    *time.Timer // the deadline of /bin/sleep
	// ignoresTerm is set for an executable file that traps SIGTERM, read once when it starts.
	ignoresTerm bool
}

func (p *guestProcess) running() bool { return p.end == nil }

// signal delivers signal n (1–64) to a running process: it ends with 128 + n, except that an
// executable file that traps SIGTERM lets SIGTERM pass. It reports whether the process ended.
func (p *guestProcess) signal(n int, now time.Time) bool {
	if n == sigterm && p.ignoresTerm {
		return false
	}
	p.exit(int32(signalExitBase+n), now)
	return true
}

// exit ends a running process with code.
func (p *guestProcess) exit(code int32, now time.Time) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	p.end = &now
	p.exitCode = code
}

const (
	exitNotFound   = 127 // contracts' EXIT_NOT_FOUND
	signalExitBase = 128 // contracts' SIGNAL_EXIT_BASE
	maxSignal      = 64
	sigkill        = 9
	sigterm        = 15
	// exitShellSyntax is what /bin/sh answers for a command line it cannot parse.
	exitShellSyntax = 2
)

var (
	exitScript = regexp.MustCompile(`^\s*exit\s+(\d+)\s*$`)
	// echoScript is `echo TEXT; exit N` or `echo TEXT >&2; exit N` (TEXT may be empty).
	// The redirection must stand apart from TEXT: `echo a1>&2` is refused, not misread as `a 1>&2`.
	echoScript   = regexp.MustCompile(`^\s*echo(?:\s+(.*?))??(?:\s+(1?>&2))?\s*;\s*exit\s+(\d+)\s*$`)
	sleepSeconds = regexp.MustCompile(`^(\d+(\.\d*)?|\.\d+)$`)
	// trapsTerm is a line that makes a script ignore SIGTERM, as contracts' ignoresSigterm reads
	// it: `trap '' TERM` or `trap "" TERM`, SIGTERM or 15 for TERM, blanks between the words and
	// white space (a CR too) around them.
	trapsTerm = regexp.MustCompile(`(?m)^[ \t\r\f\v]*trap[ \t]+(?:''|"")[ \t]+(?:TERM|SIGTERM|15)[ \t\r\f\v]*$`)
)

// ignoresSigterm reports whether an executable file with this content ignores SIGTERM.
func ignoresSigterm(content []byte) bool { return trapsTerm.Match(content) }

// startProgram runs spec in g following the program semantics of contracts/src/programs.ts and
// contracts/src/program-output.ts and returns the new process. g.mu is held by the caller; exit
// callbacks of /bin/sleep take it.
func (g *guests) startProgram(vm *guestVM, spec types.GuestProgramSpec, owner string, now time.Time) *guestProcess {
	vm.nextPid++
	cmdLine := spec.ProgramPath
	if spec.Arguments != "" {
		cmdLine += " " + spec.Arguments
	}
	proc := &guestProcess{
		pid:     vm.nextPid,
		name:    path.Base(spec.ProgramPath),
		owner:   owner,
		cmdLine: cmdLine,
		start:   now,
	}
	vm.procs[proc.pid] = proc

	cwd := spec.WorkingDirectory
	if cwd == "" {
		cwd = "/"
	}
	args, ok := splitArgs(spec.Arguments)
	if !ok {
		proc.exit(exitShellSyntax, now)
		return proc
	}
	// Started without the capture wrapper, a program's output goes nowhere.
	g.run(vm, proc, spec.ProgramPath, args, cwd, &output{vm: vm}, now)
	return proc
}

// run makes proc run program with args, its output going to out. proc may already carry the
// name of the shell that exec'd program; a program that starts takes the name over.
func (g *guests) run(vm *guestVM, proc *guestProcess, program string, args []string, cwd string, out *output, now time.Time) {
	switch program {
	case "/bin/true":
		proc.exit(0, now)
	case "/bin/false":
		proc.exit(1, now)
	case "/bin/sleep":
		g.sleep(vm, proc, args, now)
	case "/bin/sh":
		if capture, ok := parseCapture(args); ok {
			g.runCaptured(vm, proc, capture, cwd, now)
			return
		}
		proc.exit(shell(args, out, now), now)
	case "/bin/cp":
		proc.exit(vm.copyFile(args, cwd, out, now), now)
	case "/bin/kill":
		proc.exit(vm.kill(args, now), now)
	case "/bin/echo":
		out.stdout([]byte(strings.Join(args, " ")+"\n"), now)
		proc.exit(0, now)
	case "/bin/cat":
		proc.exit(vm.cat(args, cwd, out, now), now)
	default:
		node, err := vm.fs.lookup(resolvePath(program, cwd))
		if err != nil || node.dir || node.mode&0o111 == 0 {
			out.stderr([]byte(program+": not found\n"), now)
			proc.exit(exitNotFound, now)
			return
		}
		// An executable file runs until it is signalled; one that traps SIGTERM outlives it.
		proc.ignoresTerm = ignoresSigterm(node.data)
	}
	proc.name = path.Base(program)
}

func (g *guests) sleep(vm *guestVM, proc *guestProcess, args []string, now time.Time) {
	if len(args) != 1 || !sleepSeconds.MatchString(args[0]) {
		proc.exit(1, now)
		return
	}
	seconds, err := strconv.ParseFloat(args[0], 64)
	if err != nil || seconds > 1e9 {
		proc.exit(1, now)
		return
	}
	d := time.Duration(seconds * float64(time.Second))
	if d <= 0 {
		proc.exit(0, now)
		return
	}
	proc.timer = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		// The process may have been signalled, or the VM powered off, meanwhile.
		if vm.procs[proc.pid] == proc && proc.running() {
			proc.exit(0, time.Now())
		}
	})
}

// shell runs the scripts of /bin/sh -c this guest understands: `exit N`, `echo TEXT; exit N`
// and `echo TEXT >&2; exit N` (N 0–255). Any other script is a command it does not have.
func shell(args []string, out *output, now time.Time) int32 {
	if len(args) < 2 || args[0] != "-c" {
		return exitNotFound
	}
	script := args[1]
	if m := exitScript.FindStringSubmatch(script); m != nil {
		return exitStatus(m[1])
	}
	m := echoScript.FindStringSubmatch(script)
	if m == nil {
		return exitNotFound
	}
	words, ok := echoWords(m[1])
	code := exitStatus(m[3])
	if !ok || code == exitNotFound {
		return exitNotFound
	}
	text := []byte(strings.Join(words, " ") + "\n")
	if m[2] != "" {
		out.stderr(text, now)
	} else {
		out.stdout(text, now)
	}
	return code
}

// exitStatus is the status `exit N` ends a script with, 127 for an N the guest refuses.
func exitStatus(n string) int32 {
	code, err := strconv.Atoi(n)
	if err != nil || code > 255 {
		return exitNotFound
	}
	return int32(code)
}

// echoWords splits the TEXT of `echo TEXT` into words as the shell does. Text that the shell
// would read as more than plain words (a second command, a redirection, an expansion) is
// refused: this guest runs only the scripts above.
func echoWords(text string) ([]string, bool) {
	quote := byte(0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\':
			i++
		case quote == '"':
			if c == '"' {
				quote = 0
			} else if c == '$' || c == '`' {
				return nil, false
			}
		case c == '\'' || c == '"':
			quote = c
		case strings.IndexByte(";&|<>()$`*?[#~{}", c) >= 0:
			return nil, false
		}
	}
	return splitArgs(text)
}

// copyFile is /bin/cp SRC DST: relative paths against cwd, DST may be a directory, a new file
// takes SRC's mode and an existing one keeps its own. A missing SRC is reported on stderr in
// the words of contracts' ExitMessage.copySourceMissing.
func (vm *guestVM) copyFile(args []string, cwd string, out *output, now time.Time) int32 {
	if len(args) != 2 {
		return 1
	}
	src, dst := resolvePath(args[0], cwd), resolvePath(args[1], cwd)
	from, err := vm.fs.fileAt(src)
	if err != nil {
		out.stderr([]byte("cp: cannot stat '"+args[0]+"': No such file or directory\n"), now)
		return 1
	}
	if node, err := vm.fs.lookup(dst); err == nil && node.dir {
		dst = path.Join(dst, path.Base(src))
	}
	var mode *uint32
	if _, err := vm.fs.lookup(dst); err != nil {
		m := from.mode
		mode = &m
	}
	if vm.fs.writeFile(dst, from.data, mode, nil, nil, true, now) != nil {
		return 1
	}
	from.atime = now
	return 0
}

// kill is /bin/kill [-N] PID: N defaults to SIGTERM, 0 only checks that PID runs.
func (vm *guestVM) kill(args []string, now time.Time) int32 {
	signal := sigterm
	switch {
	case len(args) == 2 && strings.HasPrefix(args[0], "-"):
		n, err := strconv.Atoi(args[0][1:])
		if err != nil || n < 0 || n > maxSignal {
			return 1
		}
		signal = n
		args = args[1:]
	case len(args) != 1:
		return 1
	}
	pid, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		return 1
	}
	target, ok := vm.procs[pid]
	if !ok || !target.running() {
		return 1
	}
	if signal != 0 {
		target.signal(signal, now)
	}
	return 0
}

// processList returns the processes with the given pids (all when pids is empty), by pid,
// after forgetting exited ones older than the retention (vSphere keeps them about 5 minutes).
func (g *guests) processList(vm *guestVM, pids []int64, now time.Time) []*guestProcess {
	if g.exitedRetention > 0 {
		for pid, p := range vm.procs {
			if !p.running() && now.Sub(*p.end) > g.exitedRetention {
				delete(vm.procs, pid)
			}
		}
	}
	var out []*guestProcess
	if len(pids) == 0 {
		for _, p := range vm.procs {
			out = append(out, p)
		}
	} else {
		seen := map[int64]bool{}
		for _, pid := range pids {
			if p, ok := vm.procs[pid]; ok && !seen[pid] {
				seen[pid] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// splitArgs splits a command line as a POSIX shell splits words (the same rules as contracts'
// splitExecArgs): white space separates, single quotes are literal, double quotes allow
// backslash escapes of " \ $ and `, a backslash outside quotes escapes the next character.
// It reports false on an unterminated quote or a trailing backslash.
func splitArgs(s string) ([]string, bool) {
	var words []string
	var word strings.Builder
	inWord := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, false
			}
			word.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			i++
			closed := false
			for i < len(s) {
				d := s[i]
				if d == '"' {
					closed = true
					i++
					break
				}
				if d == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					word.WriteByte(s[i+1])
					i += 2
				} else {
					word.WriteByte(d)
					i++
				}
			}
			if !closed {
				return nil, false
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, false
			}
			word.WriteByte(s[i+1])
			inWord = true
			i += 2
		default:
			word.WriteByte(c)
			inWord = true
			i++
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, true
}
