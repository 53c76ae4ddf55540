package ssmtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"golang.org/x/crypto/ssh"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// authorizedKey returns the authorized_keys line of the public half of priv.
func authorizedKey(t testing.TB, priv any) string {
	t.Helper()
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

func TestSendSSHPublicKey(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newTestServer(t, &Options{Now: clock.Now}, true)
	eic := ec2instanceconnect.NewFromConfig(s.AWSConfig())
	ctx := context.Background()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	key := authorizedKey(t, edPriv)
	push := func(id, user, key string) error {
		_, err := eic.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
			InstanceId: aws.String(id), InstanceOSUser: aws.String(user), SSHPublicKey: aws.String(key)})
		return err
	}
	out, err := eic.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId: aws.String(DefaultInstanceID), InstanceOSUser: aws.String("ec2-user"), SSHPublicKey: aws.String(key + " me@laptop")})
	if err != nil || !out.Success || aws.ToString(out.RequestId) == "" {
		t.Fatalf("SendSSHPublicKey = %+v, %v", out, err)
	}
	get := func(user string) (int, string) {
		resp, err := http.Get(s.InstanceConnectURL(DefaultInstanceID, user))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("ec2-user"); code != 200 || body != key+"\n" {
		t.Fatalf("keys served: %d %q, want %q", code, body, key+"\n")
	}
	if code, body := get("ubuntu"); code != 200 || body != "" {
		t.Fatalf("keys of another user: %d %q", code, body)
	}
	clock.Advance(59 * time.Second)
	if k := s.InstanceConnectKeys(DefaultInstanceID, "ec2-user"); len(k) != 1 {
		t.Fatalf("after 59 s: %q", k)
	}
	clock.Advance(time.Second)
	if _, body := get("ec2-user"); body != "" {
		t.Fatalf("after 60 s the key is still served: %q", body)
	}

	rsaSmall, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub := edPriv.Public().(ed25519.PublicKey)
	sk := "sk-ssh-ed25519@openssh.com " + base64.StdEncoding.EncodeToString(ssh.Marshal(struct {
		Name, Key, App string
	}{"sk-ssh-ed25519@openssh.com", string(edPub), "ssh:"}))
	for _, tc := range []struct {
		name, id, user, key, code string
	}{
		{"ecdsa", DefaultInstanceID, "ec2-user", authorizedKey(t, ec), "InvalidArgsException"},
		{"security key", DefaultInstanceID, "ec2-user", sk, "InvalidArgsException"},
		{"small RSA", DefaultInstanceID, "ec2-user", authorizedKey(t, rsaSmall), "InvalidArgsException"},
		{"not a key", DefaultInstanceID, "ec2-user", strings.Repeat("x", 100), "InvalidArgsException"},
		{"short", DefaultInstanceID, "ec2-user", "ssh-ed25519 AAAA", "ValidationException"},
		{"user pattern", DefaultInstanceID, "9lives", key, "ValidationException"},
		{"user too long", DefaultInstanceID, strings.Repeat("a", 33), key, "ValidationException"},
		{"managed instance", "mi-0123456789abcdef0", "ec2-user", key, "ValidationException"},
		{"unknown instance", "i-0000000000000000f", "ec2-user", key, "EC2InstanceNotFoundException"},
	} {
		if err := push(tc.id, tc.user, tc.key); errorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if k := s.InstanceConnectKeys(DefaultInstanceID, "ec2-user"); len(k) != 0 {
		t.Errorf("refused pushes left keys: %q", k)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	if err := push(DefaultInstanceID, "ec2-user", authorizedKey(t, rsaKey)); err != nil {
		t.Errorf("RSA 2048: %v", err)
	}
}
