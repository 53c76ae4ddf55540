package session_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// openTLS starts a shell session on srv and opens it with cfg's TLS and proxy settings (and srv's signing).
func openTLS(t *testing.T, srv *ssmtest.Server, cfg session.Config) (*session.Channel, session.Info, error) {
	t.Helper()
	// The API calls offer a protocol of their own, which tells their TLS handshakes from the data channel's.
	api := ssm.NewFromConfig(srv.AWSConfig(), func(o *ssm.Options) {
		o.HTTPClient = o.HTTPClient.(*awshttp.BuildableClient).WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig != nil {
				tr.TLSClientConfig.NextProtos = []string{"http/1.1", apiALPN}
			}
		})
	})
	ctx := testkit.Context(t)
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	info := session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue}
	cfg.SSM = api
	cfg.Credentials = api.Options().Credentials
	cfg.Region = api.Options().Region
	cfg.TrustedEndpoints = []string{srv.URL}
	cfg.ResumeBackoff = time.Millisecond
	s, err := session.Open(ctx, info, &cfg)
	if err == nil {
		t.Cleanup(func() { s.Close() })
	}
	return s, info, err
}

const apiALPN = "x-ssmtest-api"

// echo runs one shell round trip over s.
func echo(t *testing.T, s *session.Channel, word string) {
	t.Helper()
	if _, err := s.Write([]byte("echo " + word + "-$((6*7))\r")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(s)
	done := make(chan error, 1)
	go func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				done <- err
				return
			}
			if strings.Contains(line, word+"-42") {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waiting for %s-42: %v", word, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s-42 within 10 s", word)
	}
}

// TestTLSDataChannel: over wss the data channel trusts Config.TLSConfig's roots, sends SNI from the stream
// URL's host, offers only http/1.1 and TLS 1.2 or later, and every redial after ResumeSession does the same.
func TestTLSDataChannel(t *testing.T) {
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true, Hostname: "localhost"})
	t.Cleanup(srv.Close)
	// The SDK's transport adds h2 to the configuration it shares: the data channel must not offer it.
	tc := &tls.Config{RootCAs: srv.CertPool(), NextProtos: []string{"h2", "http/1.1"}}
	s, _, err := openTLS(t, srv, session.Config{TLSConfig: tc})
	if err != nil {
		t.Fatalf("Open over wss: %v", err)
	}
	echo(t, s, "first")
	srv.CloseClientConnections()
	echo(t, s, "resumed")
	if st := s.Stats(); st.Resumes < 1 {
		t.Fatalf("stats %+v: no resume", st)
	}
	var ws int
	for _, h := range srv.ClientHellos() {
		if slices.Contains(h.ALPN, apiALPN) {
			continue
		}
		if h.ServerName != "localhost" || len(h.ALPN) != 1 || h.ALPN[0] != "http/1.1" || h.MinVersion < tls.VersionTLS12 {
			t.Errorf("client hello %+v, want SNI localhost, ALPN [http/1.1], TLS 1.2 at least", h)
		}
		ws++
	}
	if ws < 2 {
		t.Errorf("%d TLS handshakes for the data channel, want the first and one after the resume", ws)
	}
	if len(tc.NextProtos) != 2 || tc.ServerName != "" {
		t.Errorf("caller's tls.Config modified: %+v", tc)
	}
}

// TestTLSCertificateErrors: a certificate the roots do not vouch for fails Open at once with a
// CertificateError naming the host and the reason, and never the token.
func TestTLSCertificateErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   ssmtest.Options
		trust  bool
		reason string
	}{
		{"unknown authority", ssmtest.Options{}, false, "unknown authority"},
		{"name mismatch", ssmtest.Options{TLS: ssmtest.TLSOptions{Names: []string{"elsewhere.example"}}}, true, "name mismatch"},
		{"expired", ssmtest.Options{TLS: ssmtest.TLSOptions{NotAfter: time.Now().Add(-time.Hour)}}, true, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ssmtest.NewTLSServer(&tc.opts)
			t.Cleanup(srv.Close)
			cfg := session.Config{}
			if tc.trust {
				cfg.TLSConfig = &tls.Config{RootCAs: srv.CertPool()}
			}
			// The API call trusts the server whatever its certificate: only the data channel is under test.
			api := ssm.NewFromConfig(srv.AWSConfig(), func(o *ssm.Options) {
				o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
					tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
				})
			})
			ctx := testkit.Context(t)
			out, err := api.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID)})
			if err != nil {
				t.Fatal(err)
			}
			cfg.TrustedEndpoints = []string{srv.URL}
			cfg.Credentials = api.Options().Credentials
			cfg.Region = api.Options().Region
			start := time.Now()
			_, err = session.Open(ctx, session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue}, &cfg)
			var ce *session.CertificateError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %v, want a CertificateError", err)
			}
			if ce.Reason != tc.reason || ce.Host != "127.0.0.1" || ce.Proxy {
				t.Errorf("CertificateError %+v, want host 127.0.0.1, reason %q", ce, tc.reason)
			}
			msg := err.Error()
			if !strings.Contains(msg, "127.0.0.1") || !strings.Contains(msg, tc.reason) || !strings.Contains(msg, "AWS_CA_BUNDLE") ||
				!strings.Contains(msg, "ca_bundle") || strings.Contains(msg, *out.TokenValue) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line with host, reason and AWS_CA_BUNDLE / ca_bundle, and no token", msg)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed after %v", d)
			}
		})
	}
}

