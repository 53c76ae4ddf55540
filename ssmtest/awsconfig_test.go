package ssmtest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

// AWSConfig is enough for every service the server emulates, with or without configured credentials.
func TestAWSConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    *Options
		wantKey string
	}{
		{"nil credentials", nil, DefaultAccessKeyID},
		{"configured credentials", &Options{Credentials: map[string]string{"AKIDZZZ": "z", "AKIDBBB": "b"}}, "AKIDBBB"},
		{"default key configured", &Options{Credentials: map[string]string{"AKIDAAA": "a", DefaultAccessKeyID: "d"}}, DefaultAccessKeyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t, tc.opts, true)
			cfg := s.AWSConfig()
			ctx := testkit.Context(t)
			if cfg.Region != DefaultRegion || aws.ToString(cfg.BaseEndpoint) != s.URL {
				t.Errorf("Region %q BaseEndpoint %q, want %q %q", cfg.Region, aws.ToString(cfg.BaseEndpoint), DefaultRegion, s.URL)
			}
			if _, ok := cfg.Logger.(logging.Nop); !ok {
				t.Errorf("Logger is %T, want logging.Nop", cfg.Logger)
			}
			if got := cfg.Retryer().MaxAttempts(); got != 1 {
				t.Errorf("MaxAttempts = %d, want 1", got)
			}
			creds, err := cfg.Credentials.Retrieve(ctx)
			if err != nil || creds.AccessKeyID != tc.wantKey {
				t.Fatalf("credentials %q, %v; want key %q", creds.AccessKeyID, err, tc.wantKey)
			}
			if _, err := ssm.NewFromConfig(cfg).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)}); err != nil {
				t.Errorf("ssm: %v", err)
			}
			if _, err := kms.NewFromConfig(cfg).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/k"), NumberOfBytes: aws.Int32(64)}); err != nil {
				t.Errorf("kms: %v", err)
			}
			if _, err := ecs.NewFromConfig(cfg).ExecuteCommand(ctx, &ecs.ExecuteCommandInput{Task: aws.String("t1"), Command: aws.String("sh"), Interactive: true}); err != nil {
				t.Errorf("ecs: %v", err)
			}
			if got := s.Stats().APIErrors; got != 0 {
				t.Errorf("APIErrors = %d", got)
			}
		})
	}
}

// Without Options.Credentials the server still knows the secret of DefaultAccessKeyID, so a wrong one fails.
func TestDefaultKeyVerified(t *testing.T) {
	s := newTestServer(t, nil, true)
	cfg := s.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(DefaultAccessKeyID, "wrong", "")
	_, err := ssm.NewFromConfig(cfg).StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if code := errorCode(err); code != "InvalidSignatureException" {
		t.Errorf("wrong secret for DefaultAccessKeyID: err %v, code %q", err, code)
	}
}
