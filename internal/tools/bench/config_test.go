package bench

import (
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	cfg, err := ParseArgs([]string{
		"-plugin", "/opt/ours/session-manager-plugin",
		"-plugin", "aws=/usr/local/bin/session-manager-plugin",
		"-size", "1MiB", "-pacing", "-modes", "basic, mux,basic", "-json", "-form", "argv",
		"-echoes", "10", "-echo-size", "128", "-ceiling=false", "-timeout", "30s", "-repeat", "3",
		"-plugin-env", "ours=SSMWIRE_WINDOW=1048576", "-rtt", "30ms", "-hop-ceiling=false",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []Plugin{{Name: "ours", Path: "/opt/ours/session-manager-plugin", Env: []string{"SSMWIRE_WINDOW=1048576"}},
		{Name: "aws", Path: "/usr/local/bin/session-manager-plugin"}}
	if !reflect.DeepEqual(cfg.Plugins, want) {
		t.Errorf("Plugins = %+v, want %+v", cfg.Plugins, want)
	}
	if cfg.Size != 1<<20 || !cfg.Pacing || !cfg.JSON || cfg.Form != FormArgv || cfg.Echoes != 10 ||
		cfg.EchoSize != 128 || cfg.Ceiling || cfg.HopCeiling || cfg.Timeout != 30*time.Second || cfg.Repeat != 3 || cfg.RTT != 30*time.Millisecond {
		t.Errorf("cfg = %+v", cfg)
	}
	if !slices.Equal(cfg.Modes, []Mode{ModeBasic, ModeMux}) {
		t.Errorf("Modes = %v", cfg.Modes)
	}
}

func TestParseArgsDefaults(t *testing.T) {
	cfg, err := ParseArgs([]string{"-plugin", "./session-manager-plugin", "-plugin", "./session-manager-plugin"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultConfig()
	if cfg.Size != 64<<20 || cfg.Pacing || cfg.JSON || cfg.Form != FormEnv || cfg.Echoes != d.Echoes || !cfg.Ceiling || !cfg.HopCeiling {
		t.Errorf("defaults not kept: %+v", cfg)
	}
	if !slices.Equal(cfg.Modes, []Mode{ModeMux, ModeBasic}) {
		t.Errorf("Modes = %v", cfg.Modes)
	}
	if cfg.Plugins[0].Name == cfg.Plugins[1].Name {
		t.Errorf("duplicate names kept: %+v", cfg.Plugins)
	}
}

func TestParseArgsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-ceiling=false"},
		{"-plugin", "p", "-size", "0"},
		{"-plugin", "p", "-size", "12 parsecs"},
		{"-plugin", "p", "-modes", "yamux"},
		{"-plugin", "p", "-modes", ","},
		{"-plugin", "p", "-form", "stdin"},
		{"-plugin", "p", "-echoes", "0"},
		{"-plugin", "p", "-repeat", "0"},
		{"-plugin", "p", "extra"},
		{"-plugin", ""},
		{"-nosuchflag"},
	} {
		var errs strings.Builder
		if _, err := ParseArgs(args, &errs); err == nil {
			t.Errorf("ParseArgs(%q) succeeded", args)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"64MiB": 64 << 20, "64M": 64 << 20, "1 GiB": 1 << 30, "512KiB": 512 << 10, "1000000": 1000000,
		"1.5MiB": 3 << 19, "10kB": 10000, "10KB": 10 << 10, "7b": 7,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "0", "1TiB", "1.2.3"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
	for n, want := range map[int64]string{64 << 20: "64MiB", 1 << 30: "1GiB", 1536: "1536B", 3 << 10: "3KiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}
