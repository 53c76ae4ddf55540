package ssmtest

import (
	"context"
	"errors"
	"sync/atomic"
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

var errNoAgent = errors.New("ssmtest: no agent available")

// defaultAgentStarter starts the emulated agent of ssmtest/internal/agent.
func (s *Server) defaultAgentStarter() agentStarter {
	return func(context.Context, agentConfig) (sessionAgent, error) { return nil, errNoAgent }
}
