package session_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// echoAfterDrop runs a shell session, drops its websocket once and checks that it resumes and still works.
func echoAfterDrop(t *testing.T, srv *ssmtest.Server, s *session.Channel) {
	t.Helper()
	if _, err := s.Ready(testkit.Context(t)); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	testkit.WaitFor(t, "the session to resume", func() bool { return s.Stats().Resumes > 0 || s.Err() != nil })
	if _, err := s.Write([]byte("echo $((6*7))\rexit\r")); err != nil {
		t.Fatal(err)
	}
	if out := readAllWithin(t, s, 10*time.Second); !strings.Contains(out, "42") {
		t.Fatalf("output %q lacks 42 (Err %v)", out, s.Err())
	}
}

// The emulator verifies the signature of every upgrade against the key it knows; the session signs the first
// dial and the one after ResumeSession.
func TestSignedUpgradeAgainstEmulator(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, Credentials: map[string]string{"AKIDSIGNTEST": "sign-test-secret"}})
	t.Cleanup(srv.Close)
	s := startWith(t, ssm.NewFromConfig(srv.AWSConfig()), "", nil)
	echoAfterDrop(t, srv, s)
	if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Signed: 2}) {
		t.Errorf("Upgrades %+v, want 2 signed", got)
	}
}

// A presigned stream URL is dialled unsigned and verified by the emulator, after ResumeSession too.
func TestPresignedUpgradeAgainstEmulator(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, PresignedStreamURLs: true})
	t.Cleanup(srv.Close)
	s := startWith(t, ssm.NewFromConfig(srv.AWSConfig()), "", nil)
	echoAfterDrop(t, srv, s)
	if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Presigned: 2}) {
		t.Errorf("Upgrades %+v, want 2 presigned", got)
	}
}

// An unsigned upgrade is refused with a clear error, as AWS refuses plugins older than 1.2.764.0; a service
// that still allows them lets the same session in.
func TestUnsignedUpgradeRefused(t *testing.T) {
	for _, allow := range []bool{false, true} {
		srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, AllowUnsignedUpgrade: allow})
		t.Cleanup(srv.Close)
		out, err := ssm.NewFromConfig(srv.AWSConfig()).StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID)})
		if err != nil {
			t.Fatal(err)
		}
		s, err := session.Open(context.Background(), session.Info{SessionID: *out.SessionId, StreamURL: *out.StreamUrl, TokenValue: *out.TokenValue},
			&session.Config{TrustedEndpoints: []string{srv.URL}})
		if allow {
			if err != nil {
				t.Fatalf("AllowUnsignedUpgrade: %v", err)
			}
			s.Close()
			if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{UnsignedAllowed: 1}) {
				t.Errorf("Upgrades %+v", got)
			}
			continue
		}
		if err == nil {
			s.Close()
			t.Fatal("an unsigned upgrade was accepted")
		}
		if !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), *out.TokenValue) {
			t.Errorf("error %q: want the HTTP 403, never the token", err)
		}
		if got := srv.Stats().Upgrades; got != (ssmtest.UpgradeStats{Refused: 1}) {
			t.Errorf("Upgrades %+v", got)
		}
	}
}
