package ssmtest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// upgrade attempts the data-channel upgrade of url with hdr and returns the HTTP status: 101 when it
// upgraded (the websocket is then closed at once).
func upgrade(t *testing.T, url string, hdr http.Header) int {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("upgrade %s: %v", url, err)
	}
	return resp.StatusCode
}

func TestUpgradeSignatureRequired(t *testing.T) {
	const key, secret = "AKIDUPGRADETEST", "upgrade-secret"
	s := newTestServer(t, &Options{Credentials: map[string]string{key: secret}}, true)
	out, err := ssm.NewFromConfig(s.AWSConfig()).StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	u := *out.StreamUrl
	good := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}
	stale := signedUpgrade(t, u, good, "ssmmessages", "us-east-1")
	stale.Set("X-Amz-Date", time.Now().Add(-20*time.Minute).UTC().Format(amzDateFormat))
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"unsigned", nil},
		{"garbage", http.Header{"Authorization": {"Bearer x"}}},
		{"wrong secret", signedUpgrade(t, u, aws.Credentials{AccessKeyID: key, SecretAccessKey: "wrong"}, "ssmmessages", "us-east-1")},
		{"unknown key", signedUpgrade(t, u, aws.Credentials{AccessKeyID: "AKIDNOBODY", SecretAccessKey: secret}, "ssmmessages", "us-east-1")},
		{"wrong service", signedUpgrade(t, u, good, "ssm", "us-east-1")},
		{"wrong region", signedUpgrade(t, u, good, "ssmmessages", "eu-west-1")},
		{"other URL", signedUpgrade(t, strings.Replace(u, "stream=input", "stream=output", 1), good, "ssmmessages", "us-east-1")},
		{"date changed", stale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := upgrade(t, u, tc.hdr); got != http.StatusForbidden {
				t.Errorf("status %d, want 403", got)
			}
		})
	}
	if st := s.Stats(); st.Upgrades != (UpgradeStats{Refused: 8}) || st.WebsocketsRejected != 8 {
		t.Errorf("Upgrades %+v, WebsocketsRejected %d; want 8 refused", st.Upgrades, st.WebsocketsRejected)
	}
	if info := s.Session(*out.SessionId); info.AgentStarted {
		t.Error("agent started without an authenticated upgrade")
	}

	// The right signature upgrades, and the session runs.
	ws, _, err := websocket.DefaultDialer.Dial(u, signedUpgrade(t, u, good, "ssmmessages", "us-east-1"))
	if err != nil {
		t.Fatalf("signed upgrade: %v", err)
	}
	ws.Close()
	if st := s.Stats(); st.Upgrades != (UpgradeStats{Signed: 1, Refused: 8}) {
		t.Errorf("Upgrades %+v", st.Upgrades)
	}
}

// Without Options.Credentials the server verifies its own default key in full and any other key's
// signature for form, service and region.
func TestUpgradeSignatureNilCredentials(t *testing.T) {
	s := newTestServer(t, nil, true)
	_, u, _ := startShell(t, s)
	for _, tc := range []struct {
		name  string
		creds aws.Credentials
		svc   string
		want  int
	}{
		{"default key", aws.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey}, "ssmmessages", 101},
		{"default key, wrong secret", aws.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: "x"}, "ssmmessages", 403},
		{"other key", aws.Credentials{AccessKeyID: "AKIDANY", SecretAccessKey: "x"}, "ssmmessages", 101},
		{"other key, wrong service", aws.Credentials{AccessKeyID: "AKIDANY", SecretAccessKey: "x"}, "execute-api", 403},
		{"temporary credentials", aws.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey, SessionToken: "tok"}, "ssmmessages", 101},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := upgrade(t, u, signedUpgrade(t, u, tc.creds, tc.svc, DefaultRegion)); got != tc.want {
				t.Errorf("status %d, want %d", got, tc.want)
			}
		})
	}
	if got := s.Stats().Upgrades; got != (UpgradeStats{Signed: 3, Refused: 2}) {
		t.Errorf("Upgrades %+v", got)
	}
}

