package ssmtest

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/ssmwire/ssmwire/ssmtest/internal/agent"
)

// sessionAgent is what a session needs from the emulated agent
// (ssmtest/internal/agent.Agent); tests substitute a fake.
type sessionAgent interface {
	Deliver(frame []byte)
	Terminate()
	Done() <-chan struct{}
	Err() error
	Stats() AgentStats
}

// agentConfig is the per-session part of the agent's configuration; the server adds
// its own options (version, pacing, KMS, shell, fault switches, logger).
type agentConfig struct {
	SessionID     string
	TargetID      string
	SessionType   string
	Properties    map[string]any
	ClientVersion string
	KMSKeyID      string
	Send          func(frame []byte)
	StopAcking    *atomic.Bool // the server's Faults.StopAcking
}

// agentStarter starts the agent of one session. ctx ends with the server.
type agentStarter func(ctx context.Context, cfg agentConfig) (sessionAgent, error)

// defaultAgentStarter starts the emulated agent of ssmtest/internal/agent.
func (s *Server) defaultAgentStarter() agentStarter {
	return func(ctx context.Context, c agentConfig) (sessionAgent, error) {
		a, err := agent.Start(ctx, agent.Config{
			SessionID:     c.SessionID,
			TargetID:      c.TargetID,
			SessionType:   c.SessionType,
			Properties:    c.Properties,
			Version:       s.opts.AgentVersion,
			ClientVersion: c.ClientVersion,
			Pacing:        !s.opts.NoPacing,
			KMSKeyID:      c.KMSKeyID,
			KMS:           s.kms,
			Shell:         s.opts.Shell,
			Hosts:         s.opts.Hosts,
			ContainerMode: strings.HasPrefix(c.TargetID, "ecs:"),
			Send:          c.Send,
			StopAcking:    c.StopAcking,
			Logger:        s.log,
		})
		if err != nil {
			return nil, err
		}
		return realAgent{a}, nil
	}
}

// realAgent adapts *agent.Agent to sessionAgent.
type realAgent struct{ *agent.Agent }

func (a realAgent) Stats() AgentStats { return AgentStats(a.Agent.Stats()) }
