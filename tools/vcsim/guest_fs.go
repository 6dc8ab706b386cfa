package main

import (
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

// fsNode is a file or a directory of an emulated guest. File data is never changed in place
// (a write replaces the slice), so a transfer can hand out a snapshot without copying.
type fsNode struct {
	dir      bool
	mode     uint32 // permission bits, 0–07777
	uid, gid int32
	mtime    time.Time
	atime    time.Time
	data     []byte
	children map[string]*fsNode
}

// guestFS is a VM's file system; it lives as long as the VM, across power cycles.
type guestFS struct {
	root *fsNode
}

// defaultDirectories are those a new container's file system has (see contracts' DEFAULT_DIRECTORIES).
var defaultDirectories = []string{"/bin", "/etc", "/tmp", "/usr/local/bin"}

func newGuestFS(now time.Time) *guestFS {
	fs := &guestFS{root: newDir(0o755, now)}
	for _, dir := range defaultDirectories {
		_ = fs.mkdir(dir, true, now)
	}
	fs.root.children["tmp"].mode = 0o1777
	return fs
}

func newDir(mode uint32, now time.Time) *fsNode {
	return &fsNode{dir: true, mode: mode, mtime: now, atime: now, children: map[string]*fsNode{}}
}

// resolvePath makes p absolute against cwd and cleans it ("." and ".." resolved lexically).
func resolvePath(p, cwd string) string {
	if !strings.HasPrefix(p, "/") {
		if cwd == "" {
			cwd = "/"
		}
		p = cwd + "/" + p
	}
	return path.Clean(p)
}

func segments(p string) []string {
	p = path.Clean(p)
	if p == "/" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// lookup finds the node at absolute path p.
func (fs *guestFS) lookup(p string) (*fsNode, types.BaseMethodFault) {
	node := fs.root
	walked := ""
	for _, name := range segments(p) {
		if !node.dir {
			return nil, notADirectory(walked)
		}
		walked += "/" + name
		child, ok := node.children[name]
		if !ok {
			return nil, fileNotFound(walked)
		}
		node = child
	}
	return node, nil
}

// parentOf returns the directory that holds (or would hold) absolute path p, and p's base name.
func (fs *guestFS) parentOf(p string) (*fsNode, string, types.BaseMethodFault) {
	p = path.Clean(p)
	if p == "/" {
		return nil, "", &types.InvalidArgument{InvalidProperty: "path"}
	}
	dir, err := fs.lookup(path.Dir(p))
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", notADirectory(path.Dir(p))
	}
	return dir, path.Base(p), nil
}

// mkdir creates directory p, and its missing parents when parents is set.
func (fs *guestFS) mkdir(p string, parents bool, now time.Time) types.BaseMethodFault {
	node := fs.root
	walked := ""
	names := segments(p)
	for i, name := range names {
		walked += "/" + name
		child, ok := node.children[name]
		last := i == len(names)-1
		switch {
		case ok && last:
			return &types.FileAlreadyExists{FileFault: types.FileFault{File: walked}}
		case ok && !child.dir:
			return notADirectory(walked)
		case !ok && !last && !parents:
			return fileNotFound(walked)
		case !ok:
			child = newDir(0o755, now)
			node.children[name] = child
			node.mtime = now
		}
		node = child
	}
	if len(names) == 0 {
		return &types.FileAlreadyExists{FileFault: types.FileFault{File: "/"}}
	}
	return nil
}

// fileAt returns the regular file at p.
func (fs *guestFS) fileAt(p string) (*fsNode, types.BaseMethodFault) {
	node, err := fs.lookup(p)
	if err != nil {
		return nil, err
	}
	if node.dir {
		return nil, &types.NotAFile{FileFault: types.FileFault{File: p}}
	}
	return node, nil
}

// checkWritable says whether a file may be written at p: its directory exists, p is not a
// directory, and p does not exist unless overwrite is set.
func (fs *guestFS) checkWritable(p string, overwrite bool) types.BaseMethodFault {
	dir, name, err := fs.parentOf(p)
	if err != nil {
		return err
	}
	if existing, ok := dir.children[name]; ok {
		if existing.dir {
			return &types.NotAFile{FileFault: types.FileFault{File: p}}
		}
		if !overwrite {
			return &types.FileAlreadyExists{FileFault: types.FileFault{File: p}}
		}
	}
	return nil
}

// writeFile stores data at p. A nil mode keeps an existing file's mode (new files get 0644).
func (fs *guestFS) writeFile(p string, data []byte, mode *uint32, uid, gid *int32, overwrite bool, now time.Time) types.BaseMethodFault {
	if err := fs.checkWritable(p, overwrite); err != nil {
		return err
	}
	dir, name, _ := fs.parentOf(p)
	node, ok := dir.children[name]
	if !ok {
		node = &fsNode{mode: 0o644}
		dir.children[name] = node
		dir.mtime = now
	}
	node.data = data
	node.mtime, node.atime = now, now
	if mode != nil {
		node.mode = *mode & 0o7777
	}
	if uid != nil {
		node.uid = *uid
	}
	if gid != nil {
		node.gid = *gid
	}
	return nil
}

func (n *fsNode) posixAttributes() *types.GuestPosixFileAttributes {
	uid, gid := n.uid, n.gid
	mtime, atime := n.mtime, n.atime
	return &types.GuestPosixFileAttributes{
		GuestFileAttributes: types.GuestFileAttributes{ModificationTime: &mtime, AccessTime: &atime},
		OwnerId:             &uid,
		GroupId:             &gid,
		Permissions:         int64(n.mode),
	}
}

func fileNotFound(p string) types.BaseMethodFault {
	return &types.FileNotFound{FileFault: types.FileFault{File: p}}
}

func notADirectory(p string) types.BaseMethodFault {
	return &types.NotADirectory{FileFault: types.FileFault{File: p}}
}
