package filecopy_test

import (
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const target = ssmtest.DefaultInstanceID

// The set-up shared with the root package's tests (internal/testkit/clientkit).
var (
	newServer       = clientkit.NewServer
	newClient       = clientkit.NewClient
	checkGoroutines = clientkit.CheckGoroutines
	newPacedServer  = clientkit.NewPacedServer // the agent paces its output as the real one does
)
