package ssmwire

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmwire/ssmwire/session"
)

// Users' networks (docs/protocol.md §3.6): the data channel trusts what the API calls trust and goes through
// their proxy. [Client] takes both from the SSM client's (or the aws.Config's) HTTP client; these names serve
// programs that load their AWS configuration late, and callers that tell network failures apart.

// ChannelDialer opens data-channel websockets with given TLS roots and proxy; see [session.Dialer].
type ChannelDialer = session.Dialer

// CertificateError is a TLS certificate the data channel (or an API call, see [NetworkError]) did not trust:
// host, reason, and what to set; see [session.CertificateError].
type CertificateError = session.CertificateError

// ProxyError is an HTTP proxy that could not be reached or refused the tunnel (403, 407); see
// [session.ProxyError].
type ProxyError = session.ProxyError

// NetworkError returns err as a [*CertificateError] or [*ProxyError] when it is one or an SDK call failed
// that way, else nil: programs print it as it is, one line that says what to set.
func NetworkError(err error) error { return session.NetworkError(err) }

// LazyDial returns a data-channel Dial ([ChannelConfig].Dial) whose TLS roots and proxy are those of the HTTP
// client of the aws.Config load returns, loaded at the first dial as [LazySSM] loads its client at the first
// call: AWS_CA_BUNDLE and a profile's ca_bundle then apply to the websocket as to the API calls. If load
// fails, the dial uses the system roots and the proxy from the environment; the error shows at the API call
// that needs the configuration.
func LazyDial(load func(context.Context) (aws.Config, error)) func(ctx context.Context, url string, header http.Header) (session.Transport, error) {
	return func(ctx context.Context, url string, header http.Header) (session.Transport, error) {
		var d session.Dialer
		if cfg, err := load(ctx); err == nil {
			d.TLSConfig, d.Proxy, _ = session.HTTPClientNetwork(cfg.HTTPClient)
		}
		return d.Dial(ctx, url, header)
	}
}
