package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

// vcsim 0.24's /folder handler hands a DELETE to a plain file server, which answers it like a GET
// and keeps the file; vCenter deletes the file. The harness answers DELETE itself, as vCenter
// does, and leaves the other methods to vcsim. Like vcsim's PUT and GET, it checks no session.

const folderPrefix = "/folder/"

// datastoreFiles finds the local directory behind a /folder URL's datastore.
type datastoreFiles struct {
	client *vim25.Client // in-process: its calls are neither counted nor planned by the front
}

func newDatastoreFiles(svc *simulator.Service) (*datastoreFiles, error) {
	client, err := vim25.NewClient(context.Background(), svc)
	if err != nil {
		return nil, err
	}
	return &datastoreFiles{client: client}, nil
}

func isDatastoreDelete(r *http.Request) bool {
	return r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, folderPrefix)
}

// directory is the local directory of the datastore a /folder query names, found as vcsim finds
// it for PUT and GET (dcPath and dsName, each defaulting to the only one there is).
func (d *datastoreFiles) directory(r *http.Request) (string, bool) {
	ctx := r.Context()
	query := r.URL.Query()
	finder := find.NewFinder(d.client, false)
	dc, err := finder.DatacenterOrDefault(ctx, query.Get("dcPath"))
	if err != nil {
		return "", false
	}
	finder.SetDatacenter(dc)
	ds, err := finder.DatastoreOrDefault(ctx, query.Get("dsName"))
	if err != nil {
		return "", false
	}
	obj, ok := simulator.Map.Get(ds.Reference()).(*simulator.Datastore)
	if !ok {
		return "", false
	}
	var dir string
	simulator.Map.WithLock(obj, func() { dir = obj.Info.GetDatastoreInfo().Url })
	return dir, dir != ""
}

// serveDelete deletes the file a /folder URL names: 200 without a body, 404 if the datastore or
// the file does not exist. A path with a ".." segment (encoded or not) is refused with 400 before
// anything is looked up, whether or not it would leave the datastore; a folder is refused with
// 403 (the harness deletes files only).
func (d *datastoreFiles) serveDelete(w http.ResponseWriter, r *http.Request) {
	rel := strings.TrimPrefix(r.URL.Path, folderPrefix) // decoded: %2F and %2E%2E are seen here
	for _, segment := range strings.Split(rel, "/") {
		if segment == ".." {
			http.Error(w, "a datastore path may not contain ..", http.StatusBadRequest)
			return
		}
	}
	if strings.Trim(rel, "/") == "" {
		http.Error(w, "a datastore path names a file", http.StatusBadRequest)
		return
	}
	dir, ok := d.directory(r)
	if !ok {
		http.Error(w, "no such datastore", http.StatusNotFound)
		return
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	info, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		http.Error(w, "no such file", http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, "the file could not be read", http.StatusInternalServerError)
		return
	case info.IsDir():
		http.Error(w, "a folder is not deleted over HTTP", http.StatusForbidden)
		return
	}
	if err := os.Remove(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "no such file", http.StatusNotFound) // deleted by another request meanwhile
			return
		}
		http.Error(w, "the file could not be deleted", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}
