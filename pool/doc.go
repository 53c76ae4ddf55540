// Package pool keeps port-forwarding sessions to destinations and replaces them as they end, for programs
// that carry many connections: a [Pool] spreads the connections to one destination over up to MaxSessions
// sessions (a pool of one is the single kept session of `ssmwire forward`); a [Dialer] reaches any host and
// port a target can reach, with one [Tunnel] (a session, or a pool of them) per destination, as a SOCKS5 or
// HTTP CONNECT proxy (package [github.com/ssmwire/ssmwire/proxy]) needs.
//
// It is built only on what the root package exports: sessions are started with [ssmwire.Client.Forward] and
// carried as [*ssmwire.Tunnel]s, start failures are recognised with [ssmwire.Classify]. Starts are rate
// limited (a token bucket, StartRate and StartBurst) and retried with backoff while the service throttles
// them.
//
//	p, err := pool.New(client, "i-0123456789abcdef0", ssmwire.Remote{Port: 5432}, &pool.Config{MaxSessions: 4})
//	if err != nil { ... }
//	defer p.Close()
//	err = p.Serve(ctx, listener) // every accepted connection goes to the least loaded session
package pool
