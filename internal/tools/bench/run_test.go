package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testConfig(size int64) *Config {
	cfg := DefaultConfig()
	cfg.Size = size
	cfg.Echoes = 50
	cfg.Timeout = time.Minute
	cfg.HopCeiling = false // TestRunHopCeiling turns it on
	return &cfg
}

func checkRow(t *testing.T, r *Row) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Errorf("%s %s: errors %q", r.Name, r.Mode, r.Errors)
	}
	if r.UploadMiBps <= 0 || r.DownloadMiBps <= 0 || r.EchoP50us <= 0 || r.EchoP99us < r.EchoP50us {
		t.Errorf("%s %s: implausible figures %+v", r.Name, r.Mode, r)
	}
	if r.Session.FramesToAgent == 0 || r.Session.MaxClientMessage == 0 {
		t.Errorf("%s %s: emulator saw nothing: %+v", r.Name, r.Mode, r.Session)
	}
}

// The ceiling relay alone moves every byte in both modes, checked against the pattern at the far end.
func TestRunCeilingOnly(t *testing.T) {
	cfg := testConfig(1 << 20)
	cfg.Repeat = 2
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 {
		t.Fatalf("rows = %d, want 2 (mux and basic ceiling)", len(rep.Rows))
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if !r.Ceiling || r.Name != CeilingName {
			t.Errorf("row %d = %q, want the ceiling", i, r.Name)
		}
		checkRow(t, r)
		if r.Runs != 2 {
			t.Errorf("%s: runs = %d, want 2", r.Mode, r.Runs)
		}
		if r.Session.DuplicatesAtAgent != 0 {
			t.Errorf("%s: %d duplicates on a clean link", r.Mode, r.Session.DuplicatesAtAgent)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mux mode", "basic mode", "upload MiB/s", "ceiling"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

// ourPlugin builds cmd/session-manager-plugin into a temporary directory.
func ourPlugin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "session-manager-plugin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/ssmwire/ssmwire/cmd/session-manager-plugin")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building our plugin: %v\n%s", err, out)
	}
	return bin
}

// A short end-to-end run through our own plugin in both modes and both argv forms: every transfer
// succeeds, the process exits on channel_closed, and the JSON report carries the figures.
func TestRunOurPlugin(t *testing.T) {
	bin := ourPlugin(t)
	for _, form := range []Form{FormEnv, FormArgv} {
		t.Run(string(form), func(t *testing.T) {
			cfg := testConfig(1 << 20)
			cfg.Form = form
			cfg.Plugins = []Plugin{{Name: "ours", Path: bin}}
			var progress bytes.Buffer
			rep, err := Run(context.Background(), cfg, &progress)
			if err != nil {
				t.Fatal(err)
			}
			var rows int
			for i := range rep.Rows {
				r := &rep.Rows[i]
				checkRow(t, r)
				if r.Ceiling {
					continue
				}
				rows++
				if r.PeakRSSMiB <= 0 || r.UploadCPUPerMiB <= 0 || r.ReadyMs <= 0 {
					t.Errorf("%s: no process figures: %+v", r.Mode, r)
				}
				for _, e := range r.Exits {
					if !strings.HasSuffix(e, ": exit 0") {
						t.Errorf("%s: plugin did not exit cleanly on channel_closed: %s", r.Mode, e)
					}
				}
			}
			if rows != 2 {
				t.Errorf("plugin rows = %d, want 2", rows)
			}
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatal(err)
			}
			var back Report
			if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != len(rep.Rows) || len(back.Goals) == 0 {
				t.Errorf("JSON round trip: %v, %d rows, %d goals", err, len(back.Rows), len(back.Goals))
			}
			if t.Failed() {
				t.Logf("progress:\n%s", progress.String())
			}
		})
	}
}

