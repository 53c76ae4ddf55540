package ssmwire_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// fakeAccess answers StartAccessRequest with "req-1" and GetAccessToken with decide's status at the time of
// the call; it records when each poll came.
type fakeAccess struct {
	decide func(elapsed time.Duration) ssmtypes.AccessRequestStatus
	start  time.Time
	mu     sync.Mutex
	polls  []time.Duration
	input  *ssm.StartAccessRequestInput
}

func (f *fakeAccess) StartAccessRequest(_ context.Context, in *ssm.StartAccessRequestInput, _ ...func(*ssm.Options)) (*ssm.StartAccessRequestOutput, error) {
	f.input, f.start = in, time.Now()
	return &ssm.StartAccessRequestOutput{AccessRequestId: aws.String("req-1")}, nil
}

func (f *fakeAccess) GetAccessToken(_ context.Context, in *ssm.GetAccessTokenInput, _ ...func(*ssm.Options)) (*ssm.GetAccessTokenOutput, error) {
	elapsed := time.Since(f.start)
	f.mu.Lock()
	f.polls = append(f.polls, elapsed)
	f.mu.Unlock()
	st := f.decide(elapsed)
	out := &ssm.GetAccessTokenOutput{AccessRequestStatus: st}
	if st == ssmtypes.AccessRequestStatusApproved {
		out.Credentials = &ssmtypes.Credentials{AccessKeyId: aws.String("ASIATEST"), SecretAccessKey: aws.String("s"),
			SessionToken: aws.String("t"), ExpirationTime: aws.Time(time.Now().Add(time.Hour))}
	}
	return out, nil
}

func TestRequestAccessApprovedAfterDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAccess{decide: func(e time.Duration) ssmtypes.AccessRequestStatus {
			if e >= 10*time.Second {
				return ssmtypes.AccessRequestStatusApproved
			}
			return ssmtypes.AccessRequestStatusPending
		}}
		var pending []time.Duration
		id, p, err := ssmwire.RequestAccess(context.Background(), f, "i-0123456789abcdef0", "deploy fix", &ssmwire.AccessConfig{
			Pending: func(id string, waited time.Duration) {
				if id != "req-1" {
					t.Errorf("Pending got id %q", id)
				}
				pending = append(pending, waited)
			},
		})
		if err != nil || id != "req-1" {
			t.Fatalf("RequestAccess = %q, %v", id, err)
		}
		if r := aws.ToString(f.input.Reason); r != "deploy fix" {
			t.Errorf("Reason %q", r)
		}
		if tg := f.input.Targets; len(tg) != 1 || aws.ToString(tg[0].Key) != "InstanceIds" || tg[0].Values[0] != "i-0123456789abcdef0" {
			t.Errorf("Targets %+v", tg)
		}
		// At once, then waits of 2, 3, 4.5 s (backoff 1.5x): polls at 0, 2, 5, 9.5, 16.25 s.
		want := []time.Duration{0, 2 * time.Second, 5 * time.Second, 9500 * time.Millisecond, 16250 * time.Millisecond}
		if len(f.polls) != len(want) {
			t.Fatalf("polls at %v, want %v", f.polls, want)
		}
		for i := range want {
			if f.polls[i] != want[i] {
				t.Fatalf("polls at %v, want %v", f.polls, want)
			}
		}
		if len(pending) != 5 || pending[0] != 0 { // after the request, then after each pending poll
			t.Errorf("Pending called with %v", pending)
		}
		c, err := p.Retrieve(context.Background())
		if err != nil || c.AccessKeyID != "ASIATEST" || c.SessionToken != "t" || !c.CanExpire {
			t.Errorf("Retrieve = %+v, %v", c, err)
		}
	})
}

func TestRequestAccessBackoffCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAccess{decide: func(e time.Duration) ssmtypes.AccessRequestStatus {
			if e >= 2*time.Minute {
				return ssmtypes.AccessRequestStatusApproved
			}
			return ssmtypes.AccessRequestStatusPending
		}}
		if _, _, err := ssmwire.RequestAccess(context.Background(), f, "i-0123456789abcdef0", "r", &ssmwire.AccessConfig{PollInterval: time.Second, MaxPollInterval: 5 * time.Second}); err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(f.polls); i++ {
			if d := f.polls[i] - f.polls[i-1]; d > 5*time.Second {
				t.Fatalf("a wait of %v between polls, more than MaxPollInterval: %v", d, f.polls)
			}
		}
	})
}

