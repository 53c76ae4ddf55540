package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const awsStreamURL = "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/s-1?stream=input"

// dialRecord is one call of Config.Dial.
type dialRecord struct {
	url    string
	header http.Header
}

// recordingDialer hands out a new pipe per dial and records what each dial was given.
type recordingDialer struct {
	mu     sync.Mutex
	dials  []dialRecord
	agents chan *fakeAgent
	t      testing.TB
}

func newRecordingDialer(t testing.TB) *recordingDialer {
	return &recordingDialer{agents: make(chan *fakeAgent, 8), t: t}
}

func (d *recordingDialer) dial(ctx context.Context, url string, h http.Header) (Transport, error) {
	d.mu.Lock()
	d.dials = append(d.dials, dialRecord{url, h.Clone()})
	d.mu.Unlock()
	c, a := newMemPipe()
	d.agents <- &fakeAgent{t: d.t, tr: a}
	return c, nil
}

func (d *recordingDialer) get(i int) dialRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials[i]
}

// rotatingCreds returns a new access key at every Retrieve, as refreshed temporary credentials would.
type rotatingCreds struct{ calls atomic.Int32 }

func (r *rotatingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return rotated(int(r.calls.Add(1))), nil
}

// rotated returns the n-th credentials of a rotatingCreds.
func rotated(n int) aws.Credentials {
	return aws.Credentials{AccessKeyID: "ASIAKEY" + strings.Repeat("X", n), SecretAccessKey: "secret-" + strings.Repeat("s", n),
		SessionToken: "session-token-" + strings.Repeat("t", n), CanExpire: true, Expires: time.Now().Add(time.Hour)}
}

// checkSignature recomputes the SigV4 signature of GET url with creds at the header's X-Amz-Date and
// compares the whole Authorization header.
func checkSignature(t *testing.T, url string, h http.Header, creds aws.Credentials, region string) {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", h.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date %q: %v", h.Get("X-Amz-Date"), err)
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, emptyPayloadHash, "ssmmessages", region, at); err != nil {
		t.Fatal(err)
	}
	if got, want := h.Get("Authorization"), req.Header.Get("Authorization"); got != want || want == "" {
		t.Errorf("Authorization\n got %q\nwant %q", got, want)
	}
	if got := h.Get("X-Amz-Security-Token"); got != creds.SessionToken {
		t.Errorf("X-Amz-Security-Token %q, want %q", got, creds.SessionToken)
	}
	for k := range h {
		switch k {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token":
		default:
			t.Errorf("unexpected upgrade header %s", k)
		}
	}
}

// The first dial and the dial after ResumeSession are both signed, each with the credentials retrieved then.
func TestUpgradeSignedOnEveryDial(t *testing.T) {
	d := newRecordingDialer(t)
	creds := &rotatingCreds{}
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: awsStreamURL, TokenValue: "token-0"},
		&Config{SSM: &fakeSSM{}, Credentials: creds, Region: "eu-west-1", ResumeBackoff: time.Millisecond, Dial: d.dial})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := <-d.agents
	a.openFrame()
	first := d.get(0)
	if first.url != awsStreamURL {
		t.Errorf("dialled %q, want the stream URL verbatim", first.url)
	}
	checkSignature(t, awsStreamURL, first.header, rotated(1), "eu-west-1")

	a.tr.Close() // the websocket drops: ResumeSession, then a new dial
	b := <-d.agents
	b.openFrame()
	checkSignature(t, awsStreamURL, d.get(1).header, rotated(2), "eu-west-1")
	if n := creds.calls.Load(); n != 2 {
		t.Errorf("credentials retrieved %d times, want once per dial (2)", n)
	}
}

