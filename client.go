package ssmwire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/session"
)

// Config configures a [Client]. A nil *Config means all defaults; [New] copies it and checks it.
type Config struct {
	// SSM starts, resumes and terminates sessions. Nil: [Client.StartSession] fails with [ErrNoSSM], sessions
	// from [Client.Attach] cannot resume after a dropped connection, and Terminate cannot call the API (a port
	// session still gets Flag TerminateSession).
	SSM SSMAPI
	// KMS generates the data key of KMS-encrypted sessions. Nil: encrypted sessions are refused, and fail
	// during their handshake. A client that must refuse encryption with its own message passes a KMS whose
	// GenerateDataKey returns that error.
	KMS session.KMSClient
	// Logger receives debug and warning records of the client and its sessions. Nil discards them.
	Logger *slog.Logger
	// Session holds the base data-channel settings of every session the client opens (window, payload size,
	// resume policy, a custom Dial...). It is copied by New; SSM, KMS, TargetID and, when unset, Logger are
	// filled in per session. When SSM is an *ssm.Client, unset Credentials and Region are taken from its
	// options, so the data channel is signed as ResumeSession is, and its endpoint is added to TrustedEndpoints
	// (a stream URL on another host than AWS's Session Manager endpoints and the trusted ones is refused), and
	// unset TLSConfig and Proxy are those of its HTTP client, so that the data channel trusts the roots the API
	// calls trust (AWS_CA_BUNDLE, ca_bundle) and uses their proxy. Nil means session defaults.
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
	err  error // from NewFromAWSConfig: the configuration New refused
}

// ErrNoSSM is returned by [Client.StartSession] (and what calls it) on a client built without an SSM client.
var ErrNoSSM = errors.New("ssmwire: Config.SSM is required to start sessions")

// New returns a Client for cfg (nil: no SSM client, see [Config]). The session settings are checked here,
// so that a mistake shows at construction rather than at the first session.
func New(cfg *Config) (*Client, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	cl := &Client{ssm: c.SSM, kms: c.KMS, log: c.Logger}
	if cl.log == nil {
		cl.log = slog.New(slog.DiscardHandler)
	}
	if c.Session != nil {
		cl.base = *c.Session
	}
	cl.base = withSSMAuth(cl.base, c.SSM)
	if err := cl.base.Validate(); err != nil {
		return nil, fmt.Errorf("ssmwire: %w", err)
	}
	return cl, nil
}

// NewFromAWSConfig returns a Client that calls SSM and KMS with clients built from an aws-sdk-go-v2
// configuration (credentials, region, endpoint), as loaded by config.LoadDefaultConfig. The options adjust
// the Config before the client is built, for example to set a Logger.
// Settings that New would refuse make every session of this client fail with New's error.
func NewFromAWSConfig(awsCfg aws.Config, opts ...func(*Config)) *Client {
	cfg := Config{SSM: ssm.NewFromConfig(awsCfg), KMS: kms.NewFromConfig(awsCfg)}
	for _, o := range opts {
		o(&cfg)
	}
	base := session.Config{}
	if cfg.Session != nil {
		base = *cfg.Session
	}
	base = withAWSAuth(base, awsCfg.Credentials, awsCfg.Region, awsCfg.BaseEndpoint)
	base = withHTTPClient(base, awsCfg.HTTPClient)
	cfg.Session = &base
	c, err := New(&cfg)
	if err != nil {
		return &Client{ssm: cfg.SSM, log: slog.New(slog.DiscardHandler), err: err}
	}
	return c
}

// StartSession calls the StartSession API with in and opens the returned session's data channel. If the data
// channel cannot be opened, the session is terminated so that it does not linger on the service. The caller
// ends the returned session with [Session.Close] or [Session.Terminate]. Failures a user can act on (no
// credentials, access denied, target not connected...) are an [*APIError].
func (c *Client) StartSession(ctx context.Context, in *ssm.StartSessionInput) (*Session, error) {
	if in == nil || aws.ToString(in.Target) == "" {
		return nil, errors.New("ssmwire: StartSession: no target")
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.ssm == nil {
		return nil, ErrNoSSM
	}
	target := aws.ToString(in.Target)
	out, err := c.ssm.StartSession(ctx, in)
	if err != nil {
		if ae, ok := classify(err, target); ok {
			return nil, ae
		}
		if ne := session.NetworkError(err); ne != nil {
			return nil, fmt.Errorf("ssmwire: start session on %s: %w", target, ne)
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
	s, err := c.Attach(ctx, info, target)
	if err != nil {
		c.terminate(ctx, info.SessionID)
		return nil, err
	}
	return s, nil
}

// Attach opens the data channel of a session started elsewhere: the caller's own StartSession call, an ECS
// ExecuteCommand response, or the StartSession response the AWS CLI hands to session-manager-plugin. target
// is the session's target (an instance ID, or the ECS target string); it goes into the KMS encryption
// context of encrypted sessions. Attach needs no SSM client; with one, the session resumes after a dropped
// connection and Terminate can call the API.
func (c *Client) Attach(ctx context.Context, info session.Info, target string) (*Session, error) {
	if c.err != nil {
		return nil, c.err
	}
	cfg := c.base
	if c.ssm != nil {
		cfg.SSM = c.ssm
	}
	if c.kms != nil {
		cfg.KMS = c.kms
	}
	cfg.TargetID = target
	if cfg.Logger == nil {
		cfg.Logger = c.log
	}
	ch, err := session.Open(ctx, info, &cfg)
	if err != nil {
		return nil, err // it names the session already
	}
	s := &Session{ch: ch, target: target, log: c.log}
	if c.ssm != nil {
		s.ssm = c.ssm
	}
	return s, nil
}

// terminate calls TerminateSession for a session the client gives up on before it has a data channel, with a
// context of its own so that it also runs when ctx was cancelled. Failures are only logged: the caller
// already has a better error.
func (c *Client) terminate(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
	defer cancel()
	if _, err := c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &id}); err != nil {
		c.log.Warn("ssmwire: terminate session", "session", id, "err", err)
	}
}

// Logger returns the client's logger: Config.Logger, or one that discards records when it was nil. Packages
// built on the client (pool, filecopy) log through it.
func (c *Client) Logger() *slog.Logger { return c.log }
