package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleConfig = `# two tunnels
[tunnels.staging-db]
profile  = "staging"
region   = "eu-west-1"
target   = "bastion"
forwards = ["5432:localhost:5432", "6379:redis.internal:6379"]

[tunnels.metrics]
target   = "i-0123456789abcdef0"
forwards = ["/tmp/ssmwire-metrics.sock:localhost:9090"]
`

func TestParseFile(t *testing.T) {
	f, err := ParseFile("c.toml", []byte(sampleConfig))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tunnels) != 2 || f.Tunnels[0].Name != "staging-db" || f.Tunnels[1].Name != "metrics" {
		t.Fatalf("tunnels %+v", f.Tunnels)
	}
	db := f.Tunnels[0]
	if db.Profile != "staging" || db.Region != "eu-west-1" || db.Target != "bastion" || db.Line != 2 || len(db.Forwards) != 2 {
		t.Errorf("staging-db %+v", db)
	}
	if fw := db.Forwards[1]; fw.Host != "redis.internal" || fw.HostPort != 6379 || fw.Port != 6379 || fw.ToTarget() {
		t.Errorf("forward %+v", fw)
	}
	if fw := f.Tunnels[1].Forwards[0]; fw.Socket != "/tmp/ssmwire-metrics.sock" || fw.ListenNetwork() != "unix" {
		t.Errorf("socket forward %+v", fw)
	}
}

func TestParseFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"syntax", "[tunnels.a]\ntarget = \"x\"\nforwards = [\"1:localhost:2\"\n", "c.toml:3: tunnels.a.forwards: expected a comma"},
		{"unknown key", "[tunnels.a]\ntarget = \"x\"\nforward = [\"1:localhost:2\"]\n", `c.toml:3: unknown key "tunnels.a.forward"`},
		{"no target", "[tunnels.a]\n\nforwards = [\"1:localhost:2\"]\n", `c.toml:1: tunnel "a" has no target`},
		{"no forwards", "\n[tunnels.a]\ntarget = \"web\"\n", `c.toml:2: tunnel "a" has no forwards`},
		{"bad forward", "[tunnels.a]\ntarget = \"web\"\nforwards = [\"1:localhost:2\", \"nope\"]\n", `c.toml:3: tunnel "a": forwards[1]: forward "nope"`},
		{"bad port", "[tunnels.a]\ntarget = \"web\"\nforwards = [\"99999:localhost:2\"]\n", `local port: "99999" is not a port number`},
		{"wrong type", "[tunnels.a]\ntarget = 5\nforwards = [\"1:localhost:2\"]\n", "c.toml:2: tunnels.a.target: incompatible types"},
		{"same port", "[tunnels.a]\ntarget = \"web\"\nforwards = [\"1:localhost:2\"]\n[tunnels.b]\ntarget = \"web\"\nforwards = [\"1:db:2\"]\n",
			`tunnels "a" and "b" both listen on 127.0.0.1:1`},
		{"bad ecs target", "[tunnels.a]\ntarget = \"ecs:x\"\nforwards = [\"1:localhost:2\"]\n", `c.toml:2: tunnel "a": target "ecs:x"`},
	} {
		_, err := ParseFile("c.toml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestParseForward(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		listen string
		remote string
		err    bool
	}{
		{spec: "5432:localhost:5432", listen: "127.0.0.1:5432", remote: "localhost:5432"},
		{spec: "0.0.0.0:8080:web.internal:80", listen: "0.0.0.0:8080", remote: "web.internal:80"},
		{spec: "*:8080:web:80", listen: "0.0.0.0:8080", remote: "web:80"},
		{spec: "localhost:0:db:5432", listen: "127.0.0.1:0", remote: "db:5432"},
		{spec: "[::1]:8080:[fd00::5]:80", listen: "[::1]:8080", remote: "[fd00::5]:80"},
		{spec: "./db.sock:localhost:5432", listen: "./db.sock", remote: "localhost:5432"},
		{spec: "5432:localhost", err: true},
		{spec: "a:localhost:1", err: true},
		{spec: "1:localhost:0", err: true},
		{spec: "1::5", err: true},
		{spec: "[::1:8080:h:80", err: true},
		{spec: "1:2:3:4:5", err: true},
	} {
		f, err := ParseForward(tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("ParseForward(%q): %v", tc.spec, err)
			continue
		}
		if err == nil && (f.ListenAddress() != tc.listen || f.RemoteAddress() != tc.remote) {
			t.Errorf("ParseForward(%q): listen %s remote %s", tc.spec, f.ListenAddress(), f.RemoteAddress())
		}
	}
}

func TestList(t *testing.T) {
	h := newHarness(t, nil)
	path := filepath.Join(h.home, "tunnels.toml")
	writeFile(t, path, sampleConfig)
	r := h.run(t, nil, "list", "--config", path)
	if r.code != 0 {
		t.Fatalf("code %d stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", r.stdout)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "staging-db bastion staging eu-west-1 5432:localhost:5432 6379:redis.internal:6379" {
		t.Errorf("line %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "metrics i-0123456789abcdef0 - - /tmp/ssmwire-metrics.sock:localhost:9090" {
		t.Errorf("line %q", lines[2])
	}

	r = h.run(t, nil, "--json", "list", "--config", path)
	var first struct {
		Name     string   `json:"name"`
		Forwards []string `json:"forwards"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &first); err != nil || first.Name != "staging-db" || len(first.Forwards) != 2 {
		t.Errorf("json %q: %v", r.stdout, err)
	}

	// The default path comes from XDG_CONFIG_HOME.
	xdg := t.TempDir()
	writeFile(t, filepath.Join(mkdir(t, filepath.Join(xdg, "ssmwire")), "config.toml"), sampleConfig)
	h.env = append(h.env, "XDG_CONFIG_HOME="+xdg)
	if r := h.run(t, nil, "list"); r.code != 0 || !strings.Contains(r.stdout, "staging-db") {
		t.Errorf("default path: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}

	writeFile(t, path, "[tunnels.a]\ntarget = \"web\"\n")
	if r := h.run(t, nil, "up", "--config", path); r.code != ExitUsage || !strings.Contains(r.stderr, "tunnels.toml:1: tunnel \"a\" has no forwards") {
		t.Errorf("invalid file: code %d stderr %q", r.code, r.stderr)
	}
	if r := h.run(t, nil, "up", "--config", filepath.Join(h.home, "none.toml")); r.code != ExitError || !strings.Contains(r.stderr, "no configuration file") {
		t.Errorf("missing file: code %d stderr %q", r.code, r.stderr)
	}
}

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