// A plugin that never opens a port is reported as an error in its row, not a hang.
func TestRunBrokenPlugin(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "session-manager-plugin")
	if err := writeExecutable(script, "#!/bin/sh\necho 'Cannot perform start session: nope'\nexit 0\n"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(64 << 10)
	cfg.Modes = []Mode{ModeMux}
	cfg.Ceiling = false
	cfg.Plugins = []Plugin{{Name: "broken", Path: script}}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := rep.row("broken", ModeMux)
	if r == nil || len(r.Errors) != 3 {
		t.Fatalf("row = %+v, want three errors", r)
	}
	if !strings.Contains(r.Errors[0], "before opening a port") || !strings.Contains(r.Errors[0], "Cannot perform start session") {
		t.Errorf("error = %q", r.Errors[0])
	}
	var out bytes.Buffer
	jsonOut := filepath.Join(dir, "report.json")
	if code := Main(context.Background(), []string{"-plugin", script, "-modes", "mux", "-ceiling=false", "-size", "64KiB", "-echoes", "5", "-json-out", jsonOut}, &out, &out); code != 1 {
		t.Errorf("Main exit code = %d, want 1 for failed measurements", code)
	}
	var back Report
	if b, err := os.ReadFile(jsonOut); err != nil {
		t.Error(err)
	} else if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != 1 || len(back.Rows[0].Errors) != 3 {
		t.Errorf("-json-out report: %v, %+v", err, back.Rows)
	}
}

func TestMainUsage(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"-modes", "nope", "-plugin", "x"}, &out, &out); code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if code := Main(context.Background(), []string{"-h"}, &out, &out); code != 0 {
		t.Errorf("-h exit code = %d, want 0", code)
	}
	if !strings.Contains(out.String(), "-plugin") {
		t.Errorf("usage lacks -plugin:\n%s", out.String())
	}
}

// TestRunTLSToo: with -tls-too, every plugin is measured plain and over TLS in one run.
func TestRunTLSToo(t *testing.T) {
	runTwice(t, func(cfg *Config) { cfg.TLSToo = true }, TLSSuffix)
}

// runTwice runs our plugin in mux mode with the second measurement edit turns on (-tls-too, -proxy-too),
// checks the plain row and the one named with suffix and that the text report divides one by the other, and
// returns the report.
func runTwice(t *testing.T, edit func(*Config), suffix string) *Report {
	t.Helper()
	cfg := testConfig(1 << 20)
	edit(cfg)
	cfg.Ceiling = false
	cfg.Modes = []Mode{ModeMux}
	cfg.Plugins = []Plugin{{Name: "ours", Path: ourPlugin(t)}}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.row("ours", ModeMux) == nil || rep.row("ours"+suffix, ModeMux) == nil {
		t.Fatalf("rows %+v, want ours and ours%s", rep.Rows, suffix)
	}
	for i := range rep.Rows {
		checkRow(t, &rep.Rows[i])
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "ours÷ours"+suffix) {
		t.Errorf("text report (%v) lacks the ours÷ours%s column:\n%s", err, suffix, out.String())
	}
	return rep
}

// TestRunOverTLS: with -tls, the ceiling relay and our plugin (given the CA as AWS_CA_BUNDLE) measure over
// https and wss.
func TestRunOverTLS(t *testing.T) {
	cfg := testConfig(1 << 20)
	cfg.TLS = true
	cfg.Modes = []Mode{ModeMux}
	cfg.Plugins = []Plugin{{Name: "ours", Path: ourPlugin(t)}}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), cfg, &progress)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.TLS || len(rep.Rows) != 2 {
		t.Fatalf("report TLS %v, %d rows; want TLS and 2 rows", rep.TLS, len(rep.Rows))
	}
	for i := range rep.Rows {
		checkRow(t, &rep.Rows[i])
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "over TLS") {
		t.Errorf("text report (%v) does not say TLS:\n%s", err, out.String())
	}
	if t.Failed() {
		t.Logf("progress:\n%s", progress.String())
	}
}
