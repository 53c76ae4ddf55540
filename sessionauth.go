package ssmwire

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/session"
)

// withSSMAuth fills in the session settings that follow from the SSM client: a data channel is signed with
// the credentials and region ResumeSession and TerminateSession use, when the caller left them unset, and the
// endpoint the SSM client was pointed at (aws.Config.BaseEndpoint, AWS_ENDPOINT_URL_SSM, a profile's
// endpoint_url) is trusted as a stream URL host (docs/protocol.md §3.5). Only an *ssm.Client says what those are;
// a fake SSMAPI leaves them unset.
func withSSMAuth(base session.Config, api SSMAPI) session.Config {
	c, ok := api.(*ssm.Client)
	if !ok {
		return base
	}
	o := c.Options()
	return withHTTPClient(withAWSAuth(base, o.Credentials, o.Region, o.BaseEndpoint), o.HTTPClient)
}

// withHTTPClient makes the data channel trust what the API calls trust and use their proxy: unless the
// caller set them (or a Dial of its own), the session's TLSConfig and Proxy are those of hc's *http.Transport
// (AWS_CA_BUNDLE, a profile's ca_bundle, an aws.Config.HTTPClient with its own roots; docs/protocol.md §3.6).
func withHTTPClient(base session.Config, hc aws.HTTPClient) session.Config {
	if base.Dial != nil {
		return base
	}
	tlsCfg, proxy, ok := session.HTTPClientNetwork(hc)
	if !ok {
		return base
	}
	if base.TLSConfig == nil {
		base.TLSConfig = tlsCfg
	}
	if base.Proxy == nil {
		base.Proxy = proxy
	}
	return base
}

// withAWSAuth sets the session's signing credentials and region unless they are set, and adds endpoint
// (when not nil) to its trusted endpoints.
func withAWSAuth(base session.Config, creds aws.CredentialsProvider, region string, endpoint *string) session.Config {
	if base.Credentials == nil {
		base.Credentials = creds
	}
	if base.Region == "" {
		base.Region = region
	}
	if e := aws.ToString(endpoint); e != "" {
		base.TrustedEndpoints = append(base.TrustedEndpoints[:len(base.TrustedEndpoints):len(base.TrustedEndpoints)], e)
	}
	return base
}
