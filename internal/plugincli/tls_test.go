package plugincli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// newTLSServer starts a TLS ssmtest server with the plugin's environment pointed at it and no CA bundle set.
func newTLSServer(t *testing.T) *ssmtest.Server {
	t.Helper()
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	return srv
}

// TestCABundleEnv: AWS_CA_BUNDLE alone makes the data channel (and the API calls) trust a private CA, as it
// makes the AWS CLI's calls trust it; AWS's plugin ignores it.
func TestCABundleEnv(t *testing.T) {
	srv := newTLSServer(t)
	t.Setenv("AWS_CA_BUNDLE", srv.CAFile())
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo over-tls"}})
	r := runMain(t, cliArgs(srv, resp), strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "over-tls") {
		t.Fatalf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestCABundleProfile: the ca_bundle of the profile the AWS CLI passes does the same.
func TestCABundleProfile(t *testing.T) {
	srv := newTLSServer(t)
	cfgFile := filepath.Join(t.TempDir(), "config")
	prof := "[profile corp]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\nca_bundle = " + srv.CAFile() + "\n"
	if err := os.WriteFile(cfgFile, []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo via-profile"}})
	args := cliArgs(srv, resp)
	args[3] = "corp"
	r := runMain(t, args, strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "via-profile") {
		t.Fatalf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestUntrustedCertificate: without the CA the plugin fails at once with one line naming the host, the reason
// and what to set, exit 1, and never the token.
func TestUntrustedCertificate(t *testing.T) {
	srv := newTLSServer(t)
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo never"}})
	start := time.Now()
	r := runMain(t, cliArgs(srv, resp), strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "Cannot perform start session: ") {
		t.Fatalf("stderr %q, want one Cannot perform start session line", r.stderr)
	}
	for _, w := range []string{"127.0.0.1", "unknown authority", "AWS_CA_BUNDLE", "ca_bundle"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
	if strings.Contains(r.stdout+r.stderr, tokenOf(t, resp)) {
		t.Error("the token appears in the output")
	}
}

// badBundles are CA bundles the AWS CLI refuses: a missing file, a directory, a file without a certificate.
func badBundles(t *testing.T) map[string]struct{ file, reason string } {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return map[string]struct{ file, reason string }{
		"missing":        {filepath.Join(dir, "missing.pem"), "no such file or directory"},
		"directory":      {dir, "is a directory"},
		"no certificate": {empty, "holds no PEM certificate"},
	}
}

// TestBadCABundle: a CA bundle in AWS_CA_BUNDLE or the profile's ca_bundle that cannot be used stops the
// plugin before it dials, with one line naming the file and what is wrong, exit 1: no fall back to the
// system roots.
func TestBadCABundle(t *testing.T) {
	for name, b := range badBundles(t) {
		for _, where := range []string{"AWS_CA_BUNDLE", "ca_bundle"} {
			t.Run(name+" in "+where, func(t *testing.T) {
				srv := newTLSServer(t)
				env := &fakeEnv{vars: map[string]string{}}
				_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo never"}})
				args := cliArgs(srv, resp)
				if where == "AWS_CA_BUNDLE" {
					env.vars["AWS_CA_BUNDLE"] = b.file
				} else {
					cfgFile := filepath.Join(t.TempDir(), "config")
					prof := "[profile corp]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\nca_bundle = " + b.file + "\n"
					if err := os.WriteFile(cfgFile, []byte(prof), 0o600); err != nil {
						t.Fatal(err)
					}
					// The SDK reads the process's environment, the plugin Main's; in the binary they are one.
					t.Setenv("AWS_CONFIG_FILE", cfgFile)
					env.vars["AWS_CONFIG_FILE"] = cfgFile
					args[3] = "corp"
				}
				hellos := len(srv.ClientHellos())
				r := runMain(t, args, strings.NewReader(""), env.env())
				if r.code != 1 {
					t.Errorf("exit code %d, want 1", r.code)
				}
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "Cannot perform start session: ") {
					t.Fatalf("stderr %q, want one Cannot perform start session line", r.stderr)
				}
				for _, w := range []string{b.file, b.reason, where} {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr %q lacks %q", r.stderr, w)
					}
				}
				if n := len(srv.ClientHellos()); n != hellos {
					t.Errorf("%d TLS handshakes with the server after the refusal, want none", n-hellos)
				}
			})
		}
	}
}
