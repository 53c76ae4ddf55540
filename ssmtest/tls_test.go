package ssmtest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// TestTLSServer: a TLS server serves the API over https and stream URLs over wss, AWSConfig trusts its CA,
// the CA is handed out as PEM and as a file, and the upgrade's signature is checked as over plain ws.
func TestTLSServer(t *testing.T) {
	s := NewUnstartedServer(&Options{Credentials: map[string]string{testAccessKey: testSecretKey}})
	s.startAgent = startFakeAgent
	s.StartTLS()
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https://127.0.0.1:port", s.URL)
	}
	out, err := ssm.NewFromConfig(withSecret(s, testSecretKey)).StartSession(testkit.Context(t),
		&ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if err != nil {
		t.Fatalf("StartSession over https: %v", err)
	}
	url := *out.StreamUrl
	if !strings.HasPrefix(url, "wss://127.0.0.1:") {
		t.Fatalf("stream URL %q, want wss://", url)
	}

	fileBytes, err := os.ReadFile(s.CAFile())
	if err != nil || string(fileBytes) != string(s.CACertPEM()) {
		t.Fatalf("CAFile holds %q (%v), want CACertPEM", fileBytes, err)
	}
	blk, _ := pem.Decode(s.CACertPEM())
	ca, err := x509.ParseCertificate(blk.Bytes)
	if err != nil || !ca.IsCA {
		t.Fatalf("CACertPEM is not a CA certificate: %v", err)
	}
	if _, err := s.Certificate().Verify(x509.VerifyOptions{Roots: s.CertPool(), DNSName: DefaultHostname}); err != nil {
		t.Errorf("certificate does not verify for %s: %v", DefaultHostname, err)
	}

	// Without the CA: refused.
	if _, _, err := websocket.DefaultDialer.Dial(url, upgradeHeader(t, url)); !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Fatalf("dial without the CA: %v, want a certificate verification error", err)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: s.CertPool()}}
	// Unsigned: refused with 403, as over ws.
	if _, resp, err := d.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned upgrade over wss: %v, want 403", err)
	}
	ws, _, err := d.Dial(url, upgradeHeader(t, url))
	if err != nil {
		t.Fatalf("signed upgrade over wss: %v", err)
	}
	defer ws.Close()
	st := s.Stats().Upgrades
	if st.Signed != 1 || st.Refused != 1 {
		t.Errorf("upgrades %+v, want 1 signed and 1 refused", st)
	}
	hellos := s.ClientHellos()
	if len(hellos) == 0 || hellos[len(hellos)-1].MinVersion < tls.VersionTLS10 {
		t.Errorf("ClientHellos %+v", hellos)
	}
	s.Close()
	if _, err := os.Stat(s.CAFile()); !os.IsNotExist(err) {
		t.Errorf("CA file after Close: %v, want removed", err)
	}
}

// TestTLSOptions: Hostname names the URL's host and the certificate; Names and NotAfter make certificates a
// client must refuse.
func TestTLSOptions(t *testing.T) {
	s := NewTLSServer(&Options{Hostname: "api.example.test"})
	t.Cleanup(s.Close)
	if !strings.HasPrefix(s.URL, "https://api.example.test:") {
		t.Errorf("URL %q, want the Hostname", s.URL)
	}
	if _, err := s.Certificate().Verify(x509.VerifyOptions{Roots: s.CertPool(), DNSName: "api.example.test"}); err != nil {
		t.Errorf("certificate does not name Hostname: %v", err)
	}

	e := NewTLSServer(&Options{TLS: TLSOptions{Names: []string{"other.example"}, NotAfter: time.Now().Add(-time.Minute)}})
	t.Cleanup(e.Close)
	_, err := e.Certificate().Verify(x509.VerifyOptions{Roots: e.CertPool(), DNSName: "other.example"})
	var inv x509.CertificateInvalidError
	if !errors.As(err, &inv) || inv.Reason != x509.Expired {
		t.Errorf("expired certificate verifies with %v, want Expired", err)
	}
	if err := e.Certificate().VerifyHostname("localhost"); err == nil {
		t.Error("certificate with Names [other.example] names localhost")
	}
}

// TestPlainServerHasNoCA: a plain server has no TLS material.
func TestPlainServerHasNoCA(t *testing.T) {
	s := newTestServer(t, nil, true)
	if s.CACertPEM() != nil || s.CAFile() != "" || s.Certificate() != nil || s.CertPool() != nil {
		t.Error("plain server hands out TLS material")
	}
}
