package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/ssmwire/ssmwire"
)

// File is the configuration file of named tunnels, decoded from TOML:
//
//	[tunnels.staging-db]
//	profile  = "staging"
//	region   = "eu-west-1"
//	target   = "bastion"
//	forwards = ["5432:localhost:5432", "6379:redis.internal:6379"]
type File struct {
	// Path is where the file was read from.
	Path string
	// Tunnels holds the named tunnels in the order of the file.
	Tunnels []Tunnel
}

// Tunnel is one named tunnel of the configuration file.
type Tunnel struct {
	Name     string
	Profile  string // AWS profile; empty uses the command line's or the SDK's default
	Region   string // AWS region; empty uses the command line's or the profile's
	Target   string // instance id, managed instance id, Name tag value or ecs:… target
	Forwards []Forward
	Proxy    *ProxyListen // a SOCKS5 and HTTP CONNECT proxy through Target (`proxy = "127.0.0.1:1080"`), or nil
	Sessions int          // sessions per forward: 0 or 1 one at a time, n > 1 a pool of up to n, SessionsAuto a pool
	Pacing   pacing       // max_payload and window: opt-in message size and bound (0: defaults)
	Line     int          // line of the tunnel's table header, for messages
}

// tunnelTOML is the decoded form of one [tunnels.NAME] table.
type tunnelTOML struct {
	Profile  string   `toml:"profile"`
	Region   string   `toml:"region"`
	Target   string   `toml:"target"`
	Forwards []string `toml:"forwards"`
	Proxy    string   `toml:"proxy"`
	Sessions any      `toml:"sessions"` // a number or "auto"
	// MaxPayload and Window opt in to larger data messages and bound (pacing.go).
	MaxPayload int `toml:"max_payload"`
	Window     int `toml:"window"`
}

// DefaultConfigPath returns $XDG_CONFIG_HOME/ssmwire/config.toml, or ~/.config/ssmwire/config.toml when
// XDG_CONFIG_HOME is unset, looking both up in env.
func DefaultConfigPath(env Env) string {
	if d := env.Get("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "ssmwire", "config.toml")
	}
	if h := env.Get("HOME"); h != "" {
		return filepath.Join(h, ".config", "ssmwire", "config.toml")
	}
	return filepath.Join(".config", "ssmwire", "config.toml")
}

// errNoConfig is wrapped by LoadFile when the file does not exist.
var errNoConfig = errors.New("no configuration file")

// LoadFile reads and validates the configuration file at path.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w (see `ssmwire help up` for its format)", path, errNoConfig)
	}
	if err != nil {
		return nil, err
	}
	return ParseFile(path, b)
}

