package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"
)

type selfSignedCertificate struct {
	tls        tls.Certificate
	pem        string
	thumbprint string // SHA-256 of the DER certificate, "AB:CD:…", as vSphere shows thumbprints
}

// newSelfSignedCertificate makes a certificate for 127.0.0.1, ::1 and localhost that can also
// serve as its own CA, so clients can trust it by PEM or pin it by thumbprint.
func newSelfSignedCertificate() (*selfSignedCertificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"portlayer vcsim harness"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating the TLS certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return &selfSignedCertificate{
		tls:        tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem:        string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		thumbprint: strings.Join(hexes, ":"),
	}, nil
}

func newTLSListener(inner net.Listener, cert *selfSignedCertificate) net.Listener {
	return tls.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{cert.tls},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
}
