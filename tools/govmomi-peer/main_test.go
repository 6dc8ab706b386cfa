package main

import (
	"net/url"
	"testing"

	"github.com/vmware/govmomi/vim25/soap"
)

// The expected strings were printed by the backend's own captureCommand and datastoreUrl
// (packages/vsphere/src), so the peer and the backend send the guest and the datastore the same
// command lines and paths.

func TestCaptureCommandQuotesAsTheBackend(t *testing.T) {
	cases := []struct{ id, path, args, want string }{
		{"11111111-2222-4333-8444-555555555555", "/bin/sleep", "3600",
			`-c 'mkdir -p /var/log/portlayer && exec /bin/sleep 3600 >/var/log/portlayer/11111111-2222-4333-8444-555555555555.stdout 2>/var/log/portlayer/11111111-2222-4333-8444-555555555555.stderr'`},
		{"p", "/bin/echo", "it's",
			`-c 'mkdir -p /var/log/portlayer && exec /bin/echo it'\''s >/var/log/portlayer/p.stdout 2>/var/log/portlayer/p.stderr'`},
	}
	for _, c := range cases {
		program, args := captureCommand(c.id, c.path, c.args)
		if program != "/bin/sh" || args != c.want {
			t.Errorf("captureCommand(%q, %q, %q) = %q %q, want /bin/sh %q", c.id, c.path, c.args, program, args, c.want)
		}
	}
}

func TestDatastoreURLIsTheBackendsFolderForm(t *testing.T) {
	u, _ := url.Parse("https://127.0.0.1:8989/sdk")
	p := &peer{soap: soap.NewClient(u, false), datacenter: "DC0", datastore: "LocalDS_0"}
	got := p.datastoreURL("aaaaaaaa-2222-4333-8444-555555555555", "11111111-2222-4333-8444-555555555555", "stdout").String()
	want := "https://127.0.0.1:8989/folder/portlayer-output/aaaaaaaa-2222-4333-8444-555555555555/11111111-2222-4333-8444-555555555555.stdout?dcPath=DC0&dsName=LocalDS_0"
	if got != want {
		t.Errorf("datastoreURL = %s, want %s", got, want)
	}
}

func TestGuestURLReplacesTheStarHost(t *testing.T) {
	u, _ := url.Parse("https://127.0.0.1:8989/sdk")
	p := &peer{soap: soap.NewClient(u, false)}
	got, err := p.guestURL("https://*:8989/guestFile?id=1&token=x")
	if err != nil || got.String() != "https://127.0.0.1:8989/guestFile?id=1&token=x" {
		t.Errorf("guestURL = %v, %v", got, err)
	}
}
