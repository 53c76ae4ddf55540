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
)

// awsClients builds the SSM and KMS clients a session may need, on first use (ssmwire.LazySSM, LazyKMS): most sessions never call
// the SSM API (resuming or ending the session) or GenerateDataKey, and a missing profile or credentials must only matter
// when a call is made.
type awsClients struct {
	region, profile string
	ssmEndpoint     string // "" = the SDK's endpoint resolution (AWS_ENDPOINT_URL_SSM etc. honoured)

	once sync.Once
	cfg  aws.Config
	err  error
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