// ParseFile decodes and validates a configuration file's contents. Errors name the file and, where known,
// the line.
func ParseFile(path string, b []byte) (*File, error) {
	var raw struct {
		Tunnels map[string]tunnelTOML `toml:"tunnels"`
	}
	md, err := toml.Decode(string(b), &raw)
	if err != nil {
		var pe toml.ParseError
		var ppe *toml.ParseError
		if errors.As(err, &ppe) {
			pe = *ppe
		}
		if ppe != nil || errors.As(err, &pe) {
			msg := pe.Message
			if pe.LastKey != "" && !strings.Contains(msg, pe.LastKey) {
				msg = fmt.Sprintf("%s: %s", pe.LastKey, msg)
			}
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, msg)
		}
		// Type mismatches are plain errors: "toml: line N (last key "K"): message".
		if m := decodeErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s: %s", path, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	src := string(b)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		line := 0
		if len(k) >= 2 && k[0] == "tunnels" {
			line = keyLine(src, k[1], k[len(k)-1])
		}
		return nil, fmt.Errorf("%s: unknown key %q (tunnels take profile, region, target, forwards, proxy, sessions, max_payload and window)",
			where(path, line), k.String())
	}
	f := &File{Path: path}
	// Keep the file's order: md.Keys lists keys as they appear.
	var names []string
	for _, k := range md.Keys() {
		if len(k) == 2 && k[0] == "tunnels" && !slices.Contains(names, k[1]) {
			names = append(names, k[1])
		}
	}
	for _, name := range names {
		t := raw.Tunnels[name]
		line := tableLine(src, name)
		tn := Tunnel{Name: name, Profile: t.Profile, Region: t.Region, Target: t.Target, Line: line}
		if !validName.MatchString(name) {
			return nil, fmt.Errorf("%s: tunnel name %q: use letters, digits, '.', '_' and '-'", where(path, line), name)
		}
		if t.Target == "" {
			return nil, fmt.Errorf("%s: tunnel %q has no target", where(path, line), name)
		}
		if _, err := ssmwire.ParseTarget(t.Target); err != nil {
			return nil, fmt.Errorf("%s: tunnel %q: %v", where(path, keyLine(src, name, "target")), name, err)
		}
		if len(t.Forwards) == 0 && t.Proxy == "" {
			return nil, fmt.Errorf("%s: tunnel %q has no forwards (for example forwards = [\"5432:localhost:5432\"]) "+
				"and no proxy (for example proxy = \"127.0.0.1:1080\")", where(path, line), name)
		}
		if t.Proxy != "" {
			pl, err := ParseProxyListen(t.Proxy)
			if err != nil {
				return nil, fmt.Errorf("%s: tunnel %q: %v", where(path, keyLine(src, name, "proxy")), name, err)
			}
			tn.Proxy = &pl
		}
		if t.Sessions != nil {
			n, err := ParseSessions(fmt.Sprint(t.Sessions))
			if err != nil {
				return nil, fmt.Errorf("%s: tunnel %q: %v", where(path, keyLine(src, name, "sessions")), name, err)
			}
			tn.Sessions = n
		}
		tn.Pacing = pacing{MaxPayload: t.MaxPayload, Window: t.Window}
		for _, k := range []struct {
			key string
			v   int
		}{{"max_payload", t.MaxPayload}, {"window", t.Window}} {
			if k.v < 0 {
				return nil, fmt.Errorf("%s: tunnel %q: %s %d: want a positive number of bytes", where(path, keyLine(src, name, k.key)), name, k.key, k.v)
			}
		}
		if err := tn.Pacing.check(); err != nil {
			return nil, fmt.Errorf("%s: tunnel %q: %v", where(path, line), name, err)
		}
		for i, s := range t.Forwards {
			fw, err := ParseForward(s)
			if err != nil {
				return nil, fmt.Errorf("%s: tunnel %q: forwards[%d]: %v", where(path, keyLine(src, name, "forwards")), name, i, err)
			}
			tn.Forwards = append(tn.Forwards, fw)
		}
		f.Tunnels = append(f.Tunnels, tn)
	}
	if err := checkDuplicateListeners(f.Tunnels); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

var decodeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var validName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Lookup returns the tunnel called name.
func (f *File) Lookup(name string) (Tunnel, bool) {
	for _, t := range f.Tunnels {
		if t.Name == name {
			return t, true
		}
	}
	return Tunnel{}, false
}

// checkDuplicateListeners rejects two forwards, in any tunnels, on the same local address: they could not
// both be up at once.
func checkDuplicateListeners(ts []Tunnel) error {
	seen := make(map[string]string)
	for _, t := range ts {
		if p := t.Proxy; p != nil && p.Port != 0 {
			key := "tcp " + p.Address()
			if prev, ok := seen[key]; ok {
				return fmt.Errorf("tunnels %q and %q both listen on %s", prev, t.Name, p.Address())
			}
			seen[key] = t.Name
		}
		for _, fw := range t.Forwards {
			if fw.Socket == "" && fw.Port == 0 {
				continue // any free port
			}
			key := fw.ListenNetwork() + " " + fw.ListenAddress()
			if prev, ok := seen[key]; ok {
				return fmt.Errorf("tunnels %q and %q both listen on %s", prev, t.Name, fw.ListenAddress())
			}
			seen[key] = t.Name
		}
	}
	return nil
}

func where(path string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", path, line)
	}
	return path
}

// tableLine returns the line of the [tunnels.NAME] header, or 0.
func tableLine(src, name string) int {
	for i, l := range strings.Split(src, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "[") || strings.HasPrefix(l, "[[") {
			continue
		}
		l = strings.Trim(l, "[] \t")
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = strings.TrimSpace(strings.TrimRight(l[:j], "] \t"))
		}
		parts := strings.SplitN(l, ".", 2)
		if len(parts) == 2 && strings.TrimSpace(parts[0]) == "tunnels" &&
			strings.Trim(strings.TrimSpace(parts[1]), `"'`) == name {
			return i + 1
		}
	}
	return 0
}

// keyLine returns the line of key inside the [tunnels.NAME] table, or the table's line when the key is not
// found on a line of its own.
func keyLine(src, name, key string) int {
	start := tableLine(src, name)
	if start == 0 {
		return 0
	}
	lines := strings.Split(src, "\n")
	for i := start; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "[") {
			break
		}
		if k, _, ok := strings.Cut(l, "="); ok && strings.Trim(strings.TrimSpace(k), `"'`) == key {
			return i + 1
		}
	}
	return start
}
