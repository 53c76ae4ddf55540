package ssmwire_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// loadTLSConfig loads the SDK configuration as a program would, from the environment only, for a TLS
// emulator.
func loadTLSConfig(t *testing.T, srv *ssmtest.Server) aws.Config {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", ssmtest.DefaultAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ssmtest.DefaultSecretAccessKey)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(ssmtest.DefaultRegion))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseEndpoint = aws.String(srv.URL)
	return cfg
}

// TestCABundleAloneLibrary: AWS_CA_BUNDLE, which config.LoadDefaultConfig turns into the HTTP client's roots,
// is all NewFromAWSConfig needs: the data channel trusts what the API calls trust.
func TestCABundleAloneLibrary(t *testing.T) {
	srv := newTLSServer(t, nil)
	t.Setenv("AWS_CA_BUNDLE", srv.CAFile())
	c := ssmwire.NewFromAWSConfig(loadTLSConfig(t, srv))
	var out bytes.Buffer
	if err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "echo lib-over-tls", Stdout: &out}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(out.String(), "lib-over-tls") {
		t.Errorf("output %q", out.String())
	}
}

// TestUntrustedCertificateLibrary: without the CA, the library's error is typed, says what to set, and the
// session the API started is not left behind.
func TestUntrustedCertificateLibrary(t *testing.T) {
	srv := newTLSServer(t, nil)
	t.Setenv("AWS_CA_BUNDLE", "")
	// The API calls trust the emulator; the data channel is told to trust the system roots only.
	c := ssmwire.NewFromAWSConfig(srv.AWSConfig(), func(cfg *ssmwire.Config) {
		cfg.Session = &session.Config{Proxy: session.NoProxy, Dial: (&session.Dialer{}).Dial}
	})
	err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "echo never"})
	var ce *session.CertificateError
	if !errors.As(err, &ce) || ce.Reason != "unknown authority" || !strings.Contains(err.Error(), "AWS_CA_BUNDLE") {
		t.Fatalf("Run: %v, want a CertificateError for an unknown authority", err)
	}
	for _, id := range srv.SessionIDs() {
		waitEnded(t, srv, id)
	}
}

// newTLSServer is newServer over TLS.
func newTLSServer(t testing.TB, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	var o ssmtest.Options
	if opts != nil {
		o = *opts
	}
	o.NoPacing = true
	srv := ssmtest.NewTLSServer(&o)
	t.Cleanup(srv.Close)
	return srv
}

// TestHTTPSProxyLibrary: an https:// proxy in the aws.Config's HTTP client carries the API calls and the data
// channel of NewFromAWSConfig, trusted with the client's roots (the server's CA and the proxy's certificate).
// The server's name resolves only through the proxy, so a call or dial that bypasses it fails.
func TestHTTPSProxyLibrary(t *testing.T) {
	const host = "ssmtest.invalid"
	srv := newTLSServer(t, &ssmtest.Options{Hostname: host})
	p := testkit.NewProxy(t, true)
	p.Hosts[host] = "127.0.0.1"
	roots := srv.CertPool()
	roots.AddCert(p.Certificate())
	cfg := srv.AWSConfig()
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		tr.Proxy = http.ProxyURL(p.URL)
	})
	c := ssmwire.NewFromAWSConfig(cfg)
	var out bytes.Buffer
	if err := c.Run(testkit.Context(t), target, ssmwire.Command{Command: "echo via-https-proxy", Stdout: &out}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(out.String(), "via-https-proxy") {
		t.Errorf("output %q", out.String())
	}
	n := 0
	for _, tg := range p.Targets() {
		if tg == "CONNECT "+strings.TrimPrefix(srv.URL, "https://") {
			n++
		}
	}
	if n < 2 {
		t.Errorf("proxy saw %q: want CONNECTs for the API calls and the data channel", p.Targets())
	}
}
