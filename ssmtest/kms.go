package ssmtest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
)

// kmsMagic starts every CiphertextBlob this server issues.
const kmsMagic = "SSMT"

// kmsKeys is the server's KMS emulation: every key ID is accepted, and a data key's
// CiphertextBlob is the plaintext sealed with AES-256-GCM under a per-server secret,
// with the key ARN and the encryption context as additional data. Blobs therefore open
// only on the server that issued them, under the same key and context.
type kmsKeys struct {
	aead     cipher.AEAD
	decrypts atomic.Uint64 // successful decrypts, API and agents
}

func newKMSKeys() *kmsKeys {
	var secret [32]byte
	rand.Read(secret[:])
	block, _ := aes.NewCipher(secret[:]) // a 32-byte key never fails
	aead, _ := cipher.NewGCM(block)
	return &kmsKeys{aead: aead}
}

var errInvalidCiphertext = errors.New("ssmtest: invalid KMS ciphertext")

// additionalData binds the key and the encryption context (json sorts map keys).
func additionalData(keyARN string, ec map[string]string) []byte {
	if ec == nil {
		ec = map[string]string{}
	}
	b, _ := json.Marshal(ec)
	return append(append([]byte(keyARN), 0), b...)
}

func (k *kmsKeys) seal(keyARN string, plaintext []byte, ec map[string]string) []byte {
	b := make([]byte, 0, len(kmsMagic)+2+len(keyARN)+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	b = append(b, kmsMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(keyARN)))
	b = append(b, keyARN...)
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	b = append(b, nonce...)
	return k.aead.Seal(b, nonce, plaintext, additionalData(keyARN, ec))
}

// open returns the plaintext and the key ARN the blob was sealed under.
func (k *kmsKeys) open(blob []byte, ec map[string]string) (plaintext []byte, keyARN string, err error) {
	rest, ok := strings.CutPrefix(string(blob), kmsMagic)
	if !ok || len(rest) < 2 {
		return nil, "", errInvalidCiphertext
	}
	n := int(binary.BigEndian.Uint16([]byte(rest[:2])))
	rest = rest[2:]
	if len(rest) < n+k.aead.NonceSize()+k.aead.Overhead() {
		return nil, "", errInvalidCiphertext
	}
	keyARN, rest = rest[:n], rest[n:]
	nonce, sealed := []byte(rest[:k.aead.NonceSize()]), []byte(rest[k.aead.NonceSize():])
	plaintext, err = k.aead.Open(nil, nonce, sealed, additionalData(keyARN, ec))
	if err != nil {
		return nil, "", errInvalidCiphertext
	}
	return plaintext, keyARN, nil
}

// Decrypt implements the agent's Decrypter: KMS Decrypt without a KeyId.
func (k *kmsKeys) Decrypt(_ context.Context, ciphertext []byte, ec map[string]string) ([]byte, error) {
	p, _, err := k.open(ciphertext, ec)
	if err == nil {
		k.decrypts.Add(1)
	}
	return p, err
}

// keyARN turns a key ID, alias or ARN into the ARN KMS reports.
func keyARN(region, id string) string {
	switch {
	case strings.HasPrefix(id, "arn:"):
		return id
	case strings.HasPrefix(id, "alias/"):
		return "arn:aws:kms:" + region + ":" + DefaultAccountID + ":" + id
	default:
		return "arn:aws:kms:" + region + ":" + DefaultAccountID + ":key/" + id
	}
}

func (s *Server) generateDataKey(r *apiRequest) (any, error) {
	var in struct {
		KeyId             string
		NumberOfBytes     *int
		KeySpec           string
		EncryptionContext map[string]string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.KeyId == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"}
	}
	n := 0
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "":
		return nil, &apiError{Code: "ValidationException", Message: "Please specify either number of bytes or key spec."}
	case in.NumberOfBytes != nil:
		n = *in.NumberOfBytes
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	default:
		return nil, &apiError{Code: "ValidationException", Message: "Please specify either number of bytes or key spec."}
	}
	if n < 1 || n > 1024 {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024"}
	}
	plaintext := make([]byte, n)
	rand.Read(plaintext)
	arn := keyARN(r.region, in.KeyId)
	s.stats.dataKeys.Add(1)
	return struct {
		CiphertextBlob []byte
		KeyId          string
		Plaintext      []byte
	}{s.kms.seal(arn, plaintext, in.EncryptionContext), arn, plaintext}, nil
}

func (s *Server) decrypt(r *apiRequest) (any, error) {
	var in struct {
		CiphertextBlob    []byte
		KeyId             string
		EncryptionContext map[string]string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"}
	}
	plaintext, arn, err := s.kms.open(in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, &apiError{Code: "InvalidCiphertextException", Message: ""}
	}
	if in.KeyId != "" && keyARN(r.region, in.KeyId) != arn {
		return nil, &apiError{Code: "IncorrectKeyException", Message: "The key ID in the request does not identify a CMK that can perform this operation."}
	}
	s.kms.decrypts.Add(1)
	return struct {
		EncryptionAlgorithm string
		KeyId               string
		Plaintext           []byte
	}{"SYMMETRIC_DEFAULT", arn, plaintext}, nil
}

// describeKey answers KMS DescribeKey: every key ID, alias or ARN names an enabled symmetric
// encryption key of the emulated account, as the server accepts every key in GenerateDataKey.
func (s *Server) describeKey(r *apiRequest) (any, error) {
	var in struct{ KeyId string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.KeyId == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"}
	}
	arn := keyARN(r.region, in.KeyId)
	id := arn[strings.LastIndex(arn, "/")+1:]
	type metadata struct {
		AWSAccountId, KeyId, Arn, Description                          string
		CreationDate                                                   float64
		Enabled                                                        bool
		KeyState, KeyUsage, KeySpec, CustomerMasterKeySpec, KeyManager string
		Origin                                                         string
		EncryptionAlgorithms                                           []string
	}
	return struct{ KeyMetadata metadata }{metadata{
		AWSAccountId: DefaultAccountID, KeyId: id, Arn: arn, Description: "ssmtest key",
		CreationDate: 1.7e9, Enabled: true, KeyState: "Enabled", KeyUsage: "ENCRYPT_DECRYPT",
		KeySpec: "SYMMETRIC_DEFAULT", CustomerMasterKeySpec: "SYMMETRIC_DEFAULT", KeyManager: "CUSTOMER",
		Origin: "AWS_KMS", EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"},
	}}, nil
}
