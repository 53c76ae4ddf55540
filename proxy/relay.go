package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"time"

	"github.com/ssmwire/ssmwire/internal/relay"
)

// relay copies between the client and the destination (package relay: the client's end of stream
// half-closes the destination when it can, so that its answer still arrives) until either side ends or ctx
// is done, then closes both. Bytes the client sent after its request (already buffered) go first.
func (h *handler) relay(ctx context.Context, ev Event, remote net.Conn) {
	defer remote.Close()
	h.c.SetDeadline(time.Time{})
	h.lim.N = 1<<63 - 1 // the head limit is over: br now only drains what it buffered
	start := time.Now()
	res := relay.Pipe(ctx, bufferedConn{Conn: h.c, r: h.br}, remote, nil)
	ev.Type = EventClosed
	ev.BytesUp, ev.BytesDown = res.Up, res.Down
	ev.Duration = time.Since(start)
	if derr := res.DownErr; derr != nil && !errors.Is(derr, net.ErrClosed) && ctx.Err() == nil {
		ev.Err = derr
		ev.Kind = Classify(derr)
	}
	h.emit(ev)
}

// bufferedConn is the client's connection read through the buffer that holds what it sent after its request.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
