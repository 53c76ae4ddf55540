package plugincli

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
)

// awsClients builds the SSM and KMS clients a session may need, on first use: most sessions never call
// ResumeSession, TerminateSession or GenerateDataKey, and a missing profile or credentials must only matter
// when a call is made.
type awsClients struct {
	region, profile string
	ssmEndpoint     string // "" = the SDK's endpoint resolution (AWS_ENDPOINT_URL_SSM etc. honoured)

	once sync.Once
	cfg  aws.Config
	err  error

	ssmOnce sync.Once
	ssm     *ssm.Client
	kmsOnce sync.Once
	kms     *kms.Client
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

func (c *awsClients) ssmClient(ctx context.Context) (*ssm.Client, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	c.ssmOnce.Do(func() {
		c.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) {
			if c.ssmEndpoint != "" {
				o.BaseEndpoint = aws.String(c.ssmEndpoint)
			}
		})
	})
	return c.ssm, nil
}

func (c *awsClients) kmsClient(ctx context.Context) (*kms.Client, error) {
	cfg, err := c.config(ctx)
	if err != nil {
		return nil, err
	}
	c.kmsOnce.Do(func() { c.kms = kms.NewFromConfig(cfg) })
	return c.kms, nil
}

// lazySSM implements session.SSMClient over awsClients.
type lazySSM struct{ c *awsClients }

func (l lazySSM) ResumeSession(ctx context.Context, in *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	c, err := l.c.ssmClient(ctx)
	if err != nil {
		return nil, err
	}
	return c.ResumeSession(ctx, in, optFns...)
}

func (l lazySSM) TerminateSession(ctx context.Context, in *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	c, err := l.c.ssmClient(ctx)
	if err != nil {
		return nil, err
	}
	return c.TerminateSession(ctx, in, optFns...)
}

// lazyKMS implements session.KMSClient over awsClients.
type lazyKMS struct{ c *awsClients }

func (l lazyKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c, err := l.c.kmsClient(ctx)
	if err != nil {
		return nil, err
	}
	return c.GenerateDataKey(ctx, in, optFns...)
}
