package plugincli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// The plugin signs the data channel's upgrade with the credentials the AWS CLI hands it in the environment,
// which the emulator verifies in full (docs/protocol.md §3.5).
func TestPluginSignsUpgradeWithEnvCredentials(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{Credentials: map[string]string{"AKIDEXAMPLE": "secret"}})
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo signed"}})
	r := runMain(t, cliArgs(srv, resp), strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "signed") {
		t.Fatalf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Signed: 1}) {
		t.Errorf("Upgrades %+v, want one signed", got)
	}
}

// With a profile as argv[4], the profile's credentials sign the upgrade, not the environment's keys.
func TestPluginSignsUpgradeWithProfile(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{Credentials: map[string]string{"AKIDEXAMPLE": "secret", "AKIDPROFILE": "profile-secret"}})
	_, resp := startSession(t, srv, ssmtest.DocRunCommand, map[string][]string{"command": {"echo signed"}})
	creds := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(creds, []byte("[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDNOTTHISONE")
	args := cliArgs(srv, resp)
	args[3] = "dev"
	r := runMain(t, args, strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "signed") {
		t.Fatalf("code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Signed: 1}) {
		t.Errorf("Upgrades %+v, want one signed", got)
	}
}

// Credentials the service does not know get a clear refusal and exit status 1, without the token.
func TestPluginUpgradeRefused(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{Credentials: map[string]string{"AKIDEXAMPLE": "secret"}})
	_, resp := startSession(t, srv, "", nil)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
	r := runMain(t, cliArgs(srv, resp), strings.NewReader(""), (&fakeEnv{}).env())
	if r.code != 1 || !strings.Contains(r.stderr, "403") || strings.Contains(r.stdout+r.stderr, tokenOf(t, resp)) {
		t.Fatalf("code %d, stdout %q, stderr %q; want 1 and the HTTP 403, without the token", r.code, r.stdout, r.stderr)
	}
	if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Refused: 1}) {
		t.Errorf("Upgrades %+v", got)
	}
}