// Without Config.Region the region comes from the AWS endpoint host; long-term keys add no token header.
func TestUpgradeRegionFromHost(t *testing.T) {
	d := newRecordingDialer(t)
	creds := aws.Credentials{AccessKeyID: "AKIDLONGTERM", SecretAccessKey: "long-term-secret"}
	for _, u := range []string{
		"wss://ssmmessages.ap-southeast-2.amazonaws.com/v1/data-channel/s-1?stream=input",
		"wss://vpce-0123456789abcdef-abcdefgh.ssmmessages.cn-north-1.vpce.amazonaws.com.cn/v1/data-channel/s-1?stream=input",
	} {
		s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: u, TokenValue: "t"},
			&Config{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }), Dial: d.dial})
		if err != nil {
			t.Fatal(err)
		}
		<-d.agents
		s.Close()
	}
	checkSignature(t, d.get(0).url, d.get(0).header, creds, "ap-southeast-2")
	checkSignature(t, d.get(1).url, d.get(1).header, creds, "cn-north-1")
}

// A presigned stream URL is dialled as it is, with no header and without asking for credentials; after
// ResumeSession a fresh presigned URL for the same endpoint replaces it, one for another endpoint does not.
func TestPresignedURLNotSignedAgain(t *testing.T) {
	const presigned = "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1?stream=input&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00"
	const fresh = "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1?stream=input&X-Amz-Signature=11"
	const elsewhere = "wss://evil.example/v1/data-channel/s-1?stream=input&X-Amz-Signature=22"
	creds := &rotatingCreds{}
	d := newRecordingDialer(t)
	fake := &fakeSSM{streamURL: fresh}
	var logs bytes.Buffer
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: presigned, TokenValue: "token-0"},
		&Config{SSM: fake, Credentials: creds, Region: "us-east-1", ResumeBackoff: time.Millisecond, Dial: d.dial,
			Logger: slog.New(slog.NewTextHandler(&syncBuffer{b: &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a := <-d.agents
	a.openFrame()
	a.tr.Close()
	b := <-d.agents
	b.openFrame()
	fake.mu.Lock()
	fake.streamURL = elsewhere
	fake.mu.Unlock()
	b.tr.Close()
	c := <-d.agents
	c.openFrame()
	for i, want := range []string{presigned, fresh, fresh} {
		r := d.get(i)
		if r.url != want || len(r.header) != 0 {
			t.Errorf("dial %d: %q with header %v; want %q and no header", i, r.url, r.header, want)
		}
	}
	if n := creds.calls.Load(); n != 0 {
		t.Errorf("credentials retrieved %d times for a presigned URL", n)
	}
	if !strings.Contains(logs.String(), "another endpoint") {
		t.Errorf("moving to another endpoint was not logged: %s", logs.String())
	}
}

func TestIsPresigned(t *testing.T) {
	for u, want := range map[string]bool{
		awsStreamURL: false,
		"wss://h/p?stream=input&X-Amz-Credential=a":       true,
		"wss://h/p?x-amz-signature=a":                     true,
		"wss://h/p?X-Amz-Security-Token=a":                true,
		"wss://h/p?X-Amz-Expires=60":                      true,
		"wss://h/p?stream=X-Amz-Signature":                false,
		"wss://h/X-Amz-Signature":                         false,
		"wss://h/p?X-Amz-SignedHeaders=host&X-Amz-Date=1": true,
	} {
		if got := IsPresigned(u); got != want {
			t.Errorf("IsPresigned(%q) = %v, want %v", u, got, want)
		}
	}
}

// Without credentials, or when they cannot be had, the upgrade goes out unsigned and the session says so
// once, at debug level, however often it dials.
func TestUnsignedSaidOnce(t *testing.T) {
	for name, creds := range map[string]aws.CredentialsProvider{
		"none":      nil,
		"failing":   aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errors.New("no profile") }),
		"anonymous": aws.AnonymousCredentials{},
		"empty":     aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil }),
	} {
		t.Run(name, func(t *testing.T) {
			d := newRecordingDialer(t)
			var logs bytes.Buffer
			s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: awsStreamURL, TokenValue: "token-0"},
				&Config{SSM: &fakeSSM{}, Credentials: creds, ResumeBackoff: time.Millisecond, Dial: d.dial,
					Logger: slog.New(slog.NewTextHandler(&syncBuffer{b: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatalf("a session without credentials must still open: %v", err)
			}
			defer s.Close()
			a := <-d.agents
			if a.openFrame(); a.opened.TokenValue != "token-0" {
				t.Errorf("OpenDataChannel token %q", a.opened.TokenValue)
			}
			a.tr.Close()
			b := <-d.agents
			b.openFrame()
			for i := range 2 {
				if h := d.get(i).header; len(h) != 0 {
					t.Errorf("dial %d signed: %v", i, h)
				}
			}
			if n := strings.Count(logs.String(), "not signed"); n != 1 {
				t.Errorf("said %d times that the upgrade is not signed, want once:\n%s", n, logs.String())
			}
		})
	}
}

// Neither the secret key, the session token nor the signature reaches the log or an error.
func TestSigningSecretsNeverLogged(t *testing.T) {
	d := newRecordingDialer(t)
	creds := aws.Credentials{AccessKeyID: "AKIDLOGTEST", SecretAccessKey: "SECRET-must-not-leak", SessionToken: "TOKEN-must-not-leak"}
	var logs bytes.Buffer
	s, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: awsStreamURL, TokenValue: "token-0"},
		&Config{SSM: &fakeSSM{err: errTest}, ResumeAttempts: 2, ResumeBackoff: time.Millisecond, Dial: d.dial,
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			Logger:      slog.New(slog.NewTextHandler(&syncBuffer{b: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	a := <-d.agents
	a.openFrame()
	a.tr.Close()
	<-s.Done()
	s.Close()
	_, sig, _ := strings.Cut(d.get(0).header.Get("Authorization"), "Signature=")
	if len(sig) != 64 {
		t.Fatalf("no signature in %v", d.get(0).header)
	}
	text := logs.String() + s.Err().Error()
	for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken, sig} {
		if strings.Contains(text, secret) {
			t.Errorf("%q appears in the log or error:\n%s", secret, text)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the session's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// openFrame waits for the OpenDataChannel text frame a dial sends.
func (a *fakeAgent) openFrame() {
	a.t.Helper()
	select {
	case f := <-a.tr.in:
		if !f.text || json.Unmarshal(f.b, &a.opened) != nil {
			a.t.Fatalf("first frame is not OpenDataChannel: %q", f.b)
		}
	case <-time.After(5 * time.Second):
		a.t.Fatal("no OpenDataChannel frame")
	}
}

// A dial that fails after the upgrade went out unsigned for want of credentials says why it was unsigned,
// wrapped, so that callers can give advice about the credentials.
func TestRefusedUnsignedDialNamesTheCredentialError(t *testing.T) {
	errNoCreds := errors.New("failed to retrieve credentials: nothing found")
	refused := &UpgradeError{StatusCode: 403, Status: "403 Forbidden", Err: errors.New("websocket: bad handshake")}
	_, err := Open(context.Background(), Info{SessionID: "s-1", StreamURL: awsStreamURL, TokenValue: "token-0"}, &Config{
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errNoCreds }),
		Dial:        func(context.Context, string, http.Header) (Transport, error) { return nil, refused },
	})
	if !errors.Is(err, refused) || !errors.Is(err, errNoCreds) || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("Open: %v; want the refusal and the credential error", err)
	}
	// A dial that failed otherwise (the network) is not blamed on the credentials.
	unreachable := errors.New("connection refused")
	_, err = Open(context.Background(), Info{SessionID: "s-1", StreamURL: awsStreamURL, TokenValue: "token-0"}, &Config{
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, errNoCreds }),
		Dial:        func(context.Context, string, http.Header) (Transport, error) { return nil, unreachable },
	})
	if !errors.Is(err, unreachable) || errors.Is(err, errNoCreds) {
		t.Fatalf("Open: %v; want the network error alone", err)
	}
}
