package ssmwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/session"
)

// SSMAPI is the part of the Systems Manager API a [Client] calls, with the exact method signatures of
// *ssm.Client from aws-sdk-go-v2, so that tests can pass a fake. It includes [session.SSMClient].
type SSMAPI interface {
	StartSession(ctx context.Context, params *ssm.StartSessionInput, optFns ...func(*ssm.Options)) (*ssm.StartSessionOutput, error)
	ResumeSession(ctx context.Context, params *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error)
	TerminateSession(ctx context.Context, params *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error)
}

// Config configures a [Client].
type Config struct {
	// SSM starts, resumes and terminates sessions. Required.
	SSM SSMAPI
	// KMS generates the data key of KMS-encrypted sessions. Nil: encrypted sessions are refused, and fail
	// during their handshake.
	KMS session.KMSClient
	// Logger receives debug and warning records of the client and its sessions. Nil discards them.
	Logger *slog.Logger
	// Session holds the base data-channel settings of every session the client opens (window, payload size,
	// resume policy, a custom Dial...). It is copied by New; SSM, KMS, TargetID and, when unset, Logger are
	// filled in per session. Nil means session defaults.
	Session *session.Config
}

// Client opens Session Manager sessions: shells, commands, port forwards and raw data channels. It holds no
// connection of its own; every session it returns is independent and is closed by its user. A Client is safe
// for concurrent use. The zero value is not usable; construct one with [New] or [NewFromAWSConfig].
type Client struct {
	ssm  SSMAPI
	kms  session.KMSClient
	log  *slog.Logger
	base session.Config
}

// ErrNoSSM is returned by [New] when Config.SSM is nil.
var ErrNoSSM = errors.New("ssmwire: Config.SSM is required")

// terminateTimeout bounds the TerminateSession call made while cleaning up after a failure or cancellation,
// when the caller's context may already be done.
const terminateTimeout = 10 * time.Second

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.SSM == nil {
		return nil, ErrNoSSM
	}
	c := &Client{ssm: cfg.SSM, kms: cfg.KMS, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Session != nil {
		c.base = *cfg.Session
	}
	return c, nil
}

// NewFromAWSConfig returns a Client that calls SSM and KMS with clients built from an aws-sdk-go-v2
// configuration (credentials, region, endpoint), as loaded by config.LoadDefaultConfig. The options adjust
// the Config before the client is built, for example to set a Logger.
func NewFromAWSConfig(awsCfg aws.Config, opts ...func(*Config)) *Client {
	cfg := Config{SSM: ssm.NewFromConfig(awsCfg), KMS: kms.NewFromConfig(awsCfg)}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.SSM == nil {
		cfg.SSM = ssm.NewFromConfig(awsCfg)
	}
	c, _ := New(cfg) // cannot fail: SSM is set
	return c
}

// StartSession calls the StartSession API with in and opens the returned session's data channel. If the data
// channel cannot be opened, the session is terminated so that it does not linger on the service. The caller
// closes the returned session (or calls [session.Session.Terminate]); use [session.Session.Ready] to wait for
// its handshake.
func (c *Client) StartSession(ctx context.Context, in *ssm.StartSessionInput) (*session.Session, error) {
	if in == nil || aws.ToString(in.Target) == "" {
		return nil, errors.New("ssmwire: StartSession: no target")
	}
	target := aws.ToString(in.Target)
	out, err := c.ssm.StartSession(ctx, in)
	if err != nil {
		if ae, ok := classify(err, target); ok {
			return nil, ae
		}
		return nil, fmt.Errorf("ssmwire: start session on %s: %w", target, err)
	}
	info := session.Info{
		SessionID:  aws.ToString(out.SessionId),
		StreamURL:  aws.ToString(out.StreamUrl),
		TokenValue: aws.ToString(out.TokenValue),
	}
	if info.SessionID == "" || info.StreamURL == "" || info.TokenValue == "" {
		if info.SessionID != "" {
			c.terminate(ctx, info.SessionID)
		}
		return nil, fmt.Errorf("ssmwire: start session on %s: incomplete StartSession output (session %q)", target, info.SessionID)
	}
	c.log.Debug("ssmwire: session started", "session", info.SessionID, "target", target,
		"document", aws.ToString(in.DocumentName))
	s, err := c.OpenSession(ctx, info, target)
	if err != nil {
		c.terminate(ctx, info.SessionID)
		return nil, err
	}
	return s, nil
}

// OpenSession opens the data channel of a session the caller started itself, for example with its own
// StartSession call or with ECS ExecuteCommand. target is the session's target (an instance ID, or the ECS
// target string); it goes into the KMS encryption context of encrypted sessions.
func (c *Client) OpenSession(ctx context.Context, info session.Info, target string) (*session.Session, error) {
	s, err := session.Open(ctx, info, c.sessionConfig(target))
	if err != nil {
		return nil, fmt.Errorf("ssmwire: open session %s: %w", info.SessionID, err)
	}
	return s, nil
}

// sessionConfig returns a fresh session configuration for target.
func (c *Client) sessionConfig(target string) *session.Config {
	cfg := c.base
	cfg.SSM = c.ssm
	cfg.KMS = c.kms
	cfg.TargetID = target
	if cfg.Logger == nil {
		cfg.Logger = c.log
	}
	return &cfg
}

// terminate calls TerminateSession for a session the client gives up on, with a context of its own so that it
// also runs when ctx was cancelled. Failures are only logged: the caller already has a better error.
func (c *Client) terminate(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if _, err := c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &id}); err != nil {
		c.log.Warn("ssmwire: terminate session", "session", id, "err", err)
	}
}

// finish ends a session after its user is done with it. A session the service ended (channel_closed) is just
// closed. One that is still running (the caller's context ended) or that failed on this side (a broken
// ciphertext, a lost connection) is terminated on the service first, so that it does not linger there.
func (c *Client) finish(ctx context.Context, s *session.Session) {
	select {
	case <-s.Done():
		var cc *session.ChannelClosedError
		if err := s.Err(); err == nil || errors.As(err, &cc) {
			s.Close()
			return
		}
	default:
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if err := s.Terminate(ctx); err != nil {
		c.log.Warn("ssmwire: terminate session", "session", s.ID(), "err", err)
	}
}