func TestRequestAccessEndings(t *testing.T) {
	for _, tc := range []struct {
		status ssmtypes.AccessRequestStatus
		want   error
	}{
		{ssmtypes.AccessRequestStatusRejected, ssmwire.ErrAccessRejected},
		{ssmtypes.AccessRequestStatusRevoked, ssmwire.ErrAccessRevoked},
		{ssmtypes.AccessRequestStatusExpired, ssmwire.ErrAccessExpired},
	} {
		t.Run(string(tc.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeAccess{decide: func(e time.Duration) ssmtypes.AccessRequestStatus {
					if e >= 3*time.Second {
						return tc.status
					}
					return ssmtypes.AccessRequestStatusPending
				}}
				_, p, err := ssmwire.RequestAccess(context.Background(), f, "i-0123456789abcdef0", "r", nil)
				var ae *ssmwire.AccessError
				if !errors.Is(err, tc.want) || !errors.As(err, &ae) || ae.RequestID != "req-1" || p != nil {
					t.Fatalf("err = %v, provider %v; want %v", err, p, tc.want)
				}
			})
		})
	}
}

func TestRequestAccessTimeoutAndCancel(t *testing.T) {
	pending := func(time.Duration) ssmtypes.AccessRequestStatus { return ssmtypes.AccessRequestStatusPending }
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, _, err := ssmwire.RequestAccess(context.Background(), &fakeAccess{decide: pending}, "i-0123456789abcdef0", "r", &ssmwire.AccessConfig{Timeout: time.Minute})
		if !errors.Is(err, ssmwire.ErrAccessTimeout) || time.Since(start) != time.Minute {
			t.Fatalf("err = %v after %v, want ErrAccessTimeout after 1m", err, time.Since(start))
		}
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, err := ssmwire.RequestAccess(ctx, &fakeAccess{decide: pending}, "i-0123456789abcdef0", "r", nil)
			done <- err
		}()
		time.Sleep(7 * time.Second) // fake time: three polls pass
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

func TestRequestAccessRefusesEmptyReason(t *testing.T) {
	f := &fakeAccess{decide: func(time.Duration) ssmtypes.AccessRequestStatus { return ssmtypes.AccessRequestStatusApproved }}
	if _, _, err := ssmwire.RequestAccess(context.Background(), f, "i-0123456789abcdef0", "", nil); err == nil || f.input != nil {
		t.Fatalf("err = %v, request made: %v", err, f.input != nil)
	}
}

// TestRequestAccessSession: against the emulator, StartSession on a node that needs just-in-time access is
// refused with the profile's credentials and works with those of the approved request.
func TestRequestAccessSession(t *testing.T) {
	srv := newServer(t, &ssmtest.Options{
		Instances: []ssmtest.Instance{{ID: target, Name: ssmtest.DefaultInstanceName, AccessRequired: true},
			{ID: "i-0123456789abcdef1"}},
		AccessDecision: func(r ssmtest.AccessRequest) string { return ssmtest.AccessApproved },
	})
	cfg := srv.AWSConfig()
	ctx := context.Background()
	err := ssmwire.NewFromAWSConfig(cfg).Run(ctx, target, ssmwire.Command{Command: "echo hi"})
	if !errors.Is(err, ssmwire.ErrAccessDenied) {
		t.Fatalf("Run without access: %v, want ErrAccessDenied", err)
	}
	id, p, err := ssmwire.RequestAccess(ctx, ssm.NewFromConfig(cfg), target, "debug the outage", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs := srv.AccessRequests(); len(rs) != 1 || rs[0].ID != id || rs[0].Reason != "debug the outage" || rs[0].Status != ssmtest.AccessApproved {
		t.Fatalf("server's requests: %+v", rs)
	}
	jit := cfg
	jit.Credentials = p
	var out bytes.Buffer
	if err := ssmwire.NewFromAWSConfig(jit).Run(ctx, target, ssmwire.Command{Command: "echo hi", Stdout: &out}); err != nil || out.String() != "hi\n" {
		t.Fatalf("Run with access: %v, output %q", err, out.String())
	}
	// The credentials are good for their target only.
	if err := ssmwire.NewFromAWSConfig(jit).Run(ctx, "i-0123456789abcdef1", ssmwire.Command{Command: "true"}); !errors.Is(err, ssmwire.ErrAccessDenied) {
		t.Fatalf("Run on another node with the request's credentials: %v, want ErrAccessDenied", err)
	}
}
