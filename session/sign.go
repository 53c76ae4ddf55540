package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningService is the SigV4 service name of the data-channel websocket upgrade (docs/protocol.md §3.1).
const SigningService = "ssmmessages"

// emptyPayloadHash is the SHA-256 of the empty body of the GET that upgrades to a websocket.
const emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// presignQuery lists the query parameters that make a stream URL presigned (docs/protocol.md §3.5).
var presignQuery = []string{
	"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token",
}

// IsPresigned reports whether a stream URL already carries a SigV4 query signature. Such a URL is dialled as it
// is: signing it again would add a second, conflicting authentication. Parameter names are compared without
// regard to case, so that no spelling of them gets a header signature on top.
func IsPresigned(streamURL string) bool {
	u, err := url.Parse(streamURL)
	if err != nil {
		return false
	}
	for name := range u.Query() {
		for _, p := range presignQuery {
			if strings.EqualFold(name, p) {
				return true
			}
		}
	}
	return false
}

// errNoCredentials marks a dial that goes ahead unsigned because there is nothing to sign with.
var errNoCredentials = errors.New("no AWS credentials")

// SignUpgrade returns the headers that SigV4-sign the websocket upgrade request GET streamURL (empty payload)
// for service [SigningService] in region, as the official plugin does since 1.2.764.0 (docs/protocol.md §3.5):
// Authorization, X-Amz-Date and, for temporary credentials, X-Amz-Security-Token. The signature covers the
// host exactly as the URL names it, which is the Host header the websocket dialer sends. Errors never contain
// the credentials or the signature.
func SignUpgrade(ctx context.Context, creds aws.Credentials, streamURL, region string, now time.Time) (http.Header, error) {
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return nil, errNoCredentials
	}
	if region == "" {
		return nil, errors.New("no region to sign for")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, streamURL, nil)
	if err != nil {
		return nil, fmt.Errorf("stream URL does not parse")
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, emptyPayloadHash, SigningService, region, now); err != nil {
		return nil, fmt.Errorf("SigV4: %w", err)
	}
	h := make(http.Header)
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
		if v := req.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h, nil
}

// upgradeHeader returns the headers for the next websocket dial: none for a presigned stream URL or without
// credentials, else a fresh signature. The credentials are retrieved for every dial, so a refreshed set is
// used after a reconnect; a signature is only valid for minutes anyway. Failing to sign is not fatal (the
// service decides, as with the official plugin); it is logged once per session, at debug level, and
// returned as unsigned so that a refused dial can tell why it went out unsigned.
func (s *Channel) upgradeHeader(ctx context.Context, streamURL string) (h http.Header, unsigned error) {
	if IsPresigned(streamURL) {
		return nil, nil
	}
	if s.cfg.Credentials == nil {
		s.unsignedOnce.Do(func() {
			s.cfg.Logger.Debug("data channel upgrade not signed: no credentials configured", "session", s.id)
		})
		return nil, nil
	}
	creds, err := s.cfg.Credentials.Retrieve(ctx)
	if err == nil && !creds.HasKeys() {
		err = errNoCredentials
	}
	if err == nil {
		h, err = SignUpgrade(ctx, creds, streamURL, s.region, time.Now())
	}
	if err != nil {
		s.unsignedOnce.Do(func() {
			s.cfg.Logger.Debug("data channel upgrade not signed; dialling unsigned", "session", s.id, "err", err)
		})
		return nil, err
	}
	return h, nil
}

// resumeURL returns the stream URL to dial after a ResumeSession that answered resumed. The official plugin
// keeps dialling the first stream URL (docs/protocol.md §7.4), and so does a session with a plain URL. A
// presigned URL expires, though, so a presigned URL from ResumeSession is taken instead, provided it names
// the same scheme and host as the URL the session was opened with: a resumed session cannot move elsewhere.
func (s *Channel) resumeURL(resumed string) string {
	s.mu.Lock()
	cur := s.url
	s.mu.Unlock()
	if resumed == "" || resumed == cur || !IsPresigned(resumed) {
		return cur
	}
	a, err1 := url.Parse(cur)
	b, err2 := url.Parse(resumed)
	if err1 != nil || err2 != nil || !strings.EqualFold(a.Scheme, b.Scheme) || !strings.EqualFold(a.Host, b.Host) || b.User != nil {
		s.cfg.Logger.Warn("ResumeSession returned a stream URL for another endpoint; keeping the first one", "session", s.id)
		return cur
	}
	return resumed
}
