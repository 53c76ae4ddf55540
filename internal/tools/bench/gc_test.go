package bench

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

// TestEmulatorGC: a measurement runs the emulator's process at EmulatorGCPercent unless GOGC is set, and the
// report says which target it ran at.
func TestEmulatorGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	t.Setenv("GOGC", "")
	useEmulatorGC()
	if got := gcPercent(); got != EmulatorGCPercent {
		t.Fatalf("GOGC unset: GC percent %d, want %d", got, EmulatorGCPercent)
	}
	rep := &Report{Machine: ThisMachine()}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if want := "; ssmbench GOGC 400\n"; !strings.Contains(out.String(), want) {
		t.Fatalf("report does not say %q:\n%s", want, out.String())
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	useEmulatorGC()
	if got := gcPercent(); got != 50 {
		t.Fatalf("GOGC=50: GC percent %d, want 50 (left alone)", got)
	}
}
