package portforward

import (
	"errors"
	"net"
	"os"
	"regexp"
	"runtime/debug"
	"testing"

	"github.com/xtaci/smux"
)

// The version the frame watcher was written for is the one go.mod requires.
func TestSmuxVersionMatchesGoMod(t *testing.T) {
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(smuxModule) + `\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("go.mod does not require %s", smuxModule)
	}
	if got := string(m[1]); got != smuxVersion {
		t.Fatalf("go.mod requires %s %s, but smuxwire.go was written for %s: check the frame reading (muxrecv.go), writeData and streamIDs against the new version, then update smuxVersion",
			smuxModule, got, smuxVersion)
	}
	// A test binary carries no dependency list, so checkSmux cannot object here; programs do carry one
	// (go version -m).
	if err := checkSmux(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSmuxDeps(t *testing.T) {
	other := &debug.Module{Path: "example.com/other", Version: "v9.9.9"}
	for _, tc := range []struct {
		name string
		deps []*debug.Module
		ok   bool
	}{
		{"same", []*debug.Module{other, {Path: smuxModule, Version: smuxVersion}}, true},
		{"absent", []*debug.Module{other}, true},
		{"newer", []*debug.Module{{Path: smuxModule, Version: "v1.5.17"}}, false},
		{"older", []*debug.Module{{Path: smuxModule, Version: "v1.5.15"}}, false},
		{"replaced by the same", []*debug.Module{{Path: smuxModule, Version: "v1.5.10", Replace: &debug.Module{Path: smuxModule, Version: smuxVersion}}}, true},
		{"replaced by a fork", []*debug.Module{{Path: smuxModule, Version: smuxVersion, Replace: &debug.Module{Path: "example.com/smux", Version: "v1.6.0"}}}, false},
		{"replaced by a directory", []*debug.Module{{Path: smuxModule, Version: smuxVersion, Replace: &debug.Module{Path: "../smux"}}}, false},
	} {
		err := checkSmuxDeps(tc.deps)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, ErrSmuxVersion) {
			t.Errorf("%s: err = %v, want ErrSmuxVersion", tc.name, err)
		}
	}
}

// streamIDs predicts the ids of the smux in use, checked against a real smux client.
func TestStreamIDsPredictSmux(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	cfg.KeepAliveDisabled = true
	srv, err := smux.Server(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			s, err := srv.AcceptStream()
			if err != nil {
				return
			}
			s.Close()
		}
	}()
	cli, err := smux.Client(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	p := newStreamIDs()
	for i := 0; i < 50; i++ {
		want := p.predict()
		s, err := cli.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		if s.ID() != want {
			t.Fatalf("stream %d: smux gave id %d, predicted %d", i, s.ID(), want)
		}
		p.opened(s.ID())
		s.Close()
	}
}

// TestDefaultMaxFrameSize: a 32 KiB read from the local connection (relay.BufferSize) goes out as one smux
// frame, as in AWS's plugin (smux's default 32 KiB frames); larger messages (the opt-in) give larger frames.
func TestDefaultMaxFrameSize(t *testing.T) {
	for _, c := range []struct{ maxPayload, want int }{
		{1024, 32768},
		{1024 - 28, 32768}, // a KMS-encrypted session with the defaults
		{32 << 10, 32768},
		{65536, 65528},
		{1 << 20, 65535},
	} {
		if got := (*Config)(nil).withDefaults(c.maxPayload).MaxFrameSize; got != c.want {
			t.Errorf("MaxPayload %d: default MaxFrameSize %d, want %d", c.maxPayload, got, c.want)
		}
	}
	if got := (&Config{MaxFrameSize: 4096}).withDefaults(1024).MaxFrameSize; got != 4096 {
		t.Errorf("MaxFrameSize 4096 set: got %d", got)
	}
}
