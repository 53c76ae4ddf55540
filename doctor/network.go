package doctor

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// network is what the endpoint check found: where each service is, how it is reached, which roots are
// trusted.
type network struct {
	ssm, kms, sts *url.URL
	data          *url.URL // the data channel (MGS) as an https or http URL, for proxy and TLS decisions
	roots         *x509.CertPool
	rootsFrom     string
}

// endpoints resolves the SSM, KMS and STS endpoints and the data-channel host for the region.
func (d *run) endpoints(ctx context.Context) []Result {
	r := Result{Check: CheckEndpoints}
	if d.loadErr != nil {
		return skip(CheckEndpoints, "no AWS configuration")
	}
	if d.aws.Region == "" && d.cfg.Endpoint("SSM") == "" {
		return skip(CheckEndpoints, "no region")
	}
	n := &network{}
	var err error
	if n.ssm, err = d.resolve(ctx, "SSM"); err == nil {
		if n.kms, err = d.resolve(ctx, "KMS"); err == nil {
			n.sts, err = d.resolve(ctx, "STS")
		}
	}
	if err != nil {
		r.Status, r.Err, r.Message = Fail, err, err.Error()
		r.Fix = "correct the endpoint URL (--endpoint-url, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>) or the region"
		return one(r)
	}
	n.data = d.dataURL(n.ssm)
	n.roots, n.rootsFrom = d.roots()
	d.net = n
	r.Status = Pass
	r.Message = fmt.Sprintf("SSM %s, data channel %s, KMS %s, STS %s", n.ssm, n.data.Host, n.kms, n.sts)
	r.Details = map[string]string{"ssm": n.ssm.String(), "data_channel": n.data.Host, "kms": n.kms.String(),
		"sts": n.sts.String(), "roots": n.rootsFrom}
	return one(r)
}

// resolve returns a service's endpoint: the configured override, the SDK's base endpoint, or the one the
// SDK resolves for the region.
func (d *run) resolve(ctx context.Context, service string) (*url.URL, error) {
	raw := d.cfg.Endpoint(service)
	if raw == "" {
		raw = aws.ToString(d.aws.BaseEndpoint)
	}
	if raw == "" {
		region := aws.String(d.aws.Region)
		var err error
		switch service {
		case "SSM":
			var e = ssm.NewDefaultEndpointResolverV2()
			ep, rerr := e.ResolveEndpoint(ctx, ssm.EndpointParameters{Region: region})
			raw, err = ep.URI.String(), rerr
		case "KMS":
			ep, rerr := kms.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, kms.EndpointParameters{Region: region})
			raw, err = ep.URI.String(), rerr
		default:
			// STS answers in every region at sts.REGION.<partition suffix>, like SSM at ssm.REGION...
			ep, rerr := ssm.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, ssm.EndpointParameters{Region: region})
			raw, err = strings.Replace(ep.URI.String(), "://ssm.", "://sts.", 1), rerr
		}
		if err != nil {
			return nil, fmt.Errorf("no %s endpoint for region %q: %w", service, d.aws.Region, err)
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("the %s endpoint URL %q is not an http or https URL", service, raw)
	}
	return u, nil
}

// dataURL is where the data channel goes: ssmmessages next to the SSM endpoint the SDK resolved, or the
// configured SSM endpoint itself (the library trusts stream URLs on it: VPC endpoints, emulators).
func (d *run) dataURL(ssmURL *url.URL) *url.URL {
	u := &url.URL{Scheme: ssmURL.Scheme, Host: ssmURL.Host}
	if d.cfg.Endpoint("SSM") == "" && aws.ToString(d.aws.BaseEndpoint) == "" {
		if rest, ok := strings.CutPrefix(ssmURL.Hostname(), "ssm."); ok {
			u.Host = "ssmmessages." + rest
			if p := ssmURL.Port(); p != "" {
				u.Host = net.JoinHostPort(u.Host, p)
			}
		}
	}
	return u
}

// roots returns the CA roots the SDK's HTTP client trusts (AWS_CA_BUNDLE or the profile's ca_bundle), or
// nil for the system's.
func (d *run) roots() (*x509.CertPool, string) {
	bc, ok := d.aws.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		return nil, "the system's CA roots"
	}
	tr := bc.GetTransport()
	if tr == nil || tr.TLSClientConfig == nil || tr.TLSClientConfig.RootCAs == nil {
		return nil, "the system's CA roots"
	}
	if f := d.env.get("AWS_CA_BUNDLE"); f != "" {
		return tr.TLSClientConfig.RootCAs, "AWS_CA_BUNDLE " + f
	}
	return tr.TLSClientConfig.RootCAs, "ca_bundle of profile " + d.profile
}

// httpClient is the SDK's HTTP client (its CA roots, timeouts) with the environment's proxy.
func (d *run) httpClient() aws.HTTPClient {
	bc, ok := d.aws.HTTPClient.(*awshttp.BuildableClient)
	if d.aws.HTTPClient == nil {
		bc, ok = awshttp.NewBuildableClient(), true
	}
	if !ok {
		return d.aws.HTTPClient
	}
	return bc.WithTransportOptions(func(t *http.Transport) {
		t.Proxy = func(r *http.Request) (*url.URL, error) {
			p, _, err := d.proxyFor(r.URL)
			return p, err
		}
	}).WithTimeout(d.cfg.Timeout)
}
