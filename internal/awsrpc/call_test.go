package awsrpc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// noDelay is a backoff that does not wait, so retries are tested without time passing.
type noDelay struct{}

func (noDelay) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func standardRetryer(max int) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.Backoff = max, noDelay{} })
	}
}

// TestRetriesAsSDK: the configuration's retryer decides, as in the SDK: throttling and 5xx answers and
// failed connections are retried up to its attempts, other API errors are not.
func TestRetriesAsSDK(t *testing.T) {
	throttled := answer{400, nil, `{"__type":"ThrottlingException","message":"Rate exceeded"}`}
	unavailable := answer{503, nil, ``}
	denied := answer{400, nil, `{"__type":"AccessDeniedException","message":"no"}`}
	ok := answer{200, nil, `{"SessionId":"s","StreamUrl":"wss://x","TokenValue":"t"}`}
	for _, c := range []struct {
		name        string
		answers     []answer
		max         int
		wantReqs    int
		wantErr     bool
		maxAttempts int // cfg.RetryMaxAttempts
	}{
		{"throttled then ok", []answer{throttled, unavailable, ok}, 3, 3, false, 0},
		{"always unavailable", []answer{unavailable}, 3, 3, true, 0},
		{"denied", []answer{denied, ok}, 3, 1, true, 0},
		{"RetryMaxAttempts", []answer{unavailable}, 3, 5, true, 5},
		{"no retries", []answer{unavailable, ok}, 1, 1, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var counts [2]int
			var errs [2]error
			for i, build := range []func(aws.Config) (ssmAPI, kmsAPI){sdkClients, ourClients} {
				rec := newRecorder(t, c.answers...)
				cfg := testConfig(rec.srv.URL)
				cfg.Retryer, cfg.RetryMaxAttempts = standardRetryer(c.max), c.maxAttempts
				s, _ := build(cfg)
				_, errs[i] = s.ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
				counts[i] = len(rec.requests())
			}
			if counts[0] != c.wantReqs || counts[1] != c.wantReqs {
				t.Errorf("requests: SDK %d, ours %d, want %d", counts[0], counts[1], c.wantReqs)
			}
			if (errs[0] != nil) != c.wantErr || (errs[1] != nil) != c.wantErr {
				t.Fatalf("errors: SDK %v, ours %v", errs[0], errs[1])
			}
			if c.wantErr {
				compareErrors(t, "ResumeSession", errs[0], errs[1])
				var wm, gm *retry.MaxAttemptsError
				if errors.As(errs[0], &wm) != errors.As(errs[1], &gm) {
					t.Errorf("attempts exhausted: SDK %v, ours %v", errs[0], errs[1])
				}
			}
		})
	}
}

// TestConnectionFailureRetried: a refused connection is a retryable send error, as in the SDK.
func TestConnectionFailureRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	cfg := testConfig(url)
	cfg.Retryer = standardRetryer(2)
	var sleeps atomic.Int32
	s := NewSSM(cfg, "")
	s.c.sleep = func(context.Context, time.Duration) error { sleeps.Add(1); return nil }
	_, err := s.ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
	var se interface{ ConnectionError() bool }
	if !errors.As(err, &se) || sleeps.Load() != 1 {
		t.Fatalf("err %v (%T), %d retries, want a send error after one retry", err, err, sleeps.Load())
	}
	if !strings.Contains(err.Error(), "operation error SSM: ResumeSession") {
		t.Errorf("error %q", err)
	}
}

// TestCanceledWhileWaiting: a call blocked on the server returns when its context is canceled, and is not
// retried.
func TestCanceledWhileWaiting(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := testConfig(srv.URL)
	cfg.Retryer = standardRetryer(3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := NewKMS(cfg).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("k")})
		done <- err
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		var ce *smithy.CanceledError
		if !errors.As(err, &ce) {
			t.Errorf("err %T, want a *smithy.CanceledError inside", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("GenerateDataKey did not return after its context was canceled")
	}
	if len(arrived) != 0 {
		t.Error("a canceled call was retried")
	}
}

// TestCanceledWhileBackingOff: the wait between attempts ends with the context.
func TestCanceledWhileBackingOff(t *testing.T) {
	rec := newRecorder(t, answer{503, nil, ``})
	cfg := testConfig(rec.srv.URL)
	cfg.Retryer = standardRetryer(3)
	s := NewSSM(cfg, "")
	ctx, cancel := context.WithCancel(context.Background())
	s.c.sleep = func(ctx context.Context, d time.Duration) error {
		cancel()
		return sleepCtx(ctx, time.Hour)
	}
	_, err := s.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String("s")})
	var rc *aws.RequestCanceledError
	if !errors.As(err, &rc) || !errors.Is(err, context.Canceled) || len(rec.requests()) != 1 {
		t.Fatalf("err %v, %d requests; want a canceled request after one", err, len(rec.requests()))
	}
}

// TestCredentialsRefused: a credentials failure sends nothing and names the failure, not the secrets.
func TestCredentialsRefused(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(rec.srv.URL)
	cfg.Credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("the SSO session has expired")
	})
	_, err := NewSSM(cfg, "").ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
	if err == nil || !strings.Contains(err.Error(), "failed to retrieve credentials") || !strings.Contains(err.Error(), "SSO session has expired") {
		t.Fatalf("err %v", err)
	}
	cfg.Credentials = nil
	if _, err := NewKMS(cfg).GenerateDataKey(context.Background(), &kms.GenerateDataKeyInput{KeyId: aws.String("k")}); err == nil {
		t.Fatal("no credentials: no error")
	}
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("%d requests sent without credentials", n)
	}
}

// TestInputRefusedAsSDK: a required member left nil and per-call options are refused before anything is
// sent; the validation error reads as the SDK's.
func TestInputRefusedAsSDK(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(rec.srv.URL)
	sdk, ours := ssm.NewFromConfig(cfg), NewSSM(cfg, "")
	_, want := sdk.ResumeSession(context.Background(), &ssm.ResumeSessionInput{})
	_, got := ours.ResumeSession(context.Background(), &ssm.ResumeSessionInput{})
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Errorf("missing SessionId: SDK %v, ours %v", want, got)
	}
	_, want = kms.NewFromConfig(cfg).GenerateDataKey(context.Background(), nil)
	_, got = NewKMS(cfg).GenerateDataKey(context.Background(), nil)
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Errorf("nil input: SDK %v, ours %v", want, got)
	}
	_, want = sdk.StartSession(context.Background(), &ssm.StartSessionInput{})
	_, got = ours.StartSession(context.Background(), &ssm.StartSessionInput{})
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Errorf("missing Target: SDK %v, ours %v", want, got)
	}
	if _, err := ours.TerminateSession(context.Background(), &ssm.TerminateSessionInput{SessionId: aws.String("s")},
		func(*ssm.Options) {}); !errors.Is(err, errOptions) {
		t.Errorf("options: %v", err)
	}
	if n := len(rec.requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

// TestLargeAnswerBounded: an answer larger than any of the operations' is cut at maxResponse and refused,
// not read whole.
func TestLargeAnswerBounded(t *testing.T) {
	rec := newRecorder(t, answer{200, nil, `{"SessionId":"` + strings.Repeat("a", maxResponse) + `"}`})
	_, err := NewSSM(testConfig(rec.srv.URL), "").ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
	var de *smithy.DeserializationError
	if !errors.As(err, &de) {
		t.Fatalf("err %v, want a deserialization error", err)
	}
}
