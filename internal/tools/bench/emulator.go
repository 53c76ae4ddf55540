package bench

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// Credentials and region handed to the emulator's SDK client and to every plugin process. The emulator
// accepts any well-formed SigV4 signature.
const (
	accessKeyID     = "AKIDSSMBENCH"
	secretAccessKey = "ssmbench-secret"
	region          = "us-east-1"
	document        = "AWS-StartPortForwardingSession"
)

// emulator is one ssmtest server (one agent version and pacing setting) and an SSM client for it.
type emulator struct {
	srv   *ssmtest.Server
	ssm   *ssm.Client
	delay *delayProxy // nil, or the simulated wide-area link stream URLs are pointed at
}

func newEmulator(mode Mode, pacing bool, rtt time.Duration, useTLS bool) (*emulator, error) {
	return newNamedEmulator(mode, pacing, rtt, useTLS, "")
}

// newNamedEmulator is newEmulator with a host name in its URLs instead of its loopback address
// (ssmtest.Options.Hostname), which clients send through an HTTP proxy.
func newNamedEmulator(mode Mode, pacing bool, rtt time.Duration, useTLS bool, hostname string) (*emulator, error) {
	// AllowUnsignedUpgrade: the bench also measures AWS's plugin built from the 2024 source, which predates
	// signed upgrades (1.2.764.0, docs/protocol.md §3.5); it measures throughput, not authentication.
	opts := &ssmtest.Options{NoPacing: !pacing, AllowUnsignedUpgrade: true, Hostname: hostname}
	if mode == ModeBasic {
		opts.AgentVersion = BasicAgentVersion
	}
	var srv *ssmtest.Server
	if useTLS {
		srv = ssmtest.NewTLSServer(opts)
	} else {
		srv = ssmtest.NewServer(opts)
	}
	cfg := aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.AWSConfig().HTTPClient, // trusts the emulator's CA over TLS
	}
	e := &emulator{srv: srv, ssm: ssm.NewFromConfig(cfg)}
	if rtt > 0 {
		u, err := url.Parse(srv.URL)
		if err == nil {
			e.delay, err = newDelayProxy(u.Host, rtt/2)
		}
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("delay proxy: %w", err)
		}
	}
	return e, nil
}

// endpoint is the API endpoint handed to plugins: the emulator's, or the delay proxy's, since a plugin trusts
// only a stream URL on its endpoint's host (docs/protocol.md §3.5). The plugin's own API calls (TerminateSession,
// ResumeSession) then pay the round trip too, as they would over a wide-area link.
func (e *emulator) endpoint() string {
	if e.delay != nil {
		u, _ := url.Parse(e.srv.URL)
		return u.Scheme + "://" + e.delay.l.Addr().String()
	}
	return e.srv.URL
}

func (e *emulator) close() {
	if e.delay != nil {
		e.delay.close()
	}
	e.srv.Close()
}

// started is a StartSession call as the AWS CLI makes it: the request parameters (argv[5] of the plugin)
// and the response.
type started struct {
	ID, Token, StreamURL string
	Params               []byte // {"Target", "DocumentName", "Parameters"} as the CLI's json.dumps(parameters)
	CAFile               string // over TLS: the emulator's CA, for the plugins
	roots                *x509.CertPool
}

// startSession starts an AWS-StartPortForwardingSession to 127.0.0.1:port with an ephemeral local port.
func (e *emulator) startSession(ctx context.Context, port int) (*started, error) {
	params := map[string][]string{"portNumber": {strconv.Itoa(port)}, "localPortNumber": {"0"}}
	out, err := e.ssm.StartSession(ctx, &ssm.StartSessionInput{
		Target:       aws.String(ssmtest.DefaultInstanceID),
		DocumentName: aws.String(document),
		Parameters:   params,
	})
	if err != nil {
		return nil, fmt.Errorf("StartSession: %w", err)
	}
	req, err := json.Marshal(map[string]any{
		"Target":       ssmtest.DefaultInstanceID,
		"DocumentName": document,
		"Parameters":   params,
	})
	if err != nil {
		return nil, err
	}
	st := &started{
		ID:        aws.ToString(out.SessionId),
		Token:     aws.ToString(out.TokenValue),
		StreamURL: aws.ToString(out.StreamUrl),
		Params:    req,
	}
	if e.srv != nil { // nil for an emulator in another process (-endpoint), which serves plain http
		st.CAFile, st.roots = e.srv.CAFile(), e.srv.CertPool()
	}
	if e.delay != nil {
		st.StreamURL = e.delay.rewrite(st.StreamURL)
	}
	return st, nil
}

func (e *emulator) terminate(ctx context.Context, id string) error {
	_, err := e.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)})
	return err
}

// sessionStats is what the emulator saw of one session.
type sessionStats struct {
	FramesToAgent     uint64 `json:"frames_to_agent"`
	BytesToAgent      uint64 `json:"bytes_to_agent"`
	FramesToClient    uint64 `json:"frames_to_client"`
	DuplicatesAtAgent uint64 `json:"duplicates_at_agent"`
	AgentResends      uint64 `json:"agent_resends"`
	MaxClientMessage  int    `json:"max_client_message"`
	BacklogPauses     uint64 `json:"backlog_pauses"`    // pause_publication from the back-pressure model
	SentWhilePaused   uint64 `json:"sent_while_paused"` // data messages sent after reading such a pause
	Overflows         uint64 `json:"overflows"`         // channel_closed for exceeding the model's limit
	ClientResends     uint64 `json:"client_resends"`
}

func (s *sessionStats) add(o sessionStats) {
	s.FramesToAgent += o.FramesToAgent
	s.BytesToAgent += o.BytesToAgent
	s.FramesToClient += o.FramesToClient
	s.DuplicatesAtAgent += o.DuplicatesAtAgent
	s.AgentResends += o.AgentResends
	s.MaxClientMessage = max(s.MaxClientMessage, o.MaxClientMessage)
	s.BacklogPauses += o.BacklogPauses
	s.SentWhilePaused += o.SentWhilePaused
	s.Overflows += o.Overflows
	s.ClientResends += o.ClientResends
}

func (e *emulator) stats(id string) sessionStats {
	info := e.srv.Session(id)
	if info == nil {
		return sessionStats{}
	}
	return sessionStats{
		FramesToAgent:     info.Stats.FramesToAgent,
		BytesToAgent:      info.Stats.BytesToAgent,
		FramesToClient:    info.Stats.FramesToClient,
		DuplicatesAtAgent: info.Stats.DuplicatesAtAgent,
		AgentResends:      info.Agent.Resends,
		MaxClientMessage:  info.Stats.MaxClientMessage,
		BacklogPauses:     info.Stats.BacklogPauses,
		SentWhilePaused:   info.Stats.SentWhilePaused,
		Overflows:         info.Stats.Overflows,
		ClientResends:     info.Stats.ClientResends,
	}
}

// sessionDone returns the channel closed when the emulator considers the session over.
func (e *emulator) sessionDone(id string) <-chan struct{} {
	if info := e.srv.Session(id); info != nil && info.Done != nil {
		return info.Done
	}
	c := make(chan struct{})
	close(c)
	return c
}
