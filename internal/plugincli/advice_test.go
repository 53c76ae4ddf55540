package plugincli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestAdvice runs KMS-encrypted sessions whose GenerateDataKey call fails in the ways a first run does, and
// expects the one "Cannot perform start session" line of advice on stderr, and nothing from the SDK.
func TestAdvice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		profile string
		setup   func(t *testing.T)
		want    string
	}{
		{"sso expired", "dev", func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home) // the SDK finds the SSO token cache under the home directory
			cfg := filepath.Join(home, "config")
			os.WriteFile(cfg, []byte("[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\n"+
				"sso_role_name = Developer\nregion = us-east-1\n\n[sso-session corp]\n"+
				"sso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"), 0o600)
			t.Setenv("AWS_CONFIG_FILE", cfg)
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
				t.Setenv(k, "")
			}
		}, "Your SSO session has expired. Run: aws sso login --profile dev"},
		{"no credentials", "", func(t *testing.T) {
			imds := httptest.NewServer(http.NotFoundHandler()) // refuses tokens: the SDK would warn
			t.Cleanup(imds.Close)
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} {
				t.Setenv(k, "")
			}
			t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
			t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
		}, "No AWS credentials found (looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files for profile default, SSO, and the instance or container role). Run: aws configure --profile default, or aws sso login --profile default"},
		{"access denied", "", func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_KMS", testkit.APIErrorServer(t, "AccessDeniedException", "no").URL)
		}, "Access denied: your AWS identity (profile default) may not call kms:GenerateDataKey; ask for that permission"},
		{"throttled", "", func(t *testing.T) {
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			t.Setenv("AWS_ENDPOINT_URL_KMS", testkit.APIErrorServer(t, "ThrottlingException", "no").URL)
		}, "AWS throttled kms:GenerateDataKey even after the SDK's retries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServerWith(t, &ssmtest.Options{KMSKeyID: "alias/ssmwire-test"})
			t.Setenv("AWS_ENDPOINT_URL_KMS", srv.URL)
			tc.setup(t)
			_, resp := startSession(t, srv, "", nil)
			var r result
			sdk := testkit.CaptureStderr(t, func() {
				args := cliArgs(srv, resp)
				args[3] = tc.profile
				r = runMain(t, args, strings.NewReader("exit\n"), (&fakeEnv{}).env())
			})
			if sdk != "" {
				t.Errorf("the SDK wrote to the process's stderr: %q", sdk)
			}
			want := "Cannot perform start session: " + tc.want
			if r.code != 1 || !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("code %d stderr %q; want 1 and one line starting %q", r.code, r.stderr, want)
			}
		})
	}
}
