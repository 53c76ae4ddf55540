package ssmwire_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// opErr is an SDK operation error with an API error code, as the SDK returns them.
func opErr(service, op, code, msg string) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op,
		Err: fmt.Errorf("https response error StatusCode: 400: %w", &smithy.GenericAPIError{Code: code, Message: msg})}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		kind   error // nil: unchanged
		advice string
	}{
		{"no credentials", &smithy.OperationError{ServiceID: "SSM", OperationName: "DescribeInstanceInformation",
			Err: errors.New("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled")},
			ssmwire.ErrNoCredentials, "Run: aws configure --profile dev, or aws sso login --profile dev"},
		{"static empty", fmt.Errorf("x: %w", &credentials.StaticCredentialsEmptyError{}), ssmwire.ErrNoCredentials, "No AWS credentials found"},
		{"sso expired", &smithy.OperationError{ServiceID: "SSM", OperationName: "StartSession",
			Err: &ssocreds.InvalidTokenError{Err: errors.New("expired")}}, ssmwire.ErrSSOExpired,
			"Your SSO session has expired. Run: aws sso login --profile dev"},
		{"access denied", opErr("SSM", "StartSession", "AccessDeniedException", "User: arn:aws:iam::1:user/u is not authorized"),
			ssmwire.ErrAccessDenied, "may not call ssm:StartSession on the target"},
		{"kms access denied", opErr("KMS", "GenerateDataKey", "AccessDeniedException", "no"),
			ssmwire.ErrAccessDenied, "may not call kms:GenerateDataKey"},
		{"ec2 access denied", opErr("EC2", "DescribeInstances", "UnauthorizedOperation", "You are not authorized to perform this operation."),
			ssmwire.ErrAccessDenied, "may not call ec2:DescribeInstances"},
		{"not connected", opErr("SSM", "StartSession", "TargetNotConnected", "i-1 is not connected."),
			ssmwire.ErrTargetNotConnected, "its SSM Agent is not running, or cannot reach the Systems Manager service"},
		{"throttled", opErr("SSM", "StartSession", "ThrottlingException", "Rate exceeded"),
			ssmwire.ErrThrottled, "AWS throttled ssm:StartSession even after the SDK's retries"},
		{"other API error", opErr("SSM", "StartSession", "InvalidDocument", "no such document"), nil, ""},
		{"plain", errors.New("boom"), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ssmwire.Classify(tc.err)
			var ae *ssmwire.APIError
			if tc.kind == nil {
				if got != tc.err || errors.As(got, &ae) {
					t.Fatalf("Classify = %v (%T), want the error unchanged", got, got)
				}
				return
			}
			if !errors.As(got, &ae) || !errors.Is(got, tc.kind) || !errors.Is(got, tc.err) {
				t.Fatalf("Classify = %v (%T), want an *APIError of kind %v wrapping the error", got, got, tc.kind)
			}
			if adv := ae.Advice("dev"); !strings.Contains(adv, tc.advice) || strings.Contains(adv, "\n") {
				t.Errorf("Advice = %q, want one line containing %q", adv, tc.advice)
			}
			if again := ssmwire.Classify(got); again != got {
				t.Errorf("Classify is not idempotent: %v", again)
			}
		})
	}
}

// TestStartSessionClassified checks that StartSession's first-run failures come back classified, with the
// target named in the advice.
func TestStartSessionClassified(t *testing.T) {
	srv := newServer(t, &ssmtest.Options{Instances: []ssmtest.Instance{{ID: "i-00000000000000aaa", PingStatus: "ConnectionLost"}}})
	c := newClient(t, srv, nil)
	_, err := c.StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String("i-00000000000000aaa")})
	var ae *ssmwire.APIError
	if !errors.As(err, &ae) || !errors.Is(err, ssmwire.ErrTargetNotConnected) || ae.Target != "i-00000000000000aaa" {
		t.Fatalf("StartSession = %v, want ErrTargetNotConnected on the target", err)
	}
	if adv := ae.Advice(""); !strings.HasPrefix(adv, "Target i-00000000000000aaa is not connected") {
		t.Errorf("Advice = %q", adv)
	}

	denied := &fakeSSM{err: opErr("SSM", "StartSession", "AccessDeniedException", "not authorized")}
	c2, _ := ssmwire.New(&ssmwire.Config{SSM: denied})
	_, err = c2.StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String("i-1")})
	if !errors.Is(err, ssmwire.ErrAccessDenied) || !errors.As(err, &ae) ||
		!strings.Contains(ae.Advice("prod"), "may not call ssm:StartSession on i-1") {
		t.Errorf("StartSession = %v", err)
	}
}
