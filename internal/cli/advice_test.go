package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// oneLine checks that stderr is exactly one line "ssmwire: " + something containing every want.
func oneLine(t *testing.T, r result, want ...string) {
	t.Helper()
	line := strings.TrimSuffix(r.stderr, "\n")
	if r.code != ExitError || strings.Contains(line, "\n") || !strings.HasPrefix(line, "ssmwire: ") {
		t.Fatalf("code %d stderr %q; want exit 255 and one line", r.code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("stderr %q does not contain %q", line, w)
		}
	}
}

// TestNoCredentials runs `ssmwire targets` where no source has credentials and the instance metadata service
// refuses tokens (the SDK then logs "falling back to IMDSv1"): one line of advice, nothing from the SDK.
func TestNoCredentials(t *testing.T) {
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
	}))
	t.Cleanup(imds.Close)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	h := newHarness(t, nil)
	h.env = []string{"HOME=" + h.home, "AWS_REGION=us-east-1"}
	var r result
	sdk := testkit.CaptureStderr(t, func() { r = h.run(t, nil, "targets") })
	if sdk != "" {
		t.Errorf("the SDK wrote to the process's stderr: %q", sdk)
	}
	oneLine(t, r, "No AWS credentials found", "aws configure --profile default", "aws sso login --profile default")
}

func TestAccessDenied(t *testing.T) {
	h := newHarness(t, nil)
	fake := testkit.APIErrorServer(t, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ssm:StartSession")
	r := h.runAt(t, fake.URL, "exec", "i-0123456789abcdef0", "--", "true")
	oneLine(t, r, "Access denied", "ssm:StartSession on i-0123456789abcdef0")
}

func TestThrottled(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "2")
	h := newHarness(t, nil)
	fake := testkit.APIErrorServer(t, "ThrottlingException", "Rate exceeded")
	r := h.runAt(t, fake.URL, "shell", "i-0123456789abcdef0")
	oneLine(t, r, "AWS throttled ssm:StartSession even after the SDK's retries")
}

func TestTargetNotConnected(t *testing.T) {
	h := newHarness(t, &ssmtest.Options{Instances: []ssmtest.Instance{{ID: "i-00000000000000aaa", PingStatus: "ConnectionLost"}}})
	r := h.run(t, nil, "exec", "i-00000000000000aaa", "--", "true")
	oneLine(t, r, "Target i-00000000000000aaa is not connected", "SSM Agent is not running")
}
