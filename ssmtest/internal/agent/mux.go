package agent

import (
	"context"
	"io"
	"net"
	"sync"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// muxPlugin is port forwarding with multiplexing: an smux server (protocol version 1) whose byte stream is
// the session's Output payloads. Each stream the client opens is a new connection to the destination.
//
// The agent's smux session sits on one end of an in-memory pipe; client payloads are written into the other
// end and a read pump turns what smux writes into Output messages.
type muxPlugin struct {
	a    *Agent
	addr string

	agentEnd, mgsEnd net.Conn
	sess             *smux.Session
	done             chan error
	wg               sync.WaitGroup // pump, accept loop, one per stream
}

func newMuxPlugin(a *Agent, addr string) *muxPlugin {
	return &muxPlugin{a: a, addr: addr, done: make(chan error, 2)}
}

func (p *muxPlugin) start(ctx context.Context) error {
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	if compareVersions(p.a.ClientVersion(), keepAliveOffAbove) > 0 {
		cfg.KeepAliveDisabled = true
	}
	p.agentEnd, p.mgsEnd = net.Pipe()
	sess, err := smux.Server(p.agentEnd, cfg)
	if err != nil {
		p.agentEnd.Close()
		p.mgsEnd.Close()
		return err
	}
	p.sess = sess
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		p.done <- p.a.pump(p.mgsEnd, wire.PTOutput)
	}()
	go p.acceptLoop(ctx)
	return nil
}

func (p *muxPlugin) acceptLoop(ctx context.Context) {
	defer p.wg.Done()
	for {
		st, err := p.sess.AcceptStream()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(ctx, st)
		}()
	}
}

// serve connects one smux stream to a new destination connection.
func (p *muxPlugin) serve(ctx context.Context, st *smux.Stream) {
	defer st.Close()
	c, err := dial(ctx, p.addr)
	if err != nil {
		p.a.log.Info("mux dial failed", "err", err)
		_ = p.a.sendStream(wire.PTFlag, wire.FlagPayload(wire.FlagConnectToPortError))
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); st.Close() })
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(c, st)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(st, c)
	st.Close()
	wg.Wait()
}

func (p *muxPlugin) input(payloadType uint32, payload []byte) error {
	switch payloadType {
	case wire.PTOutput:
		_, err := p.mgsEnd.Write(payload)
		return err
	case wire.PTFlag:
		flag, err := wire.ParseFlag(payload)
		if err != nil {
			return err
		}
		if flag == wire.FlagTerminateSession {
			p.a.end(nil)
		}
	}
	return nil
}

func (p *muxPlugin) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-p.done:
		return err
	}
}

func (p *muxPlugin) close() {
	if p.sess == nil {
		return
	}
	p.sess.Close()
	p.agentEnd.Close()
	p.mgsEnd.Close()
	p.wg.Wait()
}