// connectProxy is an HTTP proxy that serves CONNECT only, as tinyproxy or squid would, and records requests.
type connectProxy struct {
	srv    *httptest.Server
	status int    // answer to CONNECT instead of tunnelling, when not 0
	auth   string // required Proxy-Authorization, when not ""

	mu       sync.Mutex
	connects []string // targets, in order
	auths    []string
}

func newConnectProxy(t *testing.T, useTLS bool, status int, auth string) *connectProxy {
	p := &connectProxy{status: status, auth: auth}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	if useTLS {
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	t.Cleanup(p.srv.Close)
	return p
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.connects = append(p.connects, r.Host)
	p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
	p.mu.Unlock()
	switch {
	case p.auth != "" && r.Header.Get("Proxy-Authorization") != p.auth:
		w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	case p.status != 0:
		w.WriteHeader(p.status)
		return
	}
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
	rw.Flush()
	go func() { io.Copy(up, rw); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

func (p *connectProxy) url(user string) *url.URL {
	u, _ := url.Parse(p.srv.URL)
	if user != "" {
		u.User = url.UserPassword(user, "s3cret")
	}
	return u
}

func (p *connectProxy) seen() (connects, auths []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...), append([]string(nil), p.auths...)
}

// TestProxyCONNECT: the data channel goes through Config.Proxy with CONNECT, over plain http and https
// proxies, with the URL's credentials as Basic Proxy-Authorization, and redials through it after a resume.
func TestProxyCONNECT(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "http proxy"
		if useTLS {
			name = "https proxy"
		}
		t.Run(name, func(t *testing.T) {
			srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true})
			t.Cleanup(srv.Close)
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
			p := newConnectProxy(t, useTLS, 0, want)
			roots := srv.CertPool()
			if useTLS {
				roots.AddCert(p.srv.Certificate())
			}
			s, _, err := openTLS(t, srv, session.Config{
				TLSConfig: &tls.Config{RootCAs: roots},
				Proxy:     http.ProxyURL(p.url("alice")),
			})
			if err != nil {
				t.Fatalf("Open through the proxy: %v", err)
			}
			echo(t, s, "proxied")
			srv.CloseClientConnections()
			echo(t, s, "resumed")
			connects, auths := p.seen()
			host := strings.TrimPrefix(srv.URL, "https://")
			if len(connects) < 2 || connects[0] != host || connects[len(connects)-1] != host {
				t.Errorf("CONNECTs %q, want %s for the dial and the redial", connects, host)
			}
			for _, a := range auths {
				if a != want {
					t.Errorf("Proxy-Authorization %q, want %q", a, want)
				}
			}
		})
	}
}

// TestProxyErrors: a proxy that refuses CONNECT, wants credentials or cannot be reached fails Open with a
// ProxyError that says so, at once, and leaks neither the token nor the proxy password.
func TestProxyErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL, _ := url.Parse(closed.URL)
	closed.Close()
	for _, tc := range []struct {
		name   string
		proxy  func(t *testing.T) *url.URL
		status int
		words  []string
	}{
		{"refused", func(t *testing.T) *url.URL { return newConnectProxy(t, false, http.StatusForbidden, "").url("") },
			http.StatusForbidden, []string{"refused to connect to 127.0.0.1", "403"}},
		{"wants credentials", func(t *testing.T) *url.URL { return newConnectProxy(t, false, 0, "Basic x").url("") },
			http.StatusProxyAuthRequired, []string{"requires authentication", "407", "HTTPS_PROXY=http://user:password@"}},
		{"wrong credentials", func(t *testing.T) *url.URL { return newConnectProxy(t, false, 0, "Basic x").url("bob") },
			http.StatusProxyAuthRequired, []string{"refused the credentials", "407"}},
		{"unreachable", func(*testing.T) *url.URL { u := *closedURL; u.User = url.UserPassword("bob", "s3cret"); return &u },
			0, []string{"cannot be reached", closedURL.Host}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ssmtest.NewTLSServer(nil)
			t.Cleanup(srv.Close)
			start := time.Now()
			_, info, err := openTLS(t, srv, session.Config{TLSConfig: &tls.Config{RootCAs: srv.CertPool()}, Proxy: http.ProxyURL(tc.proxy(t))})
			var pe *session.ProxyError
			if !errors.As(err, &pe) || pe.StatusCode != tc.status {
				t.Fatalf("Open: %v, want a ProxyError with status %d", err, tc.status)
			}
			msg := err.Error()
			for _, w := range tc.words {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, info.TokenValue) || strings.Contains(msg, "s3cret") {
				t.Errorf("error %q leaks the token or the proxy password", msg)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed after %v", d)
			}
		})
	}
}

