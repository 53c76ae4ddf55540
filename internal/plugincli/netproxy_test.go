package plugincli

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestHTTPSProxyEnv: an https:// proxy in the HTTPS_PROXY of Main's environment (not the process's) carries
// the data channel and the plugin's API calls (here ResumeSession after a dropped websocket), trusted
// through the CA bundle, which holds the server's CA and the proxy's certificate. The server's name
// resolves only through the proxy, so a call or dial that bypasses it fails.
func TestHTTPSProxyEnv(t *testing.T) {
	const host = "ssmtest.invalid"
	newTLSServer(t) // the process's environment for the SDK: keys, no config files, no CA bundle
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true, Hostname: host})
	t.Cleanup(srv.Close)
	p := testkit.NewProxy(t, true)
	p.Hosts[host] = "127.0.0.1"
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, append(srv.CACertPEM(), p.CertPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}

	// The AWS CLI's StartSession, straight to the listener.
	cfg := srv.AWSConfig()
	cfg.BaseEndpoint = aws.String("https://" + srv.Listener.Addr().String())
	out, err := ssm.NewFromConfig(cfg).StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target: aws.String(ssmtest.DefaultInstanceID),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]string{"SessionId": *out.SessionId, "TokenValue": *out.TokenValue, "StreamUrl": *out.StreamUrl})
	if !strings.Contains(*out.StreamUrl, host) {
		t.Fatalf("stream URL %s does not name %s", *out.StreamUrl, host)
	}

	env := &fakeEnv{vars: map[string]string{"HTTPS_PROXY": p.URL.String(), "AWS_CA_BUNDLE": bundle}}
	stdin, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	done := make(chan int, 1)
	go func() { done <- Main(testkit.Context(t), cliArgs(srv, string(resp)), stdin, stdout, stderr, env.env()) }()
	go io.WriteString(w, "echo sta''rted\n")
	stdout.WaitFor(t, "started")
	srv.CloseClientConnections() // the plugin resumes: ResumeSession and a new dial, through the proxy
	testkit.WaitFor(t, "ResumeSession", func() bool { return srv.Stats().Resumes > 0 })
	go func() {
		io.WriteString(w, "echo go''t hi; exit\n")
		w.Close()
	}()
	if code := <-done; code != 0 || !strings.Contains(stdout.String(), "got hi") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
	}
	n := 0
	for _, tg := range p.Targets() {
		if tg == "CONNECT "+net.JoinHostPort(host, srv.URL[strings.LastIndex(srv.URL, ":")+1:]) {
			n++
		}
	}
	if n < 3 {
		t.Errorf("proxy saw %q: want CONNECTs for the dial, ResumeSession and the redial", p.Targets())
	}
}
