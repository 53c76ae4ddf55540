package session

import (
	"crypto/tls"
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// HTTPClientNetwork returns the TLS configuration and proxy function of the *http.Transport below an
// aws-sdk-go-v2 HTTP client, so that the data channel trusts the roots the API calls trust and goes through
// the same proxy (docs/protocol.md §3.6). config.LoadDefaultConfig builds an *awshttp.BuildableClient whose
// transport trusts AWS_CA_BUNDLE or the profile's ca_bundle (the environment wins) and proxies from the
// environment; an *http.Client with an *http.Transport, or any client with a GetTransport method, works too.
// A transport without a Proxy function gives [NoProxy]. ok is false when no transport is reachable (nil, a
// custom client): the caller keeps its defaults then.
func HTTPClientNetwork(hc aws.HTTPClient) (tlsConfig *tls.Config, proxy func(*http.Request) (*url.URL, error), ok bool) {
	var tr *http.Transport
	switch c := hc.(type) {
	case interface{ GetTransport() *http.Transport }: // *awshttp.BuildableClient
		tr = c.GetTransport()
	case *http.Client:
		tr, _ = c.Transport.(*http.Transport)
		if c.Transport == nil {
			tr, _ = http.DefaultTransport.(*http.Transport)
		}
	}
	if tr == nil {
		return nil, nil, false
	}
	if tr.TLSClientConfig != nil {
		tlsConfig = tr.TLSClientConfig.Clone()
	}
	proxy = tr.Proxy
	if proxy == nil {
		proxy = NoProxy
	}
	return tlsConfig, proxy, true
}
