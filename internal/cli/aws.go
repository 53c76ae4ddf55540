package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/awsnet"
)

// awsSettings selects credentials, region and endpoint. Empty fields fall back to the environment and the
// shared configuration files, as the AWS CLI does.
type awsSettings struct {
	noRegionOK bool // load without a region too (doctor reports the missing region as a check)

	Profile     string
	Region      string
	EndpointURL string
	Pacing      pacing // message size and bound on unacknowledged bytes (pacing.go)
	// Credentials, when set, replaces the profile's credentials: those of an approved just-in-time access
	// request (access.go).
	Credentials aws.CredentialsProvider
}

// clients is everything a command needs to talk to AWS for one profile and region.
type clients struct {
	profile  string      // the profile in use, for messages ("default" when none was chosen)
	settings awsSettings // what the clients were loaded with
	cfg      aws.Config
	ssm      *ssm.Client
	ecs      *ecs.Client
	ec2      ec2API // names and addresses of EC2 instances (nodes.go)
	wire     *ssmwire.Client
}

// loadClients loads the SDK configuration the way config.LoadDefaultConfig does, with the values of env
// (the environment Main was given) passed explicitly, so that a caller's environment, not only the process's,
// decides: AWS_PROFILE, AWS_REGION/AWS_DEFAULT_REGION, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, HOME,
// static keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, and the endpoint overrides
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_SSM/_ECS/_KMS/_EC2, AWS_CA_BUNDLE, and the proxies HTTPS_PROXY, HTTP_PROXY
// and NO_PROXY (for the API calls and the data channel). Credentials are fetched lazily, at the first call.
func loadClients(ctx context.Context, env Env, s awsSettings, log *slog.Logger) (*clients, error) {
	var opts []func(*config.LoadOptions) error
	profile := s.Profile
	if profile == "" {
		profile = env.Get("AWS_PROFILE")
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	region := s.Region
	if region == "" {
		region = env.Get("AWS_REGION")
	}
	if region == "" {
		region = env.Get("AWS_DEFAULT_REGION")
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	home := env.Get("HOME")
	var files awsnet.Files
	if f := env.Get("AWS_CONFIG_FILE"); f != "" {
		files.Config = []string{f}
	} else if home != "" {
		files.Config = []string{filepath.Join(home, ".aws", "config")}
	}
	if f := env.Get("AWS_SHARED_CREDENTIALS_FILE"); f != "" {
		files.Credentials = []string{f}
	} else if home != "" {
		files.Credentials = []string{filepath.Join(home, ".aws", "credentials")}
	}
	if files.Config != nil {
		opts = append(opts, config.WithSharedConfigFiles(files.Config))
	}
	if files.Credentials != nil {
		opts = append(opts, config.WithSharedCredentialsFiles(files.Credentials))
	}
	// The SDK prefers keys in the environment to the default profile, and a named profile to the keys.
	if id, secret := env.Get("AWS_ACCESS_KEY_ID"), env.Get("AWS_SECRET_ACCESS_KEY"); profile == "" && id != "" && secret != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, env.Get("AWS_SESSION_TOKEN"))))
	}
	// The data channel trusts what the API calls trust and goes through their proxy (ssmwire.New takes both
	// from the SSM client): AWS_CA_BUNDLE from env wins over the profile's ca_bundle, as in the SDK, and a
	// bundle that cannot be used fails here, before anything is dialled; the proxies are env's.
	netOpts, err := awsnet.LoadOptions(ctx, env.Lookup, profile, files)
	if err != nil {
		return nil, err
	}
	opts = append(opts, netOpts...)
	// The SDK's own logger writes to the process's stderr (for example "WARN falling back to IMDSv1" when no
	// credentials are found); ours prints one line of advice instead.
	opts = append(opts, config.WithLogger(logging.Nop{}), config.WithClientLogMode(0))
	if s.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(s.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if profile != "" && strings.Contains(err.Error(), "failed to get shared config profile") {
			return nil, fmt.Errorf("AWS profile %q not found in the shared configuration files", profile)
		}
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" && !s.noRegionOK {
		return nil, errors.New("no AWS region: use --region, AWS_REGION or a profile with region set")
	}
	if profile == "" {
		profile = "default"
	}
	c := &clients{profile: profile, settings: s, cfg: cfg}
	c.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = endpoint(env, s, "SSM", o.BaseEndpoint) })
	c.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = endpoint(env, s, "ECS", o.BaseEndpoint) })
	c.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = endpoint(env, s, "EC2", o.BaseEndpoint) })
	km := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = endpoint(env, s, "KMS", o.BaseEndpoint) })
	if err := s.Pacing.check(); err != nil {
		return nil, err
	}
	base := s.Pacing.session()
	if base == nil {
		base = &ssmwire.ChannelConfig{}
	}
	// New trusts the SSM client's endpoint as a stream URL host; an ECS ExecuteCommand stream URL may be on
	// the ECS endpoint the user named (docs/protocol.md §3.5).
	if e := aws.ToString(c.ecs.Options().BaseEndpoint); e != "" {
		base.TrustedEndpoints = append(base.TrustedEndpoints, e)
	}
	c.wire, err = ssmwire.New(&ssmwire.Config{SSM: c.ssm, KMS: km, Logger: log, Session: base})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// endpoint picks a service's endpoint: --endpoint-url, then AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL
// from env, then what the SDK resolved.
func endpoint(env Env, s awsSettings, service string, sdk *string) *string {
	for _, v := range []string{s.EndpointURL, env.Get("AWS_ENDPOINT_URL_" + service), env.Get("AWS_ENDPOINT_URL")} {
		if v != "" {
			return aws.String(v)
		}
	}
	return sdk
}

// adviceError is a failed AWS call that the library recognised (ssmwire.Classify), told as one line with
// what to do (ssmwire.APIError.Advice) for the profile in use.
type adviceError struct {
	advice string
	err    *ssmwire.APIError
}

func (e *adviceError) Error() string { return e.advice }

func (e *adviceError) Unwrap() error { return e.err }

// explain turns SDK errors into what a user should do: missing credentials, an expired SSO login, access
// denied, a target that is not connected and throttling become one line of advice (an [adviceError]), as do
// a missing session document and an endpoint that cannot be reached; any other failed AWS call is told as
// its service, operation, code and message, never as the SDK's chain of wrappers.
func (c *clients) explain(err error) error {
	var ad *adviceError
	if err == nil || errors.As(err, &ad) {
		return err
	}
	var ae *ssmwire.APIError
	if errors.As(ssmwire.Classify(err), &ae) {
		advice := ae.Advice(c.profile)
		if ae.Kind == ssmwire.ErrAccessDenied && ae.Operation == "StartSession" && c.settings.Credentials == nil {
			advice += jitHint
		}
		return &adviceError{advice: advice, err: ae}
	}
	// A certificate or proxy problem, of an API call or the data channel: host, reason, what to set.
	if ne := ssmwire.NetworkError(err); ne != nil {
		return ne
	}
	return c.explainOther(err)
}
