package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// newTLSHarness is a harness on a TLS server, with no CA bundle in the process's environment.
func newTLSHarness(t *testing.T) *harness {
	t.Helper()
	t.Setenv("AWS_CA_BUNDLE", "")
	return harnessOn(t, ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true}))
}

// TestCABundleEnv: AWS_CA_BUNDLE alone makes the API calls and the data channel trust a private CA.
func TestCABundleEnv(t *testing.T) {
	h := newTLSHarness(t)
	h.env = append(h.env, "AWS_CA_BUNDLE="+h.srv.CAFile())
	r := h.run(t, nil, "exec", ssmtest.DefaultInstanceID, "--", "echo over-tls")
	if r.code != 0 || r.stdout != "over-tls\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestCABundleProfile: a --profile with ca_bundle does the same.
func TestCABundleProfile(t *testing.T) {
	h := newTLSHarness(t)
	dir := filepath.Join(h.home, ".aws")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	prof := "[profile corp]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\nca_bundle = " + h.srv.CAFile() + "\n"
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(prof), 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, nil, "--profile", "corp", "exec", ssmtest.DefaultInstanceID, "--", "echo via-profile")
	if r.code != 0 || r.stdout != "via-profile\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestUntrustedCertificate: without the CA, one line that names the host and what to set, exit 255.
func TestUntrustedCertificate(t *testing.T) {
	h := newTLSHarness(t)
	r := h.run(t, nil, "exec", ssmtest.DefaultInstanceID, "--", "echo never")
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.code != ExitError || len(lines) != 1 {
		t.Fatalf("exit %d, stderr %q: want 255 and one line", r.code, r.stderr)
	}
	for _, w := range []string{"127.0.0.1", "unknown authority", "AWS_CA_BUNDLE", "ca_bundle"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q lacks %q", r.stderr, w)
		}
	}
}

// TestRunOverTLS: `ssmwire run` works with the CA in AWS_CA_BUNDLE.
func TestRunOverTLS(t *testing.T) {
	h := newTLSHarness(t)
	h.env = append(h.env, "AWS_CA_BUNDLE="+h.srv.CAFile())
	port := runConfig(t, h, "")
	h.runHelperEnv(fmt.Sprintf("echo SSMWIRE_DB_1_%d 5", port))
	r := h.run(t, nil, "run", "db-1", "--", os.Args[0])
	if r.code != 5 || r.stdout != "e:hi\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q: want 5 and the echo server's answer", r.code, r.stdout, r.stderr)
	}
}

// TestBadCABundle: a CA bundle in AWS_CA_BUNDLE or a profile's ca_bundle that cannot be used (missing, a
// directory, no certificate in it) fails with one line naming the file and what is wrong, exit 255, before any
// call or dial.
func TestBadCABundle(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bundles := map[string]struct{ file, reason string }{
		"missing":        {filepath.Join(dir, "missing.pem"), "no such file or directory"},
		"directory":      {dir, "is a directory"},
		"no certificate": {empty, "holds no PEM certificate"},
	}
	for name, b := range bundles {
		for _, where := range []string{"AWS_CA_BUNDLE", "ca_bundle"} {
			t.Run(name+" in "+where, func(t *testing.T) {
				h := newTLSHarness(t)
				args := []string{"exec", ssmtest.DefaultInstanceID, "--", "echo never"}
				if where == "AWS_CA_BUNDLE" {
					h.env = append(h.env, "AWS_CA_BUNDLE="+b.file)
				} else {
					awsDir := filepath.Join(h.home, ".aws")
					if err := os.MkdirAll(awsDir, 0o700); err != nil {
						t.Fatal(err)
					}
					prof := "[profile corp]\nregion = us-east-1\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = secret\nca_bundle = " + b.file + "\n"
					if err := os.WriteFile(filepath.Join(awsDir, "config"), []byte(prof), 0o600); err != nil {
						t.Fatal(err)
					}
					args = append([]string{"--profile", "corp"}, args...)
				}
				r := h.run(t, nil, args...)
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				if r.code != ExitError || len(lines) != 1 {
					t.Fatalf("exit %d, stderr %q: want %d and one line", r.code, r.stderr, ExitError)
				}
				for _, w := range []string{b.file, b.reason, where} {
					if !strings.Contains(r.stderr, w) {
						t.Errorf("stderr %q lacks %q", r.stderr, w)
					}
				}
				if n := len(h.srv.ClientHellos()); n != 0 || len(h.srv.SessionIDs()) != 0 {
					t.Errorf("%d TLS handshakes, sessions %q: want none", n, h.srv.SessionIDs())
				}
			})
		}
	}
}
