package ssmtest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestGetCallerIdentity(t *testing.T) {
	s := newTestServer(t, nil, true)
	out, err := sts.NewFromConfig(s.AWSConfig()).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Arn) != DefaultUserARN || aws.ToString(out.Account) != DefaultAccountID || aws.ToString(out.UserId) != DefaultUserID {
		t.Errorf("identity = %s %s %s", aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId))
	}
}

// TestGetCallerIdentityRefusals: STS answers an unknown key and a bad signature with its own XML codes.
func TestGetCallerIdentityRefusals(t *testing.T) {
	s := newTestServer(t, &Options{Credentials: map[string]string{testAccessKey: testSecretKey}}, true)
	for _, tc := range []struct {
		name, key, secret, code string
	}{
		{"unknown key", "AKIDNOBODY", "x", "InvalidClientTokenId"},
		{"wrong secret", testAccessKey, "wrong", "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := s.AWSConfig()
			cfg.Credentials = credentials.NewStaticCredentialsProvider(tc.key, tc.secret, "")
			_, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
			if errorCode(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}
}

func TestGetDocumentPreferences(t *testing.T) {
	s := newTestServer(t, &Options{KMSKeyID: "alias/sessions"}, true)
	api := ssmClient(s)
	out, err := api.GetDocument(context.Background(), &ssm.GetDocumentInput{Name: aws.String(DocShell)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SessionType string
		Inputs      struct{ KmsKeyId string }
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Content)), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SessionType != SessionTypeStandardStream || doc.Inputs.KmsKeyId != "alias/sessions" || out.DocumentType != "Session" {
		t.Errorf("document = %+v, type %s", doc, out.DocumentType)
	}
	_, err = api.GetDocument(context.Background(), &ssm.GetDocumentInput{Name: aws.String("No-Such-Document")})
	if errorCode(err) != "InvalidDocument" {
		t.Errorf("missing document: %v", err)
	}
}

func TestDescribeKey(t *testing.T) {
	s := newTestServer(t, nil, true)
	out, err := kmsClient(s).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")})
	if err != nil {
		t.Fatal(err)
	}
	m := out.KeyMetadata
	if !m.Enabled || m.KeyState != "Enabled" || m.KeyUsage != "ENCRYPT_DECRYPT" ||
		aws.ToString(m.Arn) != "arn:aws:kms:us-east-1:"+DefaultAccountID+":key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Errorf("metadata = %+v", m)
	}
}

// TestDeny: an action in Options.DenyActions fails with IAM's AccessDeniedException naming action and resource.
func TestDeny(t *testing.T) {
	s := newTestServer(t, &Options{DenyActions: []string{"ssm:StartSession", "kms:DescribeKey"}}, true)
	_, err := ssmClient(s).StartSession(context.Background(), &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)})
	if errorCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "not authorized to perform: ssm:StartSession") {
		t.Errorf("StartSession: %v", err)
	}
	_, err = kmsClient(s).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: aws.String("k")})
	if errorCode(err) != "AccessDeniedException" {
		t.Errorf("DescribeKey: %v", err)
	}
	if _, err := ssmClient(s).DescribeInstanceInformation(context.Background(), &ssm.DescribeInstanceInformationInput{}); err != nil {
		t.Errorf("an action not denied: %v", err)
	}
	if _, err := sts.NewFromConfig(s.AWSConfig()).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity: %v", err)
	}
}
