package bench

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParsePortOpened(t *testing.T) {
	for in, want := range map[string]int{
		"\nStarting session with SessionId: s-1\nPort 45678 opened for sessionId s-1.\nWaiting for connections...\n": 45678,
		"Port 1 opened": 1,
		"Starting session\nPort 2222 opened for sessionId x.": 2222, // mux mode prints no newline
	} {
		if got, ok := ParsePortOpened([]byte(in)); !ok || got != want {
			t.Errorf("ParsePortOpened(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "Port  opened", "Port 123", "Port 70000 opened", "Unix socket /tmp/s opened", "Port 0 opened"} {
		if n, ok := ParsePortOpened([]byte(in)); ok {
			t.Errorf("ParsePortOpened(%q) = %d, want no port", in, n)
		}
	}
}

// The watcher must find the port even when the announcement arrives in pieces and without a newline.
func TestPortWatcherSplitWrites(t *testing.T) {
	w := newPortWatcher()
	for _, piece := range []string{"\nStarting session with SessionId: s\nPo", "rt 31", "337", " opene", "d for sessionId s."} {
		w.Write([]byte(piece))
	}
	select {
	case <-w.found:
	default:
		t.Fatalf("port not found in %q", w.String())
	}
	if w.port != 31337 {
		t.Errorf("port = %d, want 31337", w.port)
	}
}

func TestPluginArgs(t *testing.T) {
	s := &started{ID: "sess-1", Token: "tok", StreamURL: "ws://127.0.0.1:1/v1/data-channel/sess-1?stream=input",
		Params: []byte(`{"Target":"i-1"}`)}
	args, env, err := PluginArgs(s, "http://127.0.0.1:1", FormEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{EnvResponse, "us-east-1", "StartSession", "", `{"Target":"i-1"}`, "http://127.0.0.1:1"}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q, want %q", args, want)
	}
	var resp map[string]string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, EnvResponse+"="); ok {
			if err := json.Unmarshal([]byte(v), &resp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if resp["SessionId"] != "sess-1" || resp["TokenValue"] != "tok" || resp["StreamUrl"] != s.StreamURL {
		t.Errorf("env response = %v", resp)
	}
	for _, a := range args {
		if strings.Contains(a, "tok") {
			t.Errorf("token in argv with the env form: %q", a)
		}
	}

	args, env, err = PluginArgs(s, "http://127.0.0.1:1", FormArgv)
	if err != nil {
		t.Fatal(err)
	}
	var inline map[string]any
	if err := json.Unmarshal([]byte(args[0]), &inline); err != nil {
		t.Fatal(err)
	}
	if inline["TokenValue"] != "tok" || inline["ResponseMetadata"] == nil {
		t.Errorf("argv[1] = %s", args[0])
	}
	for _, e := range env {
		if strings.HasPrefix(e, EnvResponse+"=") {
			t.Errorf("argv form also set %s", EnvResponse)
		}
	}
}

func TestParseVmHWM(t *testing.T) {
	status := "Name:\tsession-manage\nVmPeak:\t 1234 kB\nVmHWM:\t   18236 kB\nVmRSS:\t   18000 kB\n"
	if got := parseVmHWM([]byte(status)); got != 18236*1024 {
		t.Errorf("parseVmHWM = %d", got)
	}
	if got := parseVmHWM([]byte("Name: x\n")); got != 0 {
		t.Errorf("parseVmHWM without the line = %d", got)
	}
}
