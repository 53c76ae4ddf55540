// Package awsnet loads the network settings of the programs' AWS configuration from a given environment, not
// only the process's: the CA bundle (AWS_CA_BUNDLE, else the profile's ca_bundle), checked before anything is
// dialled, and the HTTP proxies (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) with Go's semantics. The SDK's HTTP client
// built from them carries both to the API calls, and the data channel takes them from that client
// (session.HTTPClientNetwork), so both trust and go through the same things (docs/protocol.md §3.6).
package awsnet

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/net/http/httpproxy"
)

// Lookup reads one environment variable, as os.LookupEnv.
type Lookup func(key string) (string, bool)

// get returns the value of the first of keys that is set and not empty.
func (l Lookup) get(keys ...string) string {
	if k := l.name(keys...); k != "" {
		v, _ := l(k)
		return v
	}
	return ""
}

// name returns the first of keys that is set and not empty, "" when none is.
func (l Lookup) name(keys ...string) string {
	for _, k := range keys {
		if v, ok := l(k); ok && v != "" {
			return k
		}
	}
	return ""
}

// CABundleError is a CA bundle that the configuration names and that cannot be used: the AWS CLI refuses it
// too, and a program must not fall back to the system roots for one channel and fail on another.
type CABundleError struct {
	File   string // the file named
	Source string // where it is named: "AWS_CA_BUNDLE" or `the ca_bundle of profile "p"`
	Err    error  // why it cannot be used: the read error, or errNoCertificate
}

func (e *CABundleError) Error() string {
	reason := e.Err.Error()
	var pe *os.PathError
	if errors.As(e.Err, &pe) {
		reason = "cannot be read: " + pe.Err.Error()
	}
	return fmt.Sprintf("CA bundle %s (%s) %s", e.File, e.Source, reason)
}

func (e *CABundleError) Unwrap() error { return e.Err }

// errNoCertificate is a CA bundle that holds no PEM certificate.
var errNoCertificate = errors.New("holds no PEM certificate")

// Files are the shared configuration files to read a profile's ca_bundle from; nil: AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE from the lookup, else the SDK's defaults (~/.aws/config, ~/.aws/credentials).
type Files struct {
	Config, Credentials []string
}

// CABundle returns the PEM bytes of the CA bundle the configuration names, nil when it names none:
// AWS_CA_BUNDLE from lookup, else the ca_bundle of profile (AWS_PROFILE from lookup when empty, else
// "default"), as the SDK resolves it. A bundle that cannot be read or holds no certificate is a
// [*CABundleError]. A profile that cannot be read is not an error here: loading the configuration reports it.
func CABundle(ctx context.Context, lookup Lookup, profile string, files Files) ([]byte, error) {
	file, source := lookup.get("AWS_CA_BUNDLE"), "AWS_CA_BUNDLE"
	if file == "" {
		if profile == "" {
			profile = lookup.get("AWS_PROFILE")
		}
		if profile == "" {
			profile = "default"
		}
		sc, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
			if files.Config != nil {
				o.ConfigFiles = files.Config
			} else if f := lookup.get("AWS_CONFIG_FILE"); f != "" {
				o.ConfigFiles = []string{f}
			}
			if files.Credentials != nil {
				o.CredentialsFiles = files.Credentials
			} else if f := lookup.get("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
				o.CredentialsFiles = []string{f}
			}
		})
		if err != nil || sc.CustomCABundle == "" {
			return nil, nil
		}
		file, source = sc.CustomCABundle, fmt.Sprintf("the ca_bundle of profile %q", profile)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, &CABundleError{File: file, Source: source, Err: err}
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return nil, &CABundleError{File: file, Source: source, Err: errNoCertificate}
	}
	return b, nil
}

// Proxy returns the proxy function of the environment lookup reads, with http.ProxyFromEnvironment's rules
// (httpproxy.FromEnvironment): HTTPS_PROXY or https_proxy for https URLs, HTTP_PROXY or http_proxy for http,
// NO_PROXY or no_proxy for exceptions; localhost and loopback addresses are never proxied.
func Proxy(lookup Lookup) func(*http.Request) (*url.URL, error) {
	f := ProxyFrom(lookup)
	return func(r *http.Request) (*url.URL, error) {
		p, _, err := f(r.URL)
		return p, err
	}
}

// ProxyFrom is [Proxy] for a URL that also says which variable named the proxy ("HTTPS_PROXY",
// "https_proxy", "HTTP_PROXY" or "http_proxy"; "" with a nil proxy, a direct connection), for a program
// that reports the proxy in use.
func ProxyFrom(lookup Lookup) func(u *url.URL) (proxy *url.URL, from string, err error) {
	httpsVar, plainVar := lookup.name("HTTPS_PROXY", "https_proxy"), lookup.name("HTTP_PROXY", "http_proxy")
	cfg := &httpproxy.Config{
		HTTPProxy:  lookup.get("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: lookup.get("HTTPS_PROXY", "https_proxy"),
		NoProxy:    lookup.get("NO_PROXY", "no_proxy"),
		CGI:        lookup.get("REQUEST_METHOD") != "",
	}
	f := cfg.ProxyFunc()
	return func(u *url.URL) (*url.URL, string, error) {
		p, err := f(u)
		if err != nil || p == nil {
			return nil, "", err
		}
		if u.Scheme == "https" {
			return p, httpsVar, nil
		}
		return p, plainVar, nil
	}
}

// LoadOptions returns the config.LoadDefaultConfig options that make the SDK use the CA bundle and proxies
// of lookup: an HTTP client whose transport proxies as [Proxy] says, and the checked bundle when there is
// one. Errors are those of [CABundle].
func LoadOptions(ctx context.Context, lookup Lookup, profile string, files Files) ([]func(*config.LoadOptions) error, error) {
	ca, err := CABundle(ctx, lookup, profile, files)
	if err != nil {
		return nil, err
	}
	proxy := Proxy(lookup)
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) { tr.Proxy = proxy })
	opts := []func(*config.LoadOptions) error{config.WithHTTPClient(hc)}
	if ca != nil {
		opts = append(opts, config.WithCustomCABundle(bytes.NewReader(ca)))
	}
	return opts, nil
}