func TestAllowUnsignedUpgrade(t *testing.T) {
	s := newTestServer(t, &Options{AllowUnsignedUpgrade: true}, true)
	_, u, _ := startShell(t, s)
	if got := upgrade(t, u, nil); got != http.StatusSwitchingProtocols {
		t.Fatalf("unsigned upgrade with AllowUnsignedUpgrade: status %d", got)
	}
	// A signature that is there must still be right.
	bad := signedUpgrade(t, u, aws.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: "x"}, "ssmmessages", DefaultRegion)
	if got := upgrade(t, u, bad); got != http.StatusForbidden {
		t.Errorf("bad signature with AllowUnsignedUpgrade: status %d", got)
	}
	if got := s.Stats().Upgrades; got != (UpgradeStats{UnsignedAllowed: 1, Refused: 1}) {
		t.Errorf("Upgrades %+v", got)
	}
}

func TestPresignedStreamURLs(t *testing.T) {
	s := newTestServer(t, &Options{PresignedStreamURLs: true}, true)
	ctx := testkit.Context(t)
	api := ssm.NewFromConfig(s.AWSConfig())
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	u := *out.StreamUrl
	q := mustQuery(t, u)
	for _, p := range presignParams[:6] {
		if q.Get(p) == "" {
			t.Errorf("StartSession's StreamUrl lacks %s", p)
		}
	}
	if q.Get("stream") != "input" {
		t.Errorf("StreamUrl lost its own query: %v", q)
	}

	// As handed out, without headers: attaches.
	ws := dialWith(t, u, nil, *out.TokenValue)
	if _, err := readMessage(t, ws); err != nil {
		t.Fatalf("no output on the presigned data channel: %v", err)
	}
	ws.Close()

	tampered := strings.Replace(u, "stream=input", "stream=output", 1)
	sig := q.Get("X-Amz-Signature")
	flipped := strings.Replace(u, sig, strings.Repeat("0", len(sig)), 1)
	for _, tc := range []struct {
		name string
		url  string
		hdr  http.Header
	}{
		{"signed again", u, signedUpgrade(t, u, aws.Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey}, "ssmmessages", DefaultRegion)},
		{"query changed", tampered, nil},
		{"signature changed", flipped, nil},
		{"expired", s.presignedAt(t, u, time.Now().Add(-6*time.Minute)), nil},
		{"other signer", strings.Replace(u, mgsAccessKey, DefaultAccessKeyID, 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := upgrade(t, tc.url, tc.hdr); got != http.StatusForbidden {
				t.Errorf("status %d, want 403", got)
			}
		})
	}
	if got := s.Stats().Upgrades; got != (UpgradeStats{Presigned: 1, Refused: 5}) {
		t.Errorf("Upgrades %+v", got)
	}

	// ResumeSession and ExecuteCommand hand out presigned URLs too, and they work.
	res, err := api.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: out.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if mustQuery(t, *res.StreamUrl).Get("X-Amz-Signature") == "" {
		t.Errorf("ResumeSession's StreamUrl is not presigned")
	}
	dialWith(t, *res.StreamUrl, nil, *res.TokenValue).Close()
	ex, err := ecs.NewFromConfig(s.AWSConfig()).ExecuteCommand(ctx, &ecs.ExecuteCommandInput{Task: aws.String("t1"), Command: aws.String("sh"), Interactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if mustQuery(t, *ex.Session.StreamUrl).Get("X-Amz-Signature") == "" {
		t.Errorf("ExecuteCommand's StreamUrl is not presigned")
	}
	if got := upgrade(t, *ex.Session.StreamUrl, nil); got != http.StatusSwitchingProtocols {
		t.Errorf("ExecuteCommand's StreamUrl: status %d", got)
	}
	if got := s.Stats().Upgrades; got != (UpgradeStats{Presigned: 3, Refused: 5}) {
		t.Errorf("Upgrades %+v", got)
	}
}

// presignedAt re-presigns a presigned stream URL as if at t.
func (s *Server) presignedAt(t *testing.T, presigned string, at time.Time) string {
	t.Helper()
	u, err := url.Parse(presigned)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("X-Amz-Signature")
	u.RawQuery = q.Encode()
	signed, err := s.presignAt(u, DefaultRegion, at)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
