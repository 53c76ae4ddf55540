package ssmtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const amzDateFormat = "20060102T150405Z"

// sigV4 is a parsed Authorization header.
type sigV4 struct {
	AccessKey     string
	Date          string // yyyymmdd from the credential scope
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

func parseAuthorization(h string) (sigV4, bool) {
	var a sigV4
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return a, false
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || len(f[1]) != 8 || f[2] == "" || f[3] == "" {
				return a, false
			}
			a.AccessKey, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
		case "Signature":
			a.Signature = v
		}
	}
	if a.AccessKey == "" || len(a.SignedHeaders) == 0 || len(a.Signature) != 64 {
		return a, false
	}
	return a, true
}

// authenticate checks the request's SigV4 signature. The key must be known and the
// signature must match a recomputation with the SDK's signer; only without
// Options.Credentials does a well-formed header with a key other than
// DefaultAccessKeyID pass unverified (the server cannot know its secret).
func (s *Server) authenticate(r *apiRequest) error {
	h := r.http.Header.Get("Authorization")
	if h == "" {
		return &apiError{Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	a, ok := parseAuthorization(h)
	if !ok {
		return &apiError{Code: "IncompleteSignatureException", Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters in the AWS4-HMAC-SHA256 form."}
	}
	date := r.http.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, date)
	if err != nil {
		return &apiError{Code: "IncompleteSignatureException", Message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	if date[:8] != a.Date {
		return &apiError{Code: "InvalidSignatureException", Message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."}
	}
	if !containsFold(a.SignedHeaders, "host") || !containsFold(a.SignedHeaders, "x-amz-date") {
		return &apiError{Code: "IncompleteSignatureException", Message: "Signed headers must include host and x-amz-date."}
	}
	r.region, r.access = a.Region, a.AccessKey
	secret, verify, ok := s.secretFor(a.AccessKey)
	if !ok {
		return &apiError{Status: http.StatusBadRequest, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	if !verify {
		return nil
	}
	want, err := resign(r.http, schemeOf(r.http, "http"), r.body, a, secret, t)
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return &apiError{Code: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return s.checkJIT(a.AccessKey, r.http.Header.Get("X-Amz-Security-Token"))
}

// schemeOf returns base ("http" or "ws") for a plain request and its TLS form ("https", "wss") for one that
// came over TLS.
func schemeOf(r *http.Request, base string) string {
	if r.TLS != nil {
		return base + "s"
	}
	return base
}

// resign recomputes the signature of r over exactly the headers the client signed. scheme is
// the one the client signed with ("http" or "https" for API calls, "ws" or "wss" for a data-channel
// upgrade): the signer drops only that scheme's default port from the host.
func resign(r *http.Request, scheme string, body []byte, a sigV4, secret string, t time.Time) (string, error) {
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	c, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", err
	}
	c.Host = r.Host
	creds := aws.Credentials{AccessKeyID: a.AccessKey, SecretAccessKey: secret}
	for _, name := range a.SignedHeaders {
		switch strings.ToLower(name) {
		case "host":
		case "content-length":
			c.ContentLength = r.ContentLength
		case "x-amz-security-token":
			creds.SessionToken = r.Header.Get("X-Amz-Security-Token")
		default:
			if v := r.Header.Values(name); len(v) > 0 {
				c.Header[http.CanonicalHeaderKey(name)] = v
			}
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, c, hex.EncodeToString(sum[:]), a.Service, a.Region, t); err != nil {
		return "", err
	}
	got, ok := parseAuthorization(c.Header.Get("Authorization"))
	if !ok || strings.Join(got.SignedHeaders, ";") != strings.ToLower(strings.Join(a.SignedHeaders, ";")) {
		return "", errSignedHeaders
	}
	return got.Signature, nil
}

var errSignedHeaders = &apiError{Code: "InvalidSignatureException", Message: "signed headers differ"}

func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
