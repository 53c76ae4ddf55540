package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Mode is the port-forwarding flavour a measurement runs in. The agent decides it from its version
// (docs/protocol.md §6.2): mux (smux over the data channel) when the agent is newer than 3.0.196.0, basic (one
// TCP connection at a time) otherwise.
type Mode string

const (
	ModeMux   Mode = "mux"
	ModeBasic Mode = "basic"
)

// BasicAgentVersion is the agent version the emulator reports for basic-mode runs: older than 3.0.196.0, so
// every plugin falls back to BasicPortForwarding.
const BasicAgentVersion = "3.0.100.0"

// Form is how the plugin receives the StartSession response (docs/protocol.md §7.1).
type Form string

const (
	// FormEnv passes the name of the environment variable AWS_SSM_START_SESSION_RESPONSE as argv[1], as
	// the AWS CLI does for plugins newer than 1.2.497.0.
	FormEnv Form = "env"
	// FormArgv passes the response JSON itself as argv[1], as older CLIs (and Debian's 2.9.19) do.
	FormArgv Form = "argv"
)

// Plugin is one plugin binary to measure.
type Plugin struct {
	Name string   `json:"name"` // short label for tables; defaults to the binary's parent directory or base name
	Path string   `json:"path"`
	Env  []string `json:"env,omitempty"` // extra KEY=VALUE environment (-plugin-env), e.g. SSMWIRE_MAX_PAYLOAD

	tls   bool // a NAME-tls column of -tls-too: measured against a TLS emulator
	proxy bool // a NAME-proxy column of -proxy-too: over TLS through tinyproxy
}

// ProxySuffix ends the names of the columns -proxy-too adds.
const ProxySuffix = "-proxy"

// TLSSuffix ends the names of the columns -tls-too adds.
const TLSSuffix = "-tls"

// Config is what one run measures. ParseArgs builds it from the command line.
type Config struct {
	Plugins    []Plugin // measured in order; the first is the baseline for ratios
	Size       int64    // bytes per upload and per download
	Pacing     bool     // the emulated agent paces itself like the real one (1 KiB reads, 1 ms sleeps)
	Modes      []Mode   // port-forwarding modes to measure
	JSON       bool     // print the report as JSON instead of tables
	JSONOut    string   // also write the JSON report to this file
	CPUProfile string   // write a CPU profile of this process (the emulator and the ceiling relay) here
	// PluginProfile is a directory where each plugin process built with -tags ssmwire_pprof writes its CPU
	// and heap profiles and memory classes (SSMWIRE_PROFILE=DIR/NAME-MODE-TRANSFER-REPETITION, plus .PID.cpu,
	// .PID.heap, .PID.mem). Other builds ignore it.
	PluginProfile string
	Form          Form // how the StartSession response reaches the plugin
	Echoes        int  // 64-byte round trips per echo measurement
	EchoSize      int  // bytes per echo round trip
	Ceiling       bool // also measure the emulator's ceiling with the built-in relay client
	CeilingChunk  int  // payload bytes per message the ceiling relay sends
	// HopCeiling also measures the ceiling relay behind one forwarder process (rows HopName), as a plugin's
	// local port is reached; only with Ceiling.
	HopCeiling bool
	Timeout    time.Duration // limit for one measurement (one plugin process)
	Repeat     int           // repetitions of every measurement; rates and CPU costs are medians
	RTT        time.Duration // > 0: the data channel goes through a proxy adding this round trip
	TLS        bool          // the emulator serves https and wss; plugins get its CA in AWS_CA_BUNDLE and SSL_CERT_FILE
	TLSToo     bool          // also measure every plugin over TLS, in turn with the plain runs, as NAME-tls
	ProxyToo   bool          // also measure every plugin over TLS through tinyproxy, in turn, as NAME-proxy
}

// DefaultConfig returns the defaults ParseArgs starts from.
func DefaultConfig() Config {
	return Config{
		Size:         64 << 20,
		Modes:        []Mode{ModeMux, ModeBasic},
		Form:         FormEnv,
		Echoes:       2000,
		EchoSize:     64,
		Ceiling:      true,
		HopCeiling:   true,
		CeilingChunk: 32 << 10,
		Timeout:      5 * time.Minute,
		Repeat:       1,
	}
}

