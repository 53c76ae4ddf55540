package ssmtest

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

func TestJustInTimeAccess(t *testing.T) {
	clock := &fakeClock{now: time.Now()}
	s := newTestServer(t, &Options{Now: clock.Now, Instances: []Instance{{ID: DefaultInstanceID, AccessRequired: true}}}, true)
	api := ssmClient(s)
	ctx := context.Background()
	start := func(c *ssm.Client, target string) error {
		_, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(target)})
		return err
	}
	if err := start(api, DefaultInstanceID); errorCode(err) != "AccessDeniedException" {
		t.Fatalf("StartSession without access: %v", err)
	}
	request := func() string {
		out, err := api.StartAccessRequest(ctx, &ssm.StartAccessRequestInput{Reason: aws.String("on call"),
			Targets: []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: []string{DefaultInstanceID}}}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.AccessRequestId)
	}
	token := func(id string) *ssm.GetAccessTokenOutput {
		out, err := api.GetAccessToken(ctx, &ssm.GetAccessTokenInput{AccessRequestId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	id := request()
	if out := token(id); out.AccessRequestStatus != ssmtypes.AccessRequestStatusPending || out.Credentials != nil {
		t.Fatalf("pending request: %+v", out)
	}
	if err := s.DecideAccess(id, AccessApproved); err != nil {
		t.Fatal(err)
	}
	out := token(id)
	if out.AccessRequestStatus != ssmtypes.AccessRequestStatusApproved || out.Credentials == nil {
		t.Fatalf("approved request: %+v", out)
	}
	cr := out.Credentials
	jitCfg := s.AWSConfig()
	jitCfg.Credentials = credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
	if err := start(ssm.NewFromConfig(jitCfg), DefaultInstanceID); err != nil {
		t.Fatalf("StartSession with the approved credentials: %v", err)
	}
	wrongToken := s.AWSConfig()
	wrongToken.Credentials = credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, "forged")
	if err := start(ssm.NewFromConfig(wrongToken), DefaultInstanceID); errorCode(err) != "UnrecognizedClientException" {
		t.Fatalf("StartSession with a wrong session token: %v", err)
	}
	clock.Advance(AccessCredentialLifetime)
	if err := start(ssm.NewFromConfig(jitCfg), DefaultInstanceID); errorCode(err) != "ExpiredTokenException" {
		t.Fatalf("StartSession with expired credentials: %v", err)
	}
	if out := token(id); out.AccessRequestStatus != ssmtypes.AccessRequestStatusExpired || out.Credentials != nil {
		t.Fatalf("request after its window: %+v", out)
	}

	id2 := request()
	s.DecideAccess(id2, AccessRejected)
	if out := token(id2); out.AccessRequestStatus != ssmtypes.AccessRequestStatusRejected || out.Credentials != nil {
		t.Fatalf("rejected request: %+v", out)
	}
	if _, err := api.GetAccessToken(ctx, &ssm.GetAccessTokenInput{AccessRequestId: aws.String("oi-nope")}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("unknown request: %v", err)
	}
	if _, err := api.StartAccessRequest(ctx, &ssm.StartAccessRequestInput{Reason: aws.String("x"),
		Targets: []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: []string{"i-0000000000000000f"}}}}); errorCode(err) != "ResourceNotFoundException" {
		t.Fatalf("request for an unknown node: %v", err)
	}
	if got := len(s.AccessRequests()); got != 2 {
		t.Fatalf("%d requests recorded, want 2", got)
	}
}
