package cli

import (
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// proxiedHost is a name only the test proxy resolves: a request that does not go through the proxy fails.
const proxiedHost = "ssmtest.invalid"

// newProxiedHarness is a harness on a server named proxiedHost (TLS with its CA in AWS_CA_BUNDLE, or plain)
// and a proxy that reaches it; the proxy variables are Main's env's only, never the process's.
func newProxiedHarness(t *testing.T, useTLS bool) (*harness, *testkit.Proxy) {
	t.Helper()
	opts := &ssmtest.Options{NoPacing: true, Hostname: proxiedHost}
	var h *harness
	if useTLS {
		h = newTLSHarness(t)
		h.srv.Close()
		h.srv = ssmtest.NewTLSServer(opts)
		t.Cleanup(h.srv.Close)
		h.env = append(h.env, "AWS_CA_BUNDLE="+h.srv.CAFile())
	} else {
		h = newHarness(t, opts)
	}
	p := testkit.NewProxy(t, false)
	p.Hosts[proxiedHost] = "127.0.0.1"
	return h, p
}

// connects counts the proxy's CONNECTs to the server.
func connects(h *harness, p *testkit.Proxy) int {
	n := 0
	for _, tg := range p.Targets() {
		if tg == "CONNECT "+strings.TrimPrefix(strings.TrimPrefix(h.srv.URL, "https://"), "http://") {
			n++
		}
	}
	return n
}

// TestProxyEnv: the proxies of the environment given to Main, not the process's, carry both the API calls
// and the data channel, with Go's rules: HTTPS_PROXY or https_proxy for https and wss, HTTP_PROXY for http
// (and the ws data channel, tunnelled with CONNECT), NO_PROXY naming the host for none. The server's name
// resolves only through the proxy, so a call or dial that bypasses it fails.
func TestProxyEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tls     bool
		env     []string // with %s for the proxy's URL
		ok      bool     // the command works: everything went through the proxy
		through bool     // the proxy saw requests
	}{
		{"HTTPS_PROXY", true, []string{"HTTPS_PROXY=%s"}, true, true},
		{"https_proxy", true, []string{"https_proxy=%s"}, true, true},
		{"HTTPS_PROXY wins over https_proxy", true, []string{"HTTPS_PROXY=%s", "https_proxy=http://127.0.0.1:1"}, true, true},
		{"HTTP_PROXY for http", false, []string{"HTTP_PROXY=%s"}, true, true},
		{"HTTP_PROXY not for https", true, []string{"HTTP_PROXY=%s"}, false, false},
		{"NO_PROXY", true, []string{"HTTPS_PROXY=%s", "NO_PROXY=" + proxiedHost}, false, false},
		{"no_proxy", true, []string{"HTTPS_PROXY=%s", "no_proxy=." + strings.TrimPrefix(proxiedHost, "ssmtest.")}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, p := newProxiedHarness(t, tc.tls)
			for _, e := range tc.env {
				h.env = append(h.env, strings.Replace(e, "%s", p.URL.String(), 1))
			}
			r := h.run(t, nil, "exec", ssmtest.DefaultInstanceID, "--", "echo proxied")
			if ok := r.code == 0 && r.stdout == "proxied\n"; ok != tc.ok {
				t.Fatalf("exit %d, stdout %q, stderr %q; want success %v", r.code, r.stdout, r.stderr, tc.ok)
			}
			targets := p.Targets()
			if through := len(targets) > 0; through != tc.through {
				t.Fatalf("proxy saw %q; want requests %v", targets, tc.through)
			}
			if !tc.ok {
				return
			}
			// The data channel is a CONNECT of its own; the API calls are one more (https) or plain requests.
			want := 2
			if !tc.tls {
				want = 1
			}
			if n := connects(h, p); n < want {
				t.Errorf("proxy saw %q: want at least %d CONNECT to the server", targets, want)
			}
		})
	}
}
