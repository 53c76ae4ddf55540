//go:build !unix

package shell

import (
	"context"
	"os"
	"time"
)

// controlSignals are caught when Stdin is not a terminal (Config.ControlSignals) and sent as bytes, as the
// official plugin does on Windows (docs/protocol.md §6.1): Ctrl-C as 0x03.
var controlSignals = []os.Signal{os.Interrupt}

func controlByte(sig os.Signal) (byte, bool) {
	if sig == os.Interrupt {
		return 0x03, true
	}
	return 0, false
}

// sizePoll is how often the console size is read where no signal reports changes (the official plugin
// polls every 500 ms on every platform).
const sizePoll = 500 * time.Millisecond

// watchSize calls send now and then every sizePoll until ctx is done; send drops sizes that did not change
// further down (Run sends a size only when it differs from the last one).
func watchSize(ctx context.Context, _ signals, send func()) {
	send()
	go func() {
		t := time.NewTicker(sizePoll)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				send()
			case <-ctx.Done():
				return
			}
		}
	}()
}
