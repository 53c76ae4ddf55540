package relay

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ServeOptions tune [Serve]. A nil *ServeOptions means none.
type ServeOptions struct {
	// Stop, when closed, ends Serve as ctx ending does (the forwarder or pool it serves closed, or its
	// session ended).
	Stop <-chan struct{}
	// OneAtATime handles each connection on Serve's goroutine: the next one is accepted when it is done
	// (port sessions without multiplexing carry one connection at a time).
	OneAtATime bool
}

// Serve accepts connections on l and calls handle for each (concurrently, unless opts.OneAtATime) until ctx
// is done, opts.Stop is closed or Accept fails; an Accept that timed out (a listener deadline) is not an
// end. The ctx handle gets is canceled when Serve returns. Before returning Serve closes l and waits for every
// handle to return; it returns Accept's last error (net.ErrClosed when ctx or Stop ended it: callers check
// those first to say why).
func Serve(ctx context.Context, l net.Listener, opts *ServeOptions, handle func(ctx context.Context, c net.Conn)) error {
	var o ServeOptions
	if opts != nil {
		o = *opts
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		l.Close()
		wg.Wait()
	}()
	wg.Go(func() { // unblock Accept when anything ends
		select {
		case <-ctx.Done():
		case <-o.Stop:
		}
		l.Close()
	})
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && !closed(o.Stop) {
				continue
			}
			return err
		}
		if o.OneAtATime {
			handle(ctx, c)
			continue
		}
		wg.Go(func() { handle(ctx, c) })
	}
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
