package plugincli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/awsnet"
)

// awsClients builds the SSM and KMS clients a session may need, on first use (ssmwire.LazySSM, LazyKMS): most sessions never call
// the SSM API (resuming or ending the session) or GenerateDataKey, and a missing profile or credentials must only matter
// when a call is made.
type awsClients struct {
	region, profile string
	ssmEndpoint     string // "" = the SDK's endpoint resolution (AWS_ENDPOINT_URL_SSM etc. honoured)
	// lookup is Main's environment, for the CA bundle (AWS_CA_BUNDLE) and the proxies (HTTPS_PROXY,
	// NO_PROXY...) of the API calls and the data channel; the rest of the configuration is the SDK's.
	lookup awsnet.Lookup

	once sync.Once
	cfg  aws.Config
	err  error
}

// checkCABundle loads the configuration and returns its error when it is a CA bundle that cannot be used,
// else nil: such a bundle must stop the session before it dials (the AWS CLI refuses it too), where any other
// configuration error only matters to the call that needs it.
func (c *awsClients) checkCABundle(ctx context.Context) error {
	_, err := c.config(ctx)
	var be *awsnet.CABundleError
	if errors.As(err, &be) {
		return err
	}
	return nil
}

func (c *awsClients) config(ctx context.Context) (aws.Config, error) {
	c.once.Do(func() {
		// The SDK's own logger writes to the process's stderr ("WARN falling back to IMDSv1"...): silence it;
		// failures reach the user as one line of advice.
		opts := []func(*config.LoadOptions) error{config.WithRegion(c.region),
			config.WithLogger(logging.Nop{}), config.WithClientLogMode(0)}
		if c.profile != "" {
			opts = append(opts, config.WithSharedConfigProfile(c.profile))
		}
		// A CA bundle that cannot be used is refused as it is, naming the file (a *awsnet.CABundleError).
		netOpts, err := awsnet.LoadOptions(ctx, c.lookup, c.profile, awsnet.Files{})
		if err != nil {
			c.err = err
			return
		}
		opts = append(opts, netOpts...)
		c.cfg, c.err = config.LoadDefaultConfig(ctx, opts...)
		if c.err != nil {
			c.err = fmt.Errorf("load AWS configuration: %w", c.err)
		}
	})
	return c.cfg, c.err
}

// ssm returns the plugin's SSM client, built on first use.
func (c *awsClients) ssm() ssmwire.SSMAPI {
	return ssmwire.LazySSM(func(ctx context.Context) (ssmwire.SSMAPI, error) {
		cfg, err := c.config(ctx)
		if err != nil {
			return nil, err
		}
		return ssm.NewFromConfig(cfg, func(o *ssm.Options) {
			if c.ssmEndpoint != "" {
				o.BaseEndpoint = aws.String(c.ssmEndpoint)
			}
		}), nil
	})
}

// kms returns the plugin's KMS client, built on first use.
func (c *awsClients) kms() ssmwire.KMSClient {
	return ssmwire.LazyKMS(func(ctx context.Context) (ssmwire.KMSClient, error) {
		cfg, err := c.config(ctx)
		if err != nil {
			return nil, err
		}
		return kms.NewFromConfig(cfg), nil
	})
}

// refuseKMS answers every GenerateDataKey with the official plugin's refusal: the legacy three-argument
// command line carries no profile, so the plugin cannot take part in KMS encryption.
type refuseKMS struct{}

func (refuseKMS) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	return nil, errors.New(kmsRefusal)
}

// credentials returns the credentials of the profile the AWS CLI passed (else the default chain), retrieved
// on use: they sign the data channel's upgrade as they sign ResumeSession (docs/protocol.md §3.5).
func (c *awsClients) credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		cfg, err := c.config(ctx)
		if err != nil {
			return aws.Credentials{}, err
		}
		if cfg.Credentials == nil {
			return aws.Credentials{}, errors.New("no credentials in the AWS configuration")
		}
		return cfg.Credentials.Retrieve(ctx)
	})
}
