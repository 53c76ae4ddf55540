package plugincli

import (
	"os"
	"testing"
)

// TestMain keeps every test off the EC2 instance metadata service, also for a session goroutine that
// outlives a failed test (t.Setenv values are gone by then and the SDK's credential chain would ask IMDS).
func TestMain(m *testing.M) {
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}
