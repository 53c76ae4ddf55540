package awsrpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go/middleware"
)

// smithyMetadata is the ResultMetadata both sides' outputs are given before they are compared (the SDK's
// holds its middleware's bookkeeping).
func smithyMetadata() middleware.Metadata { return middleware.Metadata{} }

// authParts splits a SigV4 Authorization header into its credential, signed headers and signature.
func authParts(h http.Header) (credential, signed, signature string) {
	_, rest, _ := strings.Cut(h.Get("Authorization"), " ")
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			signature = v
		}
	}
	return
}

// scope is the credential scope of a request's signature: key id, region, service (not the date).
func scope(h http.Header) string {
	c, _, _ := authParts(h)
	parts := strings.Split(c, "/")
	if len(parts) != 5 {
		return c
	}
	return strings.Join([]string{parts[0], parts[2], parts[3], parts[4]}, "/")
}

func signedHeaders(h http.Header) string {
	_, s, _ := authParts(h)
	return s
}

// verifySignature signs the recorded request again, as a server would check it, and compares signatures.
func verifySignature(r recorded, secret string) error {
	cred, signed, sig := authParts(r.header)
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return fmt.Errorf("credential %q", cred)
	}
	at, err := time.Parse("20060102T150405Z", r.header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	u := "http://" + r.host + r.path
	if r.query != "" {
		u += "?" + r.query
	}
	req, err := http.NewRequest(r.method, u, strings.NewReader(string(r.body)))
	if err != nil {
		return err
	}
	for _, name := range strings.Split(signed, ";") {
		switch name {
		case "host", "x-amz-date", "x-amz-security-token":
		case "content-length":
			req.ContentLength = int64(len(r.body))
		default:
			req.Header[http.CanonicalHeaderKey(name)] = r.header.Values(name)
		}
	}
	sum := sha256.Sum256(r.body)
	creds := aws.Credentials{AccessKeyID: parts[0], SecretAccessKey: secret, SessionToken: r.header.Get("X-Amz-Security-Token")}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), parts[3], parts[2], at); err != nil {
		return err
	}
	if _, s2, sig2 := authParts(req.Header); sig2 != sig || s2 != signed {
		return fmt.Errorf("signature does not verify: sent %s over %s, expected %s over %s", sig, signed, sig2, s2)
	}
	return nil
}