// ErrHelp is returned by ParseArgs for -h and -help, after the usage was printed.
var ErrHelp = flag.ErrHelp

// ParseArgs parses the ssmbench command line (without the program name). Usage and flag errors go to
// stderr.
func ParseArgs(args []string, stderr io.Writer) (*Config, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("ssmbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ssmbench -plugin PATH [-plugin PATH ...] [flags]\n\n"+
			"Starts the ssmtest emulator, runs each plugin the way the AWS CLI does, and measures a\n"+
			"port-forwarding session through the plugin's local TCP port. The first -plugin is the\n"+
			"baseline for ratios.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.Func("plugin", "plugin binary to measure, `[NAME=]PATH` (repeatable; the first is the baseline)", func(s string) error {
		p, err := parsePlugin(s)
		if err != nil {
			return err
		}
		cfg.Plugins = append(cfg.Plugins, p)
		return nil
	})
	size := sizeFlag(cfg.Size)
	fs.Var(&size, "size", "bytes per upload and download, e.g. 64MiB, 512KiB, 1000000")
	fs.BoolVar(&cfg.Pacing, "pacing", false, "agent paces like the real one: 1 KiB per message, 1 ms sleep (caps download)")
	modes := "mux,basic"
	fs.StringVar(&modes, "modes", modes, "comma-separated port-forwarding modes: mux, basic")
	fs.BoolVar(&cfg.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&cfg.JSONOut, "json-out", "", "also write the JSON report to `FILE`")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of this process (emulator and ceiling relay, not the plugins) to `FILE`")
	fs.StringVar(&cfg.PluginProfile, "plugin-profile", "", "each plugin process built with -tags ssmwire_pprof writes CPU and heap profiles and runtime memory classes into `DIR`")
	form := string(cfg.Form)
	fs.StringVar(&form, "form", form, "how the StartSession response reaches the plugin: env (AWS_SSM_START_SESSION_RESPONSE) or argv (JSON in argv[1])")
	fs.IntVar(&cfg.Echoes, "echoes", cfg.Echoes, "round trips per echo measurement")
	fs.IntVar(&cfg.EchoSize, "echo-size", cfg.EchoSize, "bytes per echo round trip")
	fs.BoolVar(&cfg.Ceiling, "ceiling", cfg.Ceiling, "also measure the emulator's ceiling with a relay client that needs no plugin")
	fs.BoolVar(&cfg.HopCeiling, "hop-ceiling", cfg.HopCeiling, "with -ceiling, also measure the ceiling relay behind one forwarder process (ssmbench itself re-executed, GOMAXPROCS=1, GOGC=25; io.Copy both ways), "+
		"reached through a loopback port as a plugin's is: column "+HopName+", the yardstick of the echo goal; costs about as much time as the ceiling column")
	chunk := sizeFlag(cfg.CeilingChunk)
	fs.Var(&chunk, "ceiling-chunk", "payload bytes per message sent by the ceiling relay")
	fs.IntVar(&cfg.Repeat, "repeat", cfg.Repeat, "repeat every measurement `N` times (clients in turn) and report medians")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "limit for one measurement")
	fs.BoolVar(&cfg.TLS, "tls", false, "serve the API over https and the data channel over wss, as AWS does; the plugins get the emulator's CA in AWS_CA_BUNDLE (ours) and SSL_CERT_FILE (AWS's)")
	fs.BoolVar(&cfg.ProxyToo, "proxy-too", false, "also measure every plugin over TLS through a real HTTP proxy (tinyproxy, started on 127.0.0.1; the emulator is named "+ProxyHostname+", which must resolve to 127.0.0.1) in the same run: columns NAME"+ProxySuffix)
	fs.BoolVar(&cfg.TLSToo, "tls-too", false, "also measure every plugin over TLS in the same run, in turn with the plain measurements: columns NAME"+TLSSuffix)
	fs.DurationVar(&cfg.RTT, "rtt", 0, "simulate a wide-area link: the data channel goes through a proxy adding this round trip (e.g. 30ms)")
	var penv []string
	fs.Func("plugin-env", "extra environment for one plugin, `NAME=KEY=VALUE` (repeatable), e.g. optin=SSMWIRE_WINDOW=1048576", func(s string) error {
		if n, kv, ok := strings.Cut(s, "="); !ok || n == "" || !strings.Contains(kv, "=") {
			return fmt.Errorf("want NAME=KEY=VALUE")
		}
		penv = append(penv, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, s := range penv {
		n, kv, _ := strings.Cut(s, "=")
		found := false
		for i := range cfg.Plugins {
			if cfg.Plugins[i].Name == n {
				cfg.Plugins[i].Env = append(cfg.Plugins[i].Env, kv)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("-plugin-env %s: no -plugin named %q", s, n)
		}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.Size = int64(size)
	cfg.CeilingChunk = int(chunk)
	cfg.Form = Form(form)
	var err error
	if cfg.Modes, err = parseModes(modes); err != nil {
		return nil, err
	}
	nameDuplicates(cfg.Plugins)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// Validate reports the first problem with c.
func (c *Config) Validate() error {
	switch {
	case len(c.Plugins) == 0 && !c.Ceiling:
		return errors.New("nothing to measure: give -plugin PATH (or keep -ceiling)")
	case c.Size <= 0:
		return errors.New("-size must be positive")
	case len(c.Modes) == 0:
		return errors.New("-modes is empty")
	case c.Form != FormEnv && c.Form != FormArgv:
		return fmt.Errorf("-form %q: want env or argv", c.Form)
	case c.Echoes <= 0:
		return errors.New("-echoes must be positive")
	case c.EchoSize <= 0 || c.EchoSize > 1<<20:
		return errors.New("-echo-size must be between 1 and 1 MiB")
	case c.CeilingChunk < 1 || c.CeilingChunk > 1<<20:
		return errors.New("-ceiling-chunk must be between 1 byte and 1 MiB")
	case c.TLS && c.TLSToo:
		return errors.New("-tls and -tls-too: choose one")
	case c.Repeat < 1:
		return errors.New("-repeat must be at least 1")
	case c.Timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	return nil
}

func parsePlugin(s string) (Plugin, error) {
	var p Plugin
	if name, path, ok := strings.Cut(s, "="); ok && name != "" && !strings.ContainsRune(name, '/') {
		p.Name, p.Path = name, path
	} else {
		p.Path = s
	}
	if p.Path == "" {
		return p, errors.New("empty plugin path")
	}
	if p.Name == "" {
		p.Name = defaultName(p.Path)
	}
	return p, nil
}

// defaultName labels a plugin by its binary's name, or by its directory when the binary is called
// session-manager-plugin (as every plugin is).
func defaultName(path string) string {
	base := filepath.Base(path)
	if base == "session-manager-plugin" {
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != "/" {
			return dir
		}
	}
	return base
}

// nameDuplicates makes labels unique by numbering repeats.
func nameDuplicates(ps []Plugin) {
	seen := map[string]int{}
	for i := range ps {
		seen[ps[i].Name]++
		if n := seen[ps[i].Name]; n > 1 {
			ps[i].Name = fmt.Sprintf("%s#%d", ps[i].Name, n)
		}
	}
}

func parseModes(s string) ([]Mode, error) {
	var modes []Mode
	seen := map[Mode]bool{}
	for _, f := range strings.Split(s, ",") {
		m := Mode(strings.TrimSpace(f))
		if m == "" {
			continue
		}
		if m != ModeMux && m != ModeBasic {
			return nil, fmt.Errorf("-modes: unknown mode %q (want mux or basic)", m)
		}
		if !seen[m] {
			seen[m] = true
			modes = append(modes, m)
		}
	}
	if len(modes) == 0 {
		return nil, errors.New("-modes is empty")
	}
	return modes, nil
}

// ParseSize parses a byte count: a plain number, or a number with a unit B, KiB, MiB, GiB (powers of 1024;
// K, M, G and KB, MB, GB are read the same way) or kB (1000).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	var mult float64
	switch strings.ToLower(unit) {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	default:
		return 0, fmt.Errorf("size %q: unknown unit %q", s, unit)
	}
	if unit == "kB" {
		mult = 1000
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	n := f * mult
	if n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return int64(n), nil
}

// FormatSize prints n in the largest binary unit that divides it, e.g. 64MiB.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10) + "B"
}

type sizeFlag int64

func (s *sizeFlag) String() string { return FormatSize(int64(*s)) }
func (s *sizeFlag) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}