// TestProxySilentTimesOut: a proxy that accepts the connection and never answers CONNECT fails the dial when
// its context ends, not never.
func TestProxySilentTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	d := session.Dialer{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: l.Addr().String()})}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = d.Dial(ctx, "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/x", nil)
	var pe *session.ProxyError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial: %v, want a ProxyError wrapping the deadline", err)
	}
}

// TestHTTPClientNetwork: the TLS settings and proxy of the SDK's HTTP clients are found.
func TestHTTPClientNetwork(t *testing.T) {
	srv := ssmtest.NewTLSServer(nil)
	t.Cleanup(srv.Close)
	pu, _ := url.Parse("http://proxy.example:3128")
	bc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: srv.CertPool()}
		tr.Proxy = http.ProxyURL(pu)
	})
	tc, proxy, ok := session.HTTPClientNetwork(bc)
	if !ok || tc == nil || !tc.RootCAs.Equal(srv.CertPool()) {
		t.Fatalf("BuildableClient: %v %v", tc, ok)
	}
	if got, _ := proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: "x:443"}}); got == nil || got.Host != pu.Host {
		t.Errorf("proxy %v, want %v", got, pu)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13}}}
	tc, proxy, ok = session.HTTPClientNetwork(hc)
	if !ok || tc.MinVersion != tls.VersionTLS13 {
		t.Errorf("http.Client: %v %v", tc, ok)
	}
	if got, _ := proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: "x:443"}}); got != nil {
		t.Errorf("a transport without Proxy gives proxy %v, want none", got)
	}
	if _, _, ok := session.HTTPClientNetwork(nil); ok {
		t.Error("nil client: ok")
	}
	if _, _, ok := session.HTTPClientNetwork(&http.Client{Transport: roundTripperFunc(nil)}); ok {
		t.Error("custom round tripper: ok")
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNetworkErrorOfHTTPClient: the same failures of an HTTP client (an SDK call) are recognised.
func TestNetworkErrorOfHTTPClient(t *testing.T) {
	srv := ssmtest.NewTLSServer(nil)
	t.Cleanup(srv.Close)
	get := func(proxy *url.URL, roots bool) error {
		tr := &http.Transport{}
		if proxy != nil {
			tr.Proxy = http.ProxyURL(proxy)
		}
		if roots {
			tr.TLSClientConfig = &tls.Config{RootCAs: srv.CertPool()}
		}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	var ce *session.CertificateError
	if err := session.NetworkError(get(nil, false)); !errors.As(err, &ce) || ce.Host != "127.0.0.1" || ce.Reason != "unknown authority" {
		t.Errorf("unknown CA: %v", err)
	}
	var pe *session.ProxyError
	err := session.NetworkError(get(newConnectProxy(t, false, http.StatusForbidden, "").url(""), true))
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusForbidden || !strings.Contains(err.Error(), "refused") {
		t.Errorf("proxy 403: %v", err)
	}
	err = session.NetworkError(get(newConnectProxy(t, false, 0, "Basic x").url(""), true))
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusProxyAuthRequired {
		t.Errorf("proxy 407: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	cu, _ := url.Parse(closed.URL)
	closed.Close()
	err = session.NetworkError(get(cu, true))
	if !errors.As(err, &pe) || pe.StatusCode != 0 || !strings.Contains(err.Error(), "cannot be reached") {
		t.Errorf("unreachable proxy: %v", err)
	}
	if err := session.NetworkError(&url.Error{Op: "Post", URL: "https://x.example/", Err: io.EOF}); err != nil {
		t.Errorf("EOF from a server: %v, want no network error", err)
	}
	if session.NetworkError(errors.New("other")) != nil || session.NetworkError(nil) != nil {
		t.Error("other errors are not network errors")
	}
}

// TestTLSPauseAndKMS: over wss, a KMS-encrypted session (GenerateDataKey over https) carries data through a
// pause_publication / start_publication round.
func TestTLSPauseAndKMS(t *testing.T) {
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true, KMSKeyID: "alias/tls"})
	t.Cleanup(srv.Close)
	s, _, err := openTLS(t, srv, session.Config{
		TLSConfig: &tls.Config{RootCAs: srv.CertPool()},
		KMS:       kms.NewFromConfig(srv.AWSConfig()),
		TargetID:  ssmtest.DefaultInstanceID,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := s.Ready(testkit.Context(t))
	if err != nil || !hs.Encrypted {
		t.Fatalf("handshake %+v, %v: want an encrypted session", hs, err)
	}
	echo(t, s, "encrypted")
	srv.Faults().Pause(100 * time.Millisecond)
	echo(t, s, "paused")
	if st := srv.Stats(); st.DataKeys != 1 || st.Faults.Pauses < 1 {
		t.Errorf("stats: %d data keys, %d pauses; want 1 and a pause", st.DataKeys, st.Faults.Pauses)
	}
}
