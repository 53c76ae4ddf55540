package ssmwire

import (
	"context"
	"net"
	"sync"
)

// Pools holds one [Pool] per destination (target and remote), made on first use, all with the same
// configuration: for a proxy that reaches many destinations through Session Manager. Set
// PoolConfig.CloseLastWhenIdle so that destinations no longer used hold no session. Its methods are safe
// for concurrent use.
type Pools struct {
	c   *Client
	cfg PoolConfig

	mu     sync.Mutex
	pools  map[poolKey]*Pool
	closed bool
}

type poolKey struct {
	target string
	remote Remote
}

// NewPools returns an empty set of pools; cfg (copied) configures every pool in it.
func (c *Client) NewPools(cfg *PoolConfig) (*Pools, error) {
	pc, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Pools{c: c, cfg: pc, pools: make(map[poolKey]*Pool)}, nil
}

// Pool returns the pool for remote through target, making it if needed.
func (ps *Pools) Pool(target string, remote Remote) (*Pool, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, ErrPoolClosed
	}
	k := poolKey{target, remote}
	if p := ps.pools[k]; p != nil {
		return p, nil
	}
	cfg := ps.cfg
	p, err := ps.c.NewPool(target, remote, &cfg)
	if err != nil {
		return nil, err
	}
	ps.pools[k] = p
	return p, nil
}

// Dial connects to remote through target on that destination's pool.
func (ps *Pools) Dial(ctx context.Context, target string, remote Remote) (net.Conn, error) {
	p, err := ps.Pool(target, remote)
	if err != nil {
		return nil, err
	}
	return p.Dial(ctx)
}

// Close closes every pool. It is idempotent.
func (ps *Pools) Close() error {
	ps.mu.Lock()
	ps.closed = true
	pools := ps.pools
	ps.pools = make(map[poolKey]*Pool)
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range pools {
		wg.Go(func() { p.Close() })
	}
	wg.Wait()
	return nil
}
