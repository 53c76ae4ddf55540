package cli

import (
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestSSOExpired runs commands with SSO profiles whose cached token has expired (or is missing) and
// expects the login hint, for both the sso-session form of the config file and the legacy form.
func TestSSOExpired(t *testing.T) {
	const startURL = "https://example.awsapps.com/start"
	for _, tc := range []struct {
		name, profile, config, cacheKey string
		writeToken                      bool
	}{
		{name: "sso-session", profile: "dev", cacheKey: "corp", writeToken: true, config: `
[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Developer
region = us-east-1

[sso-session corp]
sso_start_url = ` + startURL + `
sso_region = us-east-1
sso_registration_scopes = sso:account:access
`},
		{name: "legacy", profile: "old", cacheKey: startURL, writeToken: true, config: `
[profile old]
sso_start_url = ` + startURL + `
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Developer
region = us-east-1
`},
		{name: "no-cached-token", profile: "dev", cacheKey: "corp", config: `
[profile dev]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Developer
region = us-east-1

[sso-session corp]
sso_start_url = ` + startURL + `
sso_region = us-east-1
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			// The SDK finds the SSO token cache under the process's home directory.
			t.Setenv("HOME", h.home)
			cfg := filepath.Join(h.home, "aws-config")
			writeFile(t, cfg, tc.config)
			h.env = append(h.env, "AWS_CONFIG_FILE="+cfg)
			if tc.writeToken {
				sum := sha1.Sum([]byte(tc.cacheKey))
				cache := filepath.Join(h.home, ".aws", "sso", "cache")
				if err := os.MkdirAll(cache, 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(cache, hex.EncodeToString(sum[:])+".json"),
					`{"accessToken":"expired-token","expiresAt":"2020-01-01T00:00:00Z","region":"us-east-1","startUrl":"`+startURL+`"}`)
			}
			want := "Your SSO session has expired. Run: aws sso login --profile " + tc.profile
			for _, args := range [][]string{
				{"--profile", tc.profile, "targets"},
				{"exec", "--profile", tc.profile, "i-0123456789abcdef0", "--", "true"},
				{"forward", "i-0123456789abcdef0", "0:localhost:22", "--profile", tc.profile},
			} {
				r := h.run(t, nil, args...)
				if r.code != ExitError || strings.TrimSpace(r.stderr) != "ssmwire: "+want {
					t.Errorf("%v: code %d stderr %q; want 255 and %q", args, r.code, r.stderr, want)
				}
			}
			if n := len(h.srv.SessionIDs()); n != 0 {
				t.Errorf("%d sessions started without credentials", n)
			}
		})
	}
}

func TestProfileFromEnvironment(t *testing.T) {
	// Only the profile's keys are accepted, not the harness's AKIDEXAMPLE.
	h := newHarness(t, &ssmtest.Options{Credentials: map[string]string{"AKIDOTHER": "s"}})
	cfg := filepath.Join(h.home, "aws-config")
	writeFile(t, cfg, "[profile other]\nregion = us-west-2\n")
	creds := filepath.Join(h.home, "aws-credentials")
	writeFile(t, creds, "[other]\naws_access_key_id = AKIDOTHER\naws_secret_access_key = s\n")
	h.env = append(h.env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_PROFILE=other")
	r := h.run(t, nil, "exec", "i-0123456789abcdef0", "--", "echo via-profile")
	if r.code != 0 || r.stdout != "via-profile\n" {
		t.Fatalf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	// The data channel's upgrade was signed with the profile's key for its region, and verified.
	if got := h.srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Signed: 1}) {
		t.Errorf("Upgrades %+v, want one signed", got)
	}
	r = h.run(t, nil, "--profile", "missing", "targets")
	if r.code != ExitError || !strings.Contains(r.stderr, `AWS profile "missing" not found`) {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
}
