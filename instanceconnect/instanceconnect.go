// Package instanceconnect pushes SSH public keys to EC2 instances with EC2 Instance Connect
// (SendSSHPublicKey), so that ssh through a Session Manager session logs in with a key nobody keeps on the
// instance.
//
// A pushed key is usable for [KeyLifetime] (60 seconds) by one OS user of one instance: the instance's sshd
// asks its metadata service for the keys pushed for the user (the ec2-instance-connect package's
// AuthorizedKeysCommand) when a login arrives. So the push comes right before the connection:
//
//	id, err := instanceconnect.PushKey(ctx, eic, ssmClient, "web-1", "ec2-user", pub)
//	// then ssh -o ProxyCommand='ssmwire ssh-proxy %h %p' ec2-user@<id>
//
// The package is apart from the root package so that programs that never push keys (the
// session-manager-plugin) do not link the EC2 Instance Connect SDK client.
package instanceconnect

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2instanceconnect"
	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
)

// KeyLifetime is how long EC2 Instance Connect keeps a pushed key usable.
const KeyLifetime = 60 * time.Second

// API is the part of the EC2 Instance Connect API this package calls, with the exact method signature of
// *ec2instanceconnect.Client, so that tests can pass a fake.
type API interface {
	SendSSHPublicKey(ctx context.Context, params *ec2instanceconnect.SendSSHPublicKeyInput, optFns ...func(*ec2instanceconnect.Options)) (*ec2instanceconnect.SendSSHPublicKeyOutput, error)
}

// Errors of [PushKey] and [SendKey]; the returned errors wrap them.
var (
	// ErrNotEC2: the target is no EC2 instance (an ECS container or a managed instance mi-…), and EC2
	// Instance Connect cannot push keys to it.
	ErrNotEC2 = errors.New("instanceconnect: EC2 Instance Connect works only with EC2 instances")
	// ErrKeyType: the key is not one EC2 Instance Connect takes (ssh-ed25519, or ssh-rsa of 2048 bits or
	// more; ECDSA and security keys such as sk-ssh-ed25519@openssh.com are refused).
	ErrKeyType = errors.New("instanceconnect: key type not accepted by EC2 Instance Connect")
	// ErrUser: the OS user name is not one the API accepts.
	ErrUser = errors.New("instanceconnect: invalid OS user name")
	// ErrInstanceNotFound: no EC2 instance has the id (in this account and region).
	ErrInstanceNotFound = errors.New("instanceconnect: instance not found")
	// ErrInstanceUnavailable: the instance is not running, or its type or platform has no Instance Connect.
	ErrInstanceUnavailable = errors.New("instanceconnect: instance unavailable for EC2 Instance Connect")
)

// osUser is the API's pattern for InstanceOSUser (1 to 32 characters).
var osUser = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$`)

// CheckUser returns an error wrapping [ErrUser] unless user fits the API's pattern for OS user names.
func CheckUser(user string) error {
	if !osUser.MatchString(user) {
		return fmt.Errorf("%w: %q (1 to 32 letters, digits and . _ - @ $, not starting with a digit)", ErrUser, user)
	}
	return nil
}

// PushKey resolves target (an instance id or a Name tag value, looked up with lister, which may be nil
// when target is an id) and pushes publicKey (one line of an authorized_keys file, as in id_ed25519.pub)
// for user with [SendKey]. It returns the instance id. ECS targets and managed instances (mi-…) fail with
// [ErrNotEC2] before any call.
func PushKey(ctx context.Context, api API, lister ssmwire.InstanceLister, target, user string, publicKey []byte) (string, error) {
	t, err := ssmwire.ParseTarget(target)
	if err != nil {
		return "", err
	}
	switch t.Kind {
	case ssmwire.TargetECS, ssmwire.TargetSSMString:
		return "", fmt.Errorf("%w: %s is an ECS container (log in with ssmwire shell instead)", ErrNotEC2, target)
	case ssmwire.TargetName:
		if lister == nil {
			return "", fmt.Errorf("instanceconnect: %s is a Name tag, and no SSM client was given to look it up", target)
		}
		if t, err = ssmwire.Resolve(ctx, lister, t); err != nil {
			return "", err
		}
	}
	if err := SendKey(ctx, api, t.ID, user, publicKey); err != nil {
		return t.ID, err
	}
	return t.ID, nil
}

// SendKey checks publicKey ([CheckKey]) and user, then calls SendSSHPublicKey for instanceID. API errors
// come back with a sentinel of this package wrapped (not found, unavailable, key refused) or, for access
// denied and throttling, as the root package's [*ssmwire.APIError] whose Action is
// ec2-instance-connect:SendSSHPublicKey.
func SendKey(ctx context.Context, api API, instanceID, user string, publicKey []byte) error {
	if len(instanceID) > 3 && instanceID[:3] == "mi-" {
		return fmt.Errorf("%w: %s is a managed instance, not an EC2 instance", ErrNotEC2, instanceID)
	}
	if err := CheckUser(user); err != nil {
		return err
	}
	line, err := CheckKey(publicKey)
	if err != nil {
		return err
	}
	out, err := api.SendSSHPublicKey(ctx, &ec2instanceconnect.SendSSHPublicKeyInput{
		InstanceId:     aws.String(instanceID),
		InstanceOSUser: aws.String(user),
		SSHPublicKey:   aws.String(line),
	})
	if err != nil {
		return explain(err, instanceID, user)
	}
	if !out.Success {
		return fmt.Errorf("instanceconnect: SendSSHPublicKey for %s on %s did not succeed (request %s)", user, instanceID, aws.ToString(out.RequestId))
	}
	return nil
}

// explain maps the API's errors to this package's sentinels.
func explain(err error, instanceID, user string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "EC2InstanceNotFoundException":
			return fmt.Errorf("%w: %s (%s)", ErrInstanceNotFound, instanceID, ae.ErrorMessage())
		case "EC2InstanceUnavailableException", "EC2InstanceStateInvalidException", "EC2InstanceTypeInvalidException":
			return fmt.Errorf("%w: %s: %s", ErrInstanceUnavailable, instanceID, ae.ErrorMessage())
		case "InvalidArgsException":
			return fmt.Errorf("%w: %s", ErrKeyType, ae.ErrorMessage())
		}
	}
	if c := ssmwire.Classify(err); c != err {
		return c
	}
	return fmt.Errorf("instanceconnect: push key for %s on %s: %w", user, instanceID, err)
}
