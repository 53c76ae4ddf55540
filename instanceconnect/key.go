package instanceconnect

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// CheckKey parses publicKey, one line of an authorized_keys file ("ssh-ed25519 AAAA… comment"), and
// returns it as the API takes it ("type base64", no options, no comment). Keys EC2 Instance Connect refuses
// fail with [ErrKeyType] naming the type: only ssh-ed25519 and ssh-rsa keys of at least 2048 bits are
// accepted.
func CheckKey(publicKey []byte) (string, error) {
	pub, _, opts, _, err := ssh.ParseAuthorizedKey(publicKey)
	if err != nil {
		return "", fmt.Errorf("instanceconnect: not an OpenSSH public key: %w", err)
	}
	if len(opts) > 0 {
		return "", fmt.Errorf("instanceconnect: public key has authorized_keys options (%s); give the bare key", strings.Join(opts, ","))
	}
	switch pub.Type() {
	case ssh.KeyAlgoED25519:
	case ssh.KeyAlgoRSA:
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return "", fmt.Errorf("%w: unreadable RSA key", ErrKeyType)
		}
		if k, ok := ck.CryptoPublicKey().(*rsa.PublicKey); !ok || k.N.BitLen() < 2048 {
			return "", fmt.Errorf("%w: RSA keys must have at least 2048 bits", ErrKeyType)
		}
	default:
		return "", fmt.Errorf("%w: %s (it takes ssh-ed25519 and ssh-rsa keys)", ErrKeyType, pub.Type())
	}
	return string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(pub))), nil
}

// KeyPair is a fresh ed25519 key pair held in memory.
type KeyPair struct {
	// PublicKey is the authorized_keys line of the public half, for [SendKey].
	PublicKey []byte
	// PrivateKeyPEM is the private half in OpenSSH's format, unencrypted, for ssh -i.
	PrivateKeyPEM []byte
	// Signer signs with the private half (golang.org/x/crypto/ssh clients).
	Signer ssh.Signer
}

// NewKeyPair makes a fresh ed25519 key pair; comment goes into the private key file.
func NewKeyPair(comment string) (*KeyPair, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("instanceconnect: generate key: %w", err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("instanceconnect: generate key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("instanceconnect: marshal key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("instanceconnect: signer: %w", err)
	}
	line := bytes.TrimSpace(ssh.MarshalAuthorizedKey(sp))
	if comment != "" {
		line = append(append(line, ' '), comment...)
	}
	return &KeyPair{PublicKey: line, PrivateKeyPEM: pem.EncodeToMemory(block), Signer: signer}, nil
}
