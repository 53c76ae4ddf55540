package session

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/version"
	"github.com/ssmwire/ssmwire/protocol"
)

// Info identifies a started session: the three values StartSession, ResumeSession and ECS ExecuteCommand
// return. TokenValue is a secret; it never appears in logs or errors.
type Info struct {
	SessionID  string
	StreamURL  string
	TokenValue string
}

// SSMClient is the part of the SSM API a session calls, with the exact method signatures of
// *ssm.Client from aws-sdk-go-v2, so tests can pass fakes.
type SSMClient interface {
	ResumeSession(ctx context.Context, params *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error)
	TerminateSession(ctx context.Context, params *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error)
}

// KMSClient is the part of the KMS API an encrypted session calls, with the exact method signature of
// *kms.Client from aws-sdk-go-v2.
type KMSClient interface {
	GenerateDataKey(ctx context.Context, params *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
}

// Defaults for [Config]: the pacing the real service is known to accept (docs/protocol.md §8.1). AWS's own
// clients send data messages of at most 1 KiB, and the only field report of larger payloads (8 KiB with
// 256 KiB unacknowledged) ended in pause_publication and then channel_closed, while 1 KiB with the same bound
// succeeded. Larger values are an explicit opt-in ([Config.MaxPayload], [Config.Window]).
const (
	DefaultMaxPayload = 1024 // the official plugin's message size
	// DefaultWindow is the initial, and largest, bound on unacknowledged bytes.
	DefaultWindow = 256 << 10
	// DefaultRecvBuffer bounds the received bytes waiting for Read: room for the reader goroutine to run
	// ahead of the application, which holds the agent back through TCP beyond it (Config.RecvBuffer).
	DefaultRecvBuffer   = 256 << 10
	DefaultPingInterval = 54 * time.Second
	DefaultDialTimeout  = 45 * time.Second

	// Retransmission constants, docs/protocol.md §4.
	defaultRTT       = 100 * time.Millisecond
	defaultRTO       = 200 * time.Millisecond
	clockGranularity = 10 * time.Millisecond
	// maxRTO bounds the timeout, sampled or backed off. RFC 6298 §2.5 allows a ceiling of 60 s or more;
	// the official implementation's 1 s ceiling resends every message whose acknowledgement a slow
	// destination delays by a second, though nothing was lost (docs/protocol.md §4.3, §8.1).
	maxRTO        = 60 * time.Second
	maxOutOfOrder = 10000
)

// Config configures a [Channel]. A nil *Config means all defaults. The session copies it at [Open]; later
// changes have no effect.
type Config struct {
	// Logger receives debug and warning records. Nil discards them.
	Logger *slog.Logger

	// ClientVersion is reported in OpenDataChannel and the handshake. Default: [version.Version].
	ClientVersion string
	// ClientID identifies this client process to the service. Default: a random UUID per session.
	ClientID string

	// SSM is used for ResumeSession after a dropped websocket and for [Channel.Terminate]. Nil: a dropped
	// websocket ends the session with an error and Terminate only closes the connection.
	SSM SSMClient
	// KMS generates the data key of KMS-encrypted sessions. Nil: the session refuses encryption.
	KMS KMSClient
	// TargetID is the StartSession target; it goes into the KMS encryption context.
	TargetID string

	// MaxPayload is the largest payload of one outgoing data message, in bytes. Default [DefaultMaxPayload]
	// (1 KiB, as AWS's clients send). Larger messages cost less per byte but are not proven on the service.
	MaxPayload int
	// Window is the initial and largest bound on the bytes sent but not yet acknowledged; writers block
	// beyond the current bound. The service's pause_publication is taken as congestion: sending stops at
	// once (resends too), the bound halves (down to 4 messages), and it grows back by Window/32 per
	// round trip without a pause, up to Window again. Over paths of 2 ms or more the writer paces first
	// transmissions at 1.25 × the bound per round trip rather than sending a window at once. Default
	// [DefaultWindow] (256 KiB).
	Window int
	// RecvBuffer bounds the received bytes waiting for [Channel.Read] (and, separately, for Stderr).
	// When an Output message does not fit, the reader goroutine stops reading the websocket until Read has
	// made room, so the agent is held back by TCP, as AWS's plugin does it; it waits only while none of the
	// session's own messages awaits acknowledgement (those must be read) and for at most 2 s (a service
	// drops a client it cannot write to). Read Stdout and Stderr concurrently, as with os/exec pipes.
	// Default [DefaultRecvBuffer].
	RecvBuffer int

	// OutOfOrderBuffer bounds the bytes of messages received ahead of a gap, which are acknowledged and kept
	// until the gap fills. While it is not in use, in-order data that does not fit the receive buffer, and
	// that the reader does not wait for (see RecvBuffer), may borrow it, because refusing an in-order message
	// stalls the stream for a whole agent retransmission timeout. A session therefore holds at most
	// RecvBuffer + OutOfOrderBuffer received bytes, and RecvBuffer while the application keeps up and
	// nothing is uploaded. Default 16 MiB.
	OutOfOrderBuffer int

	// PingInterval is the time between websocket keepalive pings. Default [DefaultPingInterval].
	PingInterval time.Duration
	// ResendTick bounds how often overdue messages are looked for. Default 100 ms.
	ResendTick time.Duration
	// MinRTO is the floor of the retransmission timeout. The official implementation's floor is only the
	// 10 ms clock granularity above the smoothed RTT, which on a fast link resends messages whose
	// acknowledgement is merely queued (about 1% of frames). The websocket below is TCP, so a message is
	// really lost only with a dropped connection or a faulty relay; a 200 ms floor (Linux TCP's) avoids
	// spurious resends at no cost to recovery after a reconnect, which retransmits at once.
	// Default 200 ms. Each expiry doubles the timeout (RFC 6298 §5.5) up to 60 s; the next RTT sample from
	// a message sent only once (Karn's rule) sets it afresh.
	MinRTO time.Duration
	// ResumeAttempts is how many times ResumeSession + reconnect is tried after the websocket drops before the
	// session fails. Default 6 (the official plugin's retryer: a first call and 5 retries).
	ResumeAttempts int
	// ResumeBackoff is the first delay between attempts; it doubles up to 5 s. Default 100 ms.
	ResumeBackoff time.Duration
	// AckTimeout ends the session when the oldest unacknowledged message has waited this long for its
	// acknowledgement while the link was up and not paused: the agent is gone or stuck, and the user gets
	// an error instead of a hang. The session then also calls TerminateSession, as the official plugin does
	// after its 3000 resends (about 5 minutes). Default 5 minutes.
	AckTimeout time.Duration

	// OnFlag is called from the reader goroutine for each Flag payload the agent sends (for example
	// protocol.FlagConnectToPortError). It must not block.
	OnFlag func(protocol.PayloadFlag)

	// Credentials sign the websocket upgrade with SigV4 (service [SigningService], Region), as the official
	// plugin does since 1.2.764.0, which AWS names the minimum supported version (docs/protocol.md §3.5). They
	// are retrieved at every dial, the first and each one after ResumeSession, so pass the provider the SSM
	// client uses (aws.Config.Credentials: an aws.CredentialsCache, which refreshes expiring credentials).
	// A presigned stream URL is dialled as it is, unsigned. Nil, or credentials that cannot be retrieved:
	// the upgrade goes out unsigned (logged once, at debug level) and only the token authenticates it.
	Credentials aws.CredentialsProvider
	// Region is the session's region, the signature's credential scope. Default: the region in the stream
	// URL's host when it is an AWS Session Manager endpoint.
	Region string

	// TrustedEndpoints are endpoint URLs the user named on purpose (an --endpoint-url, AWS_ENDPOINT_URL_SSM,
	// aws.Config.BaseEndpoint, the endpoint argument of the AWS CLI...). [Open] refuses, before connecting,
	// a stream URL that is neither an AWS Session Manager endpoint nor on the host and port of one of these
	// (see [CheckStreamURL]): a forged StartSession response must not get the token and the signature sent
	// elsewhere. An emulator such as ssmtest is reached by naming its URL here.
	TrustedEndpoints []string

	// TLSConfig is the TLS client configuration of the data channel (wss): its RootCAs are the certificate
	// authorities trusted, nil for the system roots. Pass the one the API calls use so that both trust the same
	// roots (AWS_CA_BUNDLE, a profile's ca_bundle): the ssmwire client takes it from the aws.Config's HTTP
	// client when this is nil ([HTTPClientNetwork]). Each dial copies it and sets SNI, ALPN http/1.1 and TLS 1.2
	// at least (see [Dialer]). Used by the default Dial only.
	TLSConfig *tls.Config
	// Proxy chooses the HTTP proxy of the data channel, as http.Transport.Proxy. Nil: http.ProxyFromEnvironment
	// (HTTPS_PROXY, NO_PROXY...); [NoProxy] for none. Used by the default Dial only.
	Proxy func(*http.Request) (*url.URL, error)

	// Dial opens the websocket with the given extra request headers (the SigV4 signature; nil when the
	// upgrade is not signed), for every dial: the first and each one after ResumeSession. Default: a
	// [Dialer] with TLSConfig and Proxy.
	Dial func(ctx context.Context, url string, header http.Header) (Transport, error)
}

// Validate reports a setting out of range, as [Open] would. Callers that build configurations early (the
// ssmwire client) check them at construction.
func (c *Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

func (c *Config) withDefaults() (Config, error) {
	var cfg Config
	if c != nil {
		cfg = *c
	}
	cfg.TrustedEndpoints = slices.Clone(cfg.TrustedEndpoints)
	if cfg.TLSConfig != nil {
		cfg.TLSConfig = cfg.TLSConfig.Clone()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ClientVersion == "" {
		cfg.ClientVersion = version.Version
	}
	if cfg.ClientID == "" {
		cfg.ClientID = newUUIDString()
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.RecvBuffer == 0 {
		cfg.RecvBuffer = DefaultRecvBuffer
	}
	if cfg.OutOfOrderBuffer == 0 {
		cfg.OutOfOrderBuffer = 16 << 20
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.ResendTick == 0 {
		cfg.ResendTick = 100 * time.Millisecond
	}
	if cfg.MinRTO == 0 {
		cfg.MinRTO = 200 * time.Millisecond
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = 5 * time.Minute
	}
	if cfg.ResumeAttempts == 0 {
		cfg.ResumeAttempts = 6
	}
	if cfg.ResumeBackoff == 0 {
		cfg.ResumeBackoff = 100 * time.Millisecond
	}
	if cfg.Dial == nil {
		d := &Dialer{TLSConfig: cfg.TLSConfig, Proxy: cfg.Proxy}
		cfg.Dial = d.Dial
	}
	switch {
	case cfg.MaxPayload < 64 || cfg.MaxPayload > protocol.MaxMessageSize-protocol.HeaderSize:
		return cfg, fmt.Errorf("session: MaxPayload %d out of range (64 to %d)", cfg.MaxPayload, protocol.MaxMessageSize-protocol.HeaderSize)
	case cfg.Window < cfg.MaxPayload:
		return cfg, fmt.Errorf("session: Window %d smaller than MaxPayload %d", cfg.Window, cfg.MaxPayload)
	case cfg.RecvBuffer < 1 || cfg.OutOfOrderBuffer < 1:
		return cfg, errors.New("session: RecvBuffer and OutOfOrderBuffer must be positive")
	case cfg.PingInterval < 0 || cfg.ResendTick < 0 || cfg.MinRTO < 0 || cfg.MinRTO > maxRTO || cfg.AckTimeout < 0 || cfg.ResumeBackoff < 0 || cfg.ResumeAttempts < 0:
		return cfg, errors.New("session: negative durations or counts")
	}
	return cfg, nil
}
