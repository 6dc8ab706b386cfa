package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const datastoreQuery = "?dcPath=DC0&dsName=LocalDS_0"

// folderRequest sends one /folder request (no session: the endpoint checks none, as vcsim's own
// PUT and GET) and returns its status and body. rawPath goes on the wire as written.
func folderRequest(t *testing.T, method, rawPath, body string) (int, string) {
	t.Helper()
	base, err := url.Parse(testHarness.ready.URL)
	if err != nil {
		t.Fatal(err)
	}
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base.Scheme+"://"+base.Host+rawPath, reader)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(data)
}

func expectStatus(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: HTTP %d, want %d", what, got, want)
	}
}

func TestDeleteOnFolderDeletesTheFile(t *testing.T) {
	path := "/folder/" + uniqueName("delete-test") + "/out%20put.txt" + datastoreQuery
	status, _ := folderRequest(t, http.MethodPut, path, "kept until deleted")
	expectStatus(t, "PUT", status, http.StatusOK)
	status, body := folderRequest(t, http.MethodGet, path, "")
	expectStatus(t, "GET", status, http.StatusOK)
	if body != "kept until deleted" {
		t.Fatalf("GET read %q", body)
	}

	status, body = folderRequest(t, http.MethodDelete, path, "")
	expectStatus(t, "DELETE", status, http.StatusOK)
	if body != "" {
		t.Fatalf("DELETE answered with a body: %q", body)
	}
	status, _ = folderRequest(t, http.MethodGet, path, "")
	expectStatus(t, "GET after DELETE", status, http.StatusNotFound)
	status, _ = folderRequest(t, http.MethodDelete, path, "")
	expectStatus(t, "a second DELETE", status, http.StatusNotFound)

	// PUT after DELETE writes the file again: the other methods still reach vcsim.
	status, _ = folderRequest(t, http.MethodPut, path, "again")
	expectStatus(t, "PUT after DELETE", status, http.StatusOK)
	status, body = folderRequest(t, http.MethodGet, path, "")
	if status != http.StatusOK || body != "again" {
		t.Fatalf("GET after a second PUT: HTTP %d %q", status, body)
	}
}

func TestDeleteOnFolderAnswers404ForWhatDoesNotExist(t *testing.T) {
	name := uniqueName("never-written")
	status, _ := folderRequest(t, http.MethodDelete, "/folder/"+name+datastoreQuery, "")
	expectStatus(t, "a missing file", status, http.StatusNotFound)

	file := "/folder/" + name + ".txt"
	status, _ = folderRequest(t, http.MethodPut, file+datastoreQuery, "x")
	expectStatus(t, "PUT", status, http.StatusOK)
	status, _ = folderRequest(t, http.MethodDelete, file+"/below-a-file"+datastoreQuery, "")
	expectStatus(t, "a path through a file", status, http.StatusNotFound)
	status, _ = folderRequest(t, http.MethodDelete, file+"?dcPath=DC0&dsName=NoSuchDS", "")
	expectStatus(t, "an unknown datastore", status, http.StatusNotFound)
	status, _ = folderRequest(t, http.MethodDelete, file+"?dcPath=NoSuchDC&dsName=LocalDS_0", "")
	expectStatus(t, "an unknown datacenter", status, http.StatusNotFound)
	status, _ = folderRequest(t, http.MethodGet, file+datastoreQuery, "")
	expectStatus(t, "the file after refused DELETEs", status, http.StatusOK)
}

func TestDeleteOnFolderRefusesDotDotAndFolders(t *testing.T) {
	dir := uniqueName("delete-guard")
	status, _ := folderRequest(t, http.MethodPut, "/folder/"+dir+"/keep.txt"+datastoreQuery, "keep")
	expectStatus(t, "PUT", status, http.StatusOK)

	for _, path := range []string{
		"/folder/" + dir + "/sub/../keep.txt",                   // stays inside, still refused
		"/folder/" + dir + "/%2e%2e/" + dir + "/keep.txt",       // encoded dots
		"/folder/" + dir + "%2F..%2F" + dir + "%2Fkeep.txt",     // encoded slashes
		"/folder/../folder/" + dir + "/keep.txt",                // out of the datastore and back
		"/folder/" + dir + "/../../../../../../../../etc/hosts", // out of the datastore
	} {
		status, _ := folderRequest(t, http.MethodDelete, path+datastoreQuery, "")
		expectStatus(t, "DELETE "+path, status, http.StatusBadRequest)
	}
	status, _ = folderRequest(t, http.MethodDelete, "/folder/"+datastoreQuery, "")
	expectStatus(t, "DELETE of the datastore itself", status, http.StatusBadRequest)
	status, _ = folderRequest(t, http.MethodDelete, "/folder/"+dir+datastoreQuery, "")
	expectStatus(t, "DELETE of a folder", status, http.StatusForbidden)

	status, body := folderRequest(t, http.MethodGet, "/folder/"+dir+"/keep.txt"+datastoreQuery, "")
	if status != http.StatusOK || body != "keep" {
		t.Fatalf("the file after refused DELETEs: HTTP %d %q", status, body)
	}
}
