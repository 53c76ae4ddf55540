package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// relay copies between the client and the destination until either side ends or ctx is done, then closes
// both. Bytes the client sent after its request (already buffered) go first.
func (h *handler) relay(ctx context.Context, ev Event, remote net.Conn) {
	defer remote.Close()
	h.c.SetDeadline(time.Time{})
	h.lim.N = 1<<63 - 1 // the head limit is over: br now only drains what it buffered
	start := time.Now()
	stop := context.AfterFunc(ctx, func() {
		h.c.Close()
		remote.Close()
	})
	defer stop()

	var up atomic.Int64
	done := make(chan error, 1)
	go func() {
		// Client → destination. The client's end of stream half-closes the destination when it can, so
		// that its answer still arrives; otherwise it ends the tunnel.
		buf := make([]byte, copyBufferSize)
		n, err := io.CopyBuffer(remote, onlyReader{h.br}, buf)
		up.Store(n)
		if cw, ok := remote.(interface{ CloseWrite() error }); ok && err == nil {
			cw.CloseWrite()
		} else {
			remote.Close()
		}
		done <- err
	}()
	// Destination → client.
	buf := make([]byte, copyBufferSize)
	down, derr := io.CopyBuffer(h.c, onlyReader{remote}, buf)
	h.c.Close()
	remote.Close()
	<-done

	ev.Type = EventClosed
	ev.BytesUp, ev.BytesDown = up.Load(), down
	ev.Duration = time.Since(start)
	if derr != nil && !errors.Is(derr, net.ErrClosed) && ctx.Err() == nil {
		ev.Err = derr
		ev.Kind = Classify(derr)
	}
	h.emit(ev)
}

// onlyReader hides a reader's WriteTo, so that io.CopyBuffer uses the buffer given (and the writer's
// ReadFrom, where it has one).
type onlyReader struct{ io.Reader }
