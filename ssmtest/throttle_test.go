package ssmtest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// ThrottleStarts refuses that many StartSession calls with ThrottlingException, then lets them through.
func TestThrottleStarts(t *testing.T) {
	s := newTestServer(t, nil, true)
	c := ssmClient(s)
	s.Faults().ThrottleStarts.Store(2)
	in := &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)}
	for i := range 2 {
		if _, err := c.StartSession(testkit.Context(t), in); errorCode(err) != "ThrottlingException" {
			t.Fatalf("call %d: %v, want ThrottlingException", i, err)
		}
	}
	if _, err := c.StartSession(testkit.Context(t), in); err != nil {
		t.Fatalf("third call: %v", err)
	}
	if n := s.Faults().ThrottleStarts.Load(); n != 0 {
		t.Fatalf("ThrottleStarts left at %d", n)
	}
	s.Faults().ThrottleStarts.Store(1)
	s.Faults().Reset()
	if _, err := c.StartSession(testkit.Context(t), in); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}
