package ssmtest

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The data-channel websocket upgrade is authenticated like the real service since plugin 1.2.764.0
// (docs/protocol.md §3.1, §3.5): a SigV4 signature for service ssmmessages and the session's region in the
// headers, or a presigned stream URL; an unsigned upgrade is refused unless Options.AllowUnsignedUpgrade.
// Refusals are HTTP 403 before the upgrade, with a body that names the reason and never the signature.

const (
	upgradeService = "ssmmessages"
	emptySHA256    = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// maxSkew is how far X-Amz-Date may be from the server's clock, as AWS allows.
	maxSkew = 15 * time.Minute
	// presignExpiry is the lifetime of a presigned stream URL.
	presignExpiry = 5 * time.Minute
	// mgsAccessKey is the key the server presigns stream URLs with; its secret is random per server.
	mgsAccessKey = "AKIDSSMTESTMGSPRESIGN"
)

// presignParams are the query parameters of a presigned URL; any of them makes a stream URL presigned.
var presignParams = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// upgradeRefusal is why an upgrade was refused.
type upgradeRefusal string

func (e upgradeRefusal) Error() string { return string(e) }

// authenticateUpgrade checks how the upgrade request r of a data channel is authenticated, counts it and
// returns the refusal, if any. region is the session's ("" for an unknown session, which fails later).
func (s *Server) authenticateUpgrade(r *http.Request, region string) error {
	err := s.checkUpgrade(r, region)
	if err != nil {
		s.stats.upgradesRefused.Add(1)
	}
	return err
}

func (s *Server) checkUpgrade(r *http.Request, region string) error {
	presigned := hasPresignParams(r.URL.Query())
	auth := r.Header.Get("Authorization")
	switch {
	case presigned && auth != "":
		return upgradeRefusal("the stream URL is presigned and the request is signed again: only one authentication is allowed")
	case presigned:
		if err := s.verifyPresigned(r, region); err != nil {
			return err
		}
		s.stats.upgradesPresigned.Add(1)
		return nil
	case auth != "":
		if err := s.verifySignedUpgrade(r, auth, region); err != nil {
			return err
		}
		s.stats.upgradesSigned.Add(1)
		return nil
	case s.opts.AllowUnsignedUpgrade:
		s.stats.upgradesUnsigned.Add(1)
		return nil
	}
	return upgradeRefusal("missing Authorization: the data channel upgrade must be SigV4-signed (service ssmmessages)")
}

// verifySignedUpgrade checks a header signature of the upgrade.
func (s *Server) verifySignedUpgrade(r *http.Request, auth, region string) error {
	a, ok := parseAuthorization(auth)
	if !ok {
		return upgradeRefusal("malformed Authorization header")
	}
	if a.Service != upgradeService {
		return upgradeRefusal("credential scope names service " + strconv.Quote(a.Service) + ", want ssmmessages")
	}
	if region != "" && a.Region != region {
		return upgradeRefusal("credential scope names region " + strconv.Quote(a.Region) + ", the session's is " + strconv.Quote(region))
	}
	date := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, date)
	if err != nil || date[:8] != a.Date {
		return upgradeRefusal("missing or malformed X-Amz-Date, or it differs from the credential scope's date")
	}
	if d := time.Since(t); d > maxSkew || d < -maxSkew {
		return upgradeRefusal("signature expired or not yet valid (X-Amz-Date too far from the server's clock)")
	}
	if !containsFold(a.SignedHeaders, "host") || !containsFold(a.SignedHeaders, "x-amz-date") {
		return upgradeRefusal("signed headers must include host and x-amz-date")
	}
	secret, verify, ok := s.secretFor(a.AccessKey)
	if !ok {
		return upgradeRefusal("the security token included in the request is invalid (unknown access key)")
	}
	if !verify {
		return nil
	}
	want, err := resign(r, schemeOf(r, "ws"), nil, a, secret, t)
	if err != nil || subtle.ConstantTimeCompare([]byte(want), []byte(a.Signature)) != 1 {
		return upgradeRefusal("the request signature we calculated does not match the signature you provided")
	}
	return nil
}

// presign returns streamURL presigned by the server's own key for region.
func (s *Server) presign(streamURL, region string) string {
	u, err := url.Parse(streamURL)
	if err != nil {
		panic("ssmtest: presign: " + err.Error())
	}
	q := u.Query()
	q.Set("X-Amz-Expires", strconv.Itoa(int(presignExpiry/time.Second)))
	u.RawQuery = q.Encode()
	signed, err := s.presignAt(u, region, time.Now())
	if err != nil {
		panic("ssmtest: presign: " + err.Error())
	}
	return signed
}

func (s *Server) presignAt(u *url.URL, region string, t time.Time) (string, error) {
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	creds := aws.Credentials{AccessKeyID: mgsAccessKey, SecretAccessKey: s.mgsSecret}
	signed, _, err := v4.NewSigner().PresignHTTP(req.Context(), creds, req, emptySHA256, upgradeService, region, t)
	return signed, err
}

// verifyPresigned checks a presigned upgrade: the server's own key, not expired, and a signature that
// matches the URL as requested.
func (s *Server) verifyPresigned(r *http.Request, region string) error {
	q := r.URL.Query()
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if len(q[p]) != 1 {
			return upgradeRefusal("presigned URL: want exactly one " + p)
		}
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || len(cred) != 5 || cred[4] != "aws4_request" {
		return upgradeRefusal("presigned URL: malformed X-Amz-Algorithm or X-Amz-Credential")
	}
	if cred[0] != mgsAccessKey {
		return upgradeRefusal("presigned URL: not signed by this service")
	}
	if cred[3] != upgradeService || (region != "" && cred[2] != region) {
		return upgradeRefusal("presigned URL: credential scope is not ssmmessages in the session's region")
	}
	t, err := time.Parse(amzDateFormat, q.Get("X-Amz-Date"))
	exp, err2 := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || err2 != nil || exp < 1 || q.Get("X-Amz-Date")[:8] != cred[1] {
		return upgradeRefusal("presigned URL: malformed X-Amz-Date or X-Amz-Expires")
	}
	if now := time.Now(); now.After(t.Add(time.Duration(exp)*time.Second)) || t.After(now.Add(maxSkew)) {
		return upgradeRefusal("presigned URL: expired")
	}
	got := q.Get("X-Amz-Signature")
	q.Del("X-Amz-Signature")
	u := &url.URL{Scheme: schemeOf(r, "ws"), Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: q.Encode()}
	signed, err := s.presignAt(u, cred[2], t)
	if err != nil {
		return upgradeRefusal("presigned URL: " + err.Error())
	}
	su, err := url.Parse(signed)
	if err != nil || subtle.ConstantTimeCompare([]byte(su.Query().Get("X-Amz-Signature")), []byte(got)) != 1 {
		return upgradeRefusal("presigned URL: the signature does not match")
	}
	return nil
}

func hasPresignParams(q url.Values) bool {
	for name := range q {
		for _, p := range presignParams {
			if strings.EqualFold(name, p) {
				return true
			}
		}
	}
	return false
}
