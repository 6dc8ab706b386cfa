package main

import (
	"regexp"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// The vSphere backend starts every process through /bin/sh so that its output lands in guest
// files it can read back with guest file transfers (packages/vsphere/src/output-capture.ts):
//
//	/bin/sh -c 'mkdir -p DIR && exec PROG ARGS >OUT 2>ERR'
//
// The same command works on a real Linux guest; the emulated guest recognises exactly this
// script and does what a shell would: it creates DIR, truncates OUT and ERR, and lets the
// process become PROG (same pid), writing to them.

// captureScript is the wrapper's script once /bin/sh's -c argument is unquoted. PROG ARGS is
// the user's command line verbatim; the redirections are the last words of the script.
var captureScript = regexp.MustCompile(`^\s*mkdir\s+-p\s+(\S+)\s+&&\s+exec\s+(.+)\s+>\s*(\S+)\s+2>\s*(\S+)\s*$`)

// capture is a parsed capture wrapper.
type capture struct {
	dir, stdout, stderr string
	command             string // PROG ARGS, still to be split
}

// parseCapture recognises /bin/sh's arguments as the capture wrapper.
func parseCapture(args []string) (capture, bool) {
	if len(args) != 2 || args[0] != "-c" {
		return capture{}, false
	}
	m := captureScript.FindStringSubmatch(args[1])
	if m == nil {
		return capture{}, false
	}
	words := make([]string, 0, 3)
	for _, w := range []string{m[1], m[3], m[4]} {
		split, ok := splitArgs(w)
		if !ok || len(split) != 1 || split[0] == "" {
			return capture{}, false
		}
		words = append(words, split[0])
	}
	return capture{dir: words[0], command: m[2], stdout: words[1], stderr: words[2]}, true
}

// runCaptured runs the wrapper's script in proc as a shell would: a command line it cannot
// parse exits 2 before anything runs; mkdir failing ends it with 1; a redirection that cannot
// be opened ends it with 2; otherwise PROG runs in proc (exec keeps the pid) with its output
// in the files. A PROG that is not found is reported on ERR by the shell, which exits 127.
func (g *guests) runCaptured(vm *guestVM, proc *guestProcess, c capture, cwd string, now time.Time) {
	words, ok := splitArgs(c.command)
	if !ok || len(words) == 0 {
		proc.exit(exitShellSyntax, now)
		return
	}
	dir := resolvePath(c.dir, cwd)
	if err := vm.fs.mkdir(dir, true, now); err != nil {
		if node, lookupErr := vm.fs.lookup(dir); lookupErr != nil || !node.dir {
			proc.exit(1, now)
			return
		}
	}
	out := &output{vm: vm}
	for _, f := range []struct {
		path string
		to   *string
	}{{c.stdout, &out.stdoutPath}, {c.stderr, &out.stderrPath}} {
		p := resolvePath(f.path, cwd)
		if vm.fs.writeFile(p, []byte{}, nil, nil, nil, true, now) != nil {
			proc.exit(exitShellSyntax, now)
			return
		}
		*f.to = p
	}
	g.run(vm, proc, words[0], words[1:], cwd, out, now)
}

// output is where a process's stdout and stderr go: guest files under the capture wrapper,
// nowhere (empty paths) without it.
type output struct {
	vm                     *guestVM
	stdoutPath, stderrPath string
}

func (o *output) stdout(data []byte, now time.Time) { o.write(o.stdoutPath, data, now) }
func (o *output) stderr(data []byte, now time.Time) { o.write(o.stderrPath, data, now) }

// write appends data to the file at p. The file gets new data rather than growing in place, so
// a download initiated earlier keeps the bytes it was promised. A file removed meanwhile takes
// nothing (the shell's descriptor would point at an unlinked file).
func (o *output) write(p string, data []byte, now time.Time) {
	if p == "" || len(data) == 0 {
		return
	}
	node, err := o.vm.fs.fileAt(p)
	if err != nil {
		return
	}
	grown := make([]byte, 0, len(node.data)+len(data))
	grown = append(append(grown, node.data...), data...)
	node.data = grown
	node.mtime = now
}

// cat is /bin/cat FILE…: each file (relative to cwd) to stdout in order; one that cannot be read
// is reported on stderr as GNU cat words it, and makes cat exit 1.
func (vm *guestVM) cat(args []string, cwd string, out *output, now time.Time) int32 {
	var code int32
	for _, name := range args {
		node, err := vm.fs.lookup(resolvePath(name, cwd))
		reason := ""
		switch {
		case err != nil:
			reason = "No such file or directory"
			if _, ok := err.(*types.NotADirectory); ok {
				reason = "Not a directory"
			}
		case node.dir:
			reason = "Is a directory"
		}
		if reason != "" {
			out.stderr([]byte("cat: "+name+": "+reason+"\n"), now)
			code = 1
			continue
		}
		node.atime = now
		out.stdout(node.data, now)
	}
	return code
}
