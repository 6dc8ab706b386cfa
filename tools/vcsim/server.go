package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vmware/govmomi/simulator"
)

type options struct {
	tls             bool
	watchStdin      bool
	exitedRetention time.Duration
}

type credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// readyInfo is the one JSON line printed at start-up.
type readyInfo struct {
	URL            string      `json:"url"`
	Username       string      `json:"username"`
	Password       string      `json:"password"`
	Thumbprint     string      `json:"thumbprint,omitempty"`
	CertificatePem string      `json:"certificatePem,omitempty"`
	Guest          credentials `json:"guest"`
	AdminURL       string      `json:"adminUrl"`
}

type harness struct {
	model  *simulator.Model
	guests *guests
	sdk    *http.Server
	admin  *http.Server
	ready  readyInfo
}

// start builds the VPX inventory, wraps it and serves it on free loopback ports.
func start(opts options) (*harness, error) {
	model := simulator.VPX()
	if err := model.Create(); err != nil {
		return nil, fmt.Errorf("creating the VPX model: %w", err)
	}
	h := &harness{model: model}
	ok := false
	defer func() {
		if !ok {
			h.close()
		}
	}()

	sdkListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	adminListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = sdkListener.Close()
		return nil, err
	}

	scheme := "http"
	if opts.tls {
		scheme = "https"
	}
	host := sdkListener.Addr().String()
	h.ready = readyInfo{
		URL:      (&url.URL{Scheme: scheme, Host: host, Path: "/sdk"}).String(),
		Username: "administrator@vsphere.local",
		Password: randomSecret(),
		Guest:    credentials{Username: "root", Password: randomSecret()},
		AdminURL: (&url.URL{Scheme: "http", Host: adminListener.Addr().String(), Path: "/admin"}).String(),
	}

	// Instead of Service.NewServer (which opens its own listener), the harness registers vcsim's
	// handlers on vcsim's mux and serves that mux from its own server, so that it controls TLS,
	// the listener and what happens in front of /sdk.
	svc := model.Service
	svc.Listen = &url.URL{
		Scheme: scheme,
		Host:   host,
		Path:   "/sdk",
		User:   url.UserPassword(h.ready.Username, h.ready.Password),
	}
	svc.RegisterSDK(simulator.Map)
	mux := svc.ServeMux
	mux.HandleFunc("/sdk/vimServiceVersions.xml", svc.ServiceVersions)
	mux.HandleFunc("/folder/", svc.ServeDatastore)
	mux.HandleFunc("/about", svc.About)
	simulator.Map.SessionManager().ServiceHostName = host

	// The vCenter behaviours vcsim lacks follow the inventory through RegisterObject handlers.
	versions := newVersionKeeper(newCloneFinisher(h.ready.Username))
	_, port, _ := net.SplitHostPort(host)
	h.guests = newGuests(h.ready.Guest, opts.exitedRetention, newTransfers(scheme, port))
	boots := bootTimes{}
	simulator.Map.AddHandler(versions)
	simulator.Map.AddHandler(h.guests)
	simulator.Map.AddHandler(boots)
	versions.adopt()
	h.guests.adopt()
	boots.adopt()
	installPagingCollector(model)
	if err := installGuestManagers(model, h.guests); err != nil {
		_ = sdkListener.Close()
		_ = adminListener.Close()
		return nil, err
	}

	datastores, err := newDatastoreFiles(svc)
	if err != nil {
		_ = sdkListener.Close()
		_ = adminListener.Close()
		return nil, err
	}

	plan, sessions := newFaultPlan(), &sessionKeys{}
	front := &sdkFront{inner: mux, plan: plan, sessions: sessions, versions: versions, names: &nameGuard{}, slows: &slowTasks{}}
	h.sdk = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/sdk":
				front.ServeHTTP(w, r)
			case "/guestFile":
				h.guests.serveTransfer(w, r)
			default:
				if isDatastoreDelete(r) {
					datastores.serveDelete(w, r)
					return
				}
				mux.ServeHTTP(w, r)
			}
		}),
		ReadHeaderTimeout: 30 * time.Second,
	}
	h.admin = &http.Server{Handler: adminHandler(plan, sessions), ReadHeaderTimeout: 30 * time.Second}

	var listener net.Listener = sdkListener
	if opts.tls {
		cert, err := newSelfSignedCertificate()
		if err != nil {
			_ = sdkListener.Close()
			_ = adminListener.Close()
			return nil, err
		}
		h.ready.Thumbprint = cert.thumbprint
		h.ready.CertificatePem = cert.pem
		// HTTP/1.1 only, as vCenter's SDK endpoint: a dropped response must close the connection
		// (under HTTP/2 it would only reset a stream).
		listener = newTLSListener(sdkListener, cert)
	}
	go func() { _ = h.sdk.Serve(listener) }()
	go func() { _ = h.admin.Serve(adminListener) }()
	ok = true
	return h, nil
}

func (h *harness) close() {
	if h.sdk != nil {
		_ = h.sdk.Close()
	}
	if h.admin != nil {
		_ = h.admin.Close()
	}
	// Removes the temporary directories that back the model's datastores.
	h.model.Remove()
}

// randomSecret returns a fresh password; each harness run has its own.
func randomSecret() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b), "=")
}
