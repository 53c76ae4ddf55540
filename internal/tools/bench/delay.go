package bench

import (
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// delayProxy is a TCP proxy on 127.0.0.1 that holds every byte for a fixed time in each direction, in order:
// a simulated wide-area link between the plugin and the emulator (round trip twice the one-way delay,
// bandwidth unlimited). The plugin's data channel and its own API calls go through it; ssmbench's
// StartSession does not.
type delayProxy struct {
	l      net.Listener
	target string
	oneWay time.Duration
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func newDelayProxy(target string, oneWay time.Duration) (*delayProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &delayProxy{l: l, target: target, oneWay: oneWay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// rewrite points a stream URL at the proxy.
func (p *delayProxy) rewrite(stream string) string {
	u, err := url.Parse(stream)
	if err != nil {
		return stream
	}
	u.Host = p.l.Addr().String()
	return u.String()
}

func (p *delayProxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *delayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.track(c, true)
		p.track(up, true)
		p.wg.Add(2)
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, each chunk written oneWay after it was read. A reader goroutine stamps chunks and
// the writer waits for each stamp, so a slow writer never stretches the delay of later chunks.
func (p *delayProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(p.oneWay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at); d > 0 {
			sleepExact(d)
		}
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
	io.Copy(io.Discard, src) // let the reader goroutine end
	p.track(src, false)
	src.Close()
}

func (p *delayProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
