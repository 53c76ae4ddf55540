package pool_test

import (
	"sync"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const target = ssmtest.DefaultInstanceID

// The set-up shared with the root package's tests (internal/testkit/clientkit).
var (
	newServer       = clientkit.NewServer
	newClient       = clientkit.NewClient
	waitGoroutines  = clientkit.WaitGoroutines
	checkGoroutines = clientkit.CheckGoroutines
	closedPort      = testkit.ClosedPort
	echo            = clientkit.Echo
	waitEnded       = clientkit.WaitEnded
	exampleClient   = clientkit.ExampleClient
	startDatabase   = clientkit.StartDatabase
)

// recorder collects what a callback is told (session events, proxy events), from any goroutine.
type recorder[T any] struct {
	mu    sync.Mutex
	items []T
}

func (r *recorder[T]) add(e T) {
	r.mu.Lock()
	r.items = append(r.items, e)
	r.mu.Unlock()
}

// all returns a copy of what was recorded, in order.
func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}
