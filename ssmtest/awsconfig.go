package ssmtest

import (
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// The credentials [Server.AWSConfig] hands out when Options.Credentials is nil. The server knows this
// secret, so requests signed with DefaultAccessKeyID are verified in full even then.
const (
	DefaultAccessKeyID     = "AKIDSSMTESTDEFAULT00"
	DefaultSecretAccessKey = "ssmtest-default-secret-access-key"
)

// AWSConfig returns an aws-sdk-go-v2 configuration aimed at the server, as httptest's Server.Client is a
// client for its server: every service's BaseEndpoint is s.URL, the region is [DefaultRegion], and the
// credentials are ones the server accepts (the DefaultAccessKeyID pair when Options.Credentials is nil or
// holds that key, else the map's first key in sorted order). Retries are off: the emulator answers at once,
// and a retry would only hide the error an injected fault provokes and lengthen the test. The SDK's logger
// is silenced so that nothing it says reaches a terminal. The HTTP client is the SDK's default one; on a TLS
// server ([NewTLSServer]) it trusts the server's CA, as config.LoadDefaultConfig makes it for AWS_CA_BUNDLE,
// so a client that takes its data channel's TLS settings from the aws.Config trusts it too. Call it after
// Start or StartTLS.
func (s *Server) AWSConfig() aws.Config {
	id, secret := s.configCredentials()
	return aws.Config{
		Region:       DefaultRegion,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, "")),
		BaseEndpoint: aws.String(s.URL),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		Logger:       logging.Nop{},
		HTTPClient:   s.httpClient(),
	}
}

// configCredentials picks the access key AWSConfig uses.
func (s *Server) configCredentials() (id, secret string) {
	creds := s.opts.Credentials
	if creds == nil {
		return DefaultAccessKeyID, DefaultSecretAccessKey
	}
	if secret, ok := creds[DefaultAccessKeyID]; ok {
		return DefaultAccessKeyID, secret
	}
	keys := make([]string, 0, len(creds))
	for k := range creds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return DefaultAccessKeyID, DefaultSecretAccessKey // an empty map accepts nothing; the caller asked for that
	}
	return keys[0], creds[keys[0]]
}

// secretFor returns the secret key of an access key ID. verify is false when the server cannot check the
// signature: Options.Credentials is nil and the key is not DefaultAccessKeyID (any well-formed signature
// passes then). ok is false for a key the server refuses.
func (s *Server) secretFor(access string) (secret string, verify, ok bool) {
	if secret, ok := s.jitSecret(access); ok {
		return secret, true, true
	}
	if s.opts.Credentials == nil {
		if access == DefaultAccessKeyID {
			return DefaultSecretAccessKey, true, true
		}
		return "", false, true
	}
	secret, ok = s.opts.Credentials[access]
	return secret, ok, ok
}
