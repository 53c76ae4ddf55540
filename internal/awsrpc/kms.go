package awsrpc

import (
	"context"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

var kmsService = service{id: "KMS", signingName: "kms", target: "TrentService",
	resolve: func(ctx context.Context, region string, fips, dualStack bool, base *string) (url.URL, http.Header, error) {
		p := kms.EndpointParameters{UseFIPS: &fips, UseDualStack: &dualStack, Endpoint: base}
		if region != "" {
			p.Region = &region
		}
		ep, err := kms.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, p)
		return ep.URI, ep.Headers, err
	}}

// KMS makes KMS's GenerateDataKey call. It satisfies session.KMSClient.
type KMS struct{ c *caller }

// NewKMS returns KMS calls configured from cfg as kms.NewFromConfig would configure its client.
func NewKMS(cfg aws.Config) *KMS { return &KMS{newCaller(cfg, kmsService, "")} }

type recipientBody struct {
	AttestationDocument    []byte                       `json:",omitempty"`
	KeyEncryptionAlgorithm types.KeyEncryptionMechanism `json:",omitempty"`
}

type generateDataKeyIn struct {
	DryRun            *bool             `json:",omitempty"`
	EncryptionContext map[string]string `json:",omitempty"`
	GrantTokens       []string          `json:",omitempty"`
	KeyId             *string           `json:",omitempty"`
	KeySpec           types.DataKeySpec `json:",omitempty"`
	NumberOfBytes     *int32            `json:",omitempty"`
	Recipient         *recipientBody    `json:",omitempty"`
}

type generateDataKeyOut struct {
	CiphertextBlob         []byte
	CiphertextForRecipient []byte
	KeyId                  *string
	KeyMaterialId          *string
	Plaintext              []byte
}

// GenerateDataKey is kms.Client.GenerateDataKey.
func (k *KMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if len(optFns) > 0 {
		return nil, errOptions
	}
	if in == nil {
		in = &kms.GenerateDataKeyInput{}
	}
	if in.KeyId == nil {
		return nil, k.c.opError("GenerateDataKey", missing("GenerateDataKeyInput", "KeyId"))
	}
	body := generateDataKeyIn{DryRun: in.DryRun, EncryptionContext: in.EncryptionContext, GrantTokens: in.GrantTokens,
		KeyId: in.KeyId, KeySpec: in.KeySpec, NumberOfBytes: in.NumberOfBytes}
	if r := in.Recipient; r != nil {
		body.Recipient = &recipientBody{AttestationDocument: r.AttestationDocument, KeyEncryptionAlgorithm: r.KeyEncryptionAlgorithm}
	}
	var out generateDataKeyOut
	if err := k.c.call(ctx, "GenerateDataKey", body, &out); err != nil {
		return nil, err
	}
	return &kms.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, CiphertextForRecipient: out.CiphertextForRecipient,
		KeyId: out.KeyId, KeyMaterialId: out.KeyMaterialId, Plaintext: out.Plaintext}, nil
}
