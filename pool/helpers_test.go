package pool_test

import (
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
	closedPort      = clientkit.ClosedPort
	echo            = clientkit.Echo
	waitEnded       = clientkit.WaitEnded
	exampleClient   = clientkit.ExampleClient
	startDatabase   = clientkit.StartDatabase
)
