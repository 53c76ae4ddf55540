package plugincli

import (
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestKMSEncryptedShell(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{KMSKeyID: "alias/ssmwire-test"})
	t.Setenv("AWS_ENDPOINT_URL_KMS", srv.URL) // the KMS client uses the SDK's endpoint resolution
	id, resp := startSession(t, srv, "", nil)
	r := runMain(t, cliArgs(srv, resp), strings.NewReader("echo kms-$((1+1)); exit\n"), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "kms-2") ||
		!strings.HasSuffix(r.stdout, "\n\nExiting session with sessionId: "+id+".\n\n") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestKMSRefusedInLegacyForm(t *testing.T) {
	srv := newServerWith(t, &ssmtest.Options{KMSKeyID: "alias/ssmwire-test"})
	t.Setenv("AWS_ENDPOINT_URL_KMS", srv.URL)
	_, resp := startSession(t, srv, "", nil)
	// No endpoint argument in the legacy form: the user names the emulator with AWS_ENDPOINT_URL_SSM.
	env := &fakeEnv{vars: map[string]string{"AWS_ENDPOINT_URL_SSM": srv.URL}}
	r := runMain(t, []string{resp, "us-east-1", "StartSession"}, strings.NewReader("exit\n"), env.env())
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "does not support Session Manager encryption") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}
