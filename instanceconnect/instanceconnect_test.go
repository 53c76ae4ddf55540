package instanceconnect_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"golang.org/x/crypto/ssh"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/instanceconnect"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func authorizedKey(t *testing.T, priv any) []byte {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.MarshalAuthorizedKey(s.PublicKey())
}

func TestCheckKey(t *testing.T) {
	kp, err := instanceconnect.NewKeyPair("me@laptop")
	if err != nil {
		t.Fatal(err)
	}
	line, err := instanceconnect.CheckKey(kp.PublicKey)
	if err != nil || !strings.HasPrefix(line, "ssh-ed25519 AAAA") || strings.Contains(line, "me@laptop") {
		t.Fatalf("CheckKey(ed25519) = %q, %v", line, err)
	}
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := instanceconnect.CheckKey(authorizedKey(t, rsa2048)); err != nil {
		t.Errorf("RSA 2048: %v", err)
	}
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, key := range map[string][]byte{
		"rsa1024": authorizedKey(t, rsa1024),
		"ecdsa":   authorizedKey(t, ec),
	} {
		if _, err := instanceconnect.CheckKey(key); !errors.Is(err, instanceconnect.ErrKeyType) {
			t.Errorf("%s: %v, want ErrKeyType", name, err)
		}
	}
	if _, err := instanceconnect.CheckKey(authorizedKey(t, ec)); err == nil || !strings.Contains(err.Error(), "ecdsa-sha2-nistp256") {
		t.Errorf("the error does not name the type: %v", err)
	}
	for _, bad := range []string{"", "not a key", `command="x" ` + string(kp.PublicKey)} {
		if _, err := instanceconnect.CheckKey([]byte(bad)); err == nil {
			t.Errorf("CheckKey(%q) accepted", bad)
		}
	}
}

func TestNewKeyPair(t *testing.T) {
	kp, err := instanceconnect.NewKeyPair("c")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(kp.PrivateKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(kp.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(signer.PublicKey().Marshal(), pub.Marshal()) || !bytes.Equal(kp.Signer.PublicKey().Marshal(), pub.Marshal()) {
		t.Fatal("the private key in the PEM does not match the public key")
	}
	other, _ := instanceconnect.NewKeyPair("c")
	if bytes.Equal(other.PublicKey, kp.PublicKey) {
		t.Fatal("two key pairs are the same")
	}
}

// TestPushKey pushes a key by Name tag to the emulator, which then serves it for the user.
func TestPushKey(t *testing.T) {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true, Instances: []ssmtest.Instance{{ID: "mi-0123456789abcdef0", Name: "onprem"}}})
	t.Cleanup(srv.Close)
	cfg := srv.AWSConfig()
	eic, api := ec2instanceconnect.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	kp, _ := instanceconnect.NewKeyPair("")
	ctx := context.Background()
	id, err := instanceconnect.PushKey(ctx, eic, api, ssmtest.DefaultInstanceName, "ec2-user", kp.PublicKey)
	if err != nil || id != ssmtest.DefaultInstanceID {
		t.Fatalf("PushKey = %q, %v", id, err)
	}
	if got := srv.InstanceConnectKeys(id, "ec2-user"); len(got) != 1 || got[0] != string(kp.PublicKey) {
		t.Fatalf("the emulator holds %q, want %q", got, kp.PublicKey)
	}
	for _, target := range []string{"onprem", "mi-0123456789abcdef0", "ecs:cluster/task", "ecs:c_t_r"} {
		if _, err := instanceconnect.PushKey(ctx, eic, api, target, "ec2-user", kp.PublicKey); !errors.Is(err, instanceconnect.ErrNotEC2) {
			t.Errorf("PushKey(%s): %v, want ErrNotEC2", target, err)
		}
	}
	if _, err := instanceconnect.PushKey(ctx, eic, api, "i-0000000000000000f", "ec2-user", kp.PublicKey); !errors.Is(err, instanceconnect.ErrInstanceNotFound) {
		t.Errorf("unknown instance: %v", err)
	}
	if _, err := instanceconnect.PushKey(ctx, eic, api, ssmtest.DefaultInstanceID, "bad user", kp.PublicKey); !errors.Is(err, instanceconnect.ErrUser) {
		t.Errorf("bad user: %v", err)
	}
}

// deniedAPI fails as AWS does for an identity without the permission.
type deniedAPI struct{}

func (deniedAPI) SendSSHPublicKey(context.Context, *ec2instanceconnect.SendSSHPublicKeyInput, ...func(*ec2instanceconnect.Options)) (*ec2instanceconnect.SendSSHPublicKeyOutput, error) {
	return nil, &smithy.OperationError{ServiceID: "EC2 Instance Connect", OperationName: "SendSSHPublicKey",
		Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "User: arn:aws:iam::123456789012:user/x is not authorized to perform: ec2-instance-connect:SendSSHPublicKey"}}
}

func TestSendKeyAccessDenied(t *testing.T) {
	kp, _ := instanceconnect.NewKeyPair("")
	err := instanceconnect.SendKey(context.Background(), deniedAPI{}, ssmtest.DefaultInstanceID, "ec2-user", kp.PublicKey)
	var ae *ssmwire.APIError
	if !errors.As(err, &ae) || !errors.Is(err, ssmwire.ErrAccessDenied) || ae.Action() != "ec2-instance-connect:SendSSHPublicKey" {
		t.Fatalf("err = %v, want an APIError for ec2-instance-connect:SendSSHPublicKey", err)
	}
	if adv := ae.Advice("dev"); !strings.Contains(adv, "ec2-instance-connect:SendSSHPublicKey") {
		t.Errorf("advice does not name the permission: %s", adv)
	}
}
