package session

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// ErrUntrustedStreamURL is returned (wrapped) by [CheckStreamURL] and [Open] for a stream URL the session
// refuses to connect to.
var ErrUntrustedStreamURL = errors.New("session: untrusted stream URL")

// CheckStreamURL reports whether a stream URL may be dialled, as the official plugin checks since 1.2.889.0
// (docs/protocol.md §3.5): the upgrade carries a signature and an access key id, and the first frame the
// session's token, so a forged StartSession response must not be able to send them anywhere else.
//
// A URL is accepted when its host is an AWS Session Manager endpoint, over wss on the default port:
// ssmmessages.<region>.<partition suffix> (amazonaws.com, amazonaws.com.cn, amazonaws.eu and the ISO
// partitions' suffixes, the GovCloud regions included), the same with ssmmessages-fips, both on the
// partitions' dual-stack suffixes (api.aws, ...), and interface VPC endpoint names
// <name>.ssmmessages.<region>.vpce.<partition suffix>; the region must belong to the suffix's partition.
// Any other host is accepted only when it is the host (and port) of one of the trusted endpoint URLs, the
// endpoints a user named on purpose (an --endpoint-url, AWS_ENDPOINT_URL_SSM, aws.Config.BaseEndpoint...),
// and then ws:// is accepted too. A trusted endpoint on an AWS domain adds nothing beyond the AWS rule.
//
// Host names are compared without regard to case. URLs with user information, a percent-encoded,
// empty or trailing-dot host, a backslash, spaces or control characters are refused whatever their host.
// The error wraps [ErrUntrustedStreamURL] and names the host, never the rest of the URL.
func CheckStreamURL(raw string, trusted ...string) error {
	if raw == "" {
		return fmt.Errorf("%w: empty", ErrUntrustedStreamURL)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c == 0x7f || c == '\\' {
			return fmt.Errorf("%w: it contains a space, a control character or a backslash", ErrUntrustedStreamURL)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: it does not parse as a URL", ErrUntrustedStreamURL)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "wss" && scheme != "ws" {
		return fmt.Errorf("%w: scheme %q is not a websocket scheme (wss)", ErrUntrustedStreamURL, u.Scheme)
	}
	if u.Opaque != "" || u.User != nil || strings.Contains(authority(raw), "@") {
		return fmt.Errorf("%w: it carries user information", ErrUntrustedStreamURL)
	}
	if strings.Contains(authority(raw), "%") {
		return fmt.Errorf("%w: its host is percent-encoded", ErrUntrustedStreamURL)
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		return fmt.Errorf("%w: it names no host", ErrUntrustedStreamURL)
	}
	if strings.HasSuffix(host, ".") {
		return fmt.Errorf("%w: host %q ends with a dot", ErrUntrustedStreamURL, host)
	}
	if _, ok := ssmMessagesRegion(host); ok {
		switch {
		case scheme != "wss":
			return fmt.Errorf("%w: AWS endpoint %q over %s: only wss is accepted", ErrUntrustedStreamURL, host, scheme)
		case port != "" && port != "443":
			return fmt.Errorf("%w: AWS endpoint %q on port %s: only 443 is accepted", ErrUntrustedStreamURL, host, port)
		}
		return nil
	}
	for _, t := range trusted {
		if trustedEndpointMatches(t, host, effectivePort(scheme, port)) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %q is not a Session Manager endpoint (ssmmessages.<region>.amazonaws.com and the like); "+
		"to use another endpoint, such as an emulator, name it as the endpoint URL", ErrUntrustedStreamURL, host)
}

// authority returns the raw authority of a URL string ("" without one).
func authority(raw string) string {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// effectivePort returns port, or the scheme's default.
func effectivePort(scheme, port string) string {
	if port != "" {
		return port
	}
	switch scheme {
	case "https", "wss":
		return "443"
	case "http", "ws":
		return "80"
	}
	return ""
}

// trustedEndpointMatches reports whether the endpoint URL endpoint names host (lower case) and port.
func trustedEndpointMatches(endpoint, host, port string) bool {
	e, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || e.User != nil || e.Hostname() == "" || strings.Contains(authority(endpoint), "%") {
		return false
	}
	scheme := strings.ToLower(e.Scheme)
	switch scheme {
	case "http", "https", "ws", "wss":
	default:
		return false
	}
	eh := strings.ToLower(e.Hostname())
	if isAWSDomain(eh) || effectivePort(scheme, e.Port()) != port {
		return false
	}
	a, errA := netip.ParseAddr(eh)
	b, errB := netip.ParseAddr(host)
	if errA == nil || errB == nil {
		return errA == nil && errB == nil && a.Unmap() == b.Unmap()
	}
	return eh == host
}

// isAWSDomain reports whether host is on one of the AWS partitions' DNS suffixes, where only the Session
// Manager endpoint rule applies.
func isAWSDomain(host string) bool {
	host = strings.TrimSuffix(host, ".")
	for _, p := range partitions {
		for _, suffix := range []string{p.dns, p.dualStack} {
			if host == suffix || strings.HasSuffix(host, "."+suffix) {
				return true
			}
		}
	}
	return false
}
