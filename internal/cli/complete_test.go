package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
)

// complete runs `ssmwire __complete words...` with env and returns the candidates.
func completeWith(t *testing.T, env []string, words ...string) []string {
	t.Helper()
	var out, errb testkit.Buffer
	code := Main(context.Background(), append([]string{completeCommand}, words...), env, strings.NewReader(""), &out, &errb)
	if code != 0 || errb.String() != "" {
		t.Fatalf("__complete %q: code %d, stderr %q", words, code, errb.String())
	}
	if out.String() == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// completionHome is a HOME with a configuration file of two tunnels, a targets cache and an AWS config.
func completionHome(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	writeFileAll(t, filepath.Join(home, ".config", "ssmwire", "config.toml"), sampleConfig)
	writeFileAll(t, filepath.Join(home, ".aws", "config"), "[default]\nregion = us-east-1\n[profile prod]\nregion = eu-west-1\n[sso-session corp]\n")
	writeFileAll(t, filepath.Join(home, ".aws", "credentials"), "[ci]\naws_access_key_id = AKID\n")
	env := []string{"HOME=" + home}
	if err := writeTargets(targetsCachePath(Env(env)), []ssmwire.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web"}, {ID: "i-0aaaaaaaaaaaaaaa2", Name: "web"},
		{ID: "mi-0bbbbbbbbbbbbbbb1", Name: "db server"}, {ID: "i-0ccccccccccccccc1"},
	}); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestComplete(t *testing.T) {
	env := completionHome(t)
	allCommands := append(commandNames(), "help", "version")
	slices.Sort(allCommands)
	targets := []string{"db server", "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2", "i-0ccccccccccccccc1", "mi-0bbbbbbbbbbbbbbb1", "web"}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{""}, allCommands},
		{[]string{"sh"}, []string{"shell"}},
		{[]string{"ss"}, []string{"ssh", "ssh-config", "ssh-proxy"}},
		{[]string{"ssh", "w"}, []string{"web"}},
		{[]string{"ssh", "ec2-user@w"}, []string{"ec2-user@web"}},
		{[]string{"ssh", "web", ""}, nil},
		{[]string{"ssh-config", ""}, nil},
		{[]string{"--profile", "prod", "sh"}, []string{"shell"}},
		{[]string{"--json", "comp"}, []string{"completion"}},
		{[]string{"help", "f"}, []string{"forward"}},
		{[]string{"help", "forward", ""}, nil},
		{[]string{"completion", ""}, []string{"bash", "fish", "powershell", "zsh"}},
		{[]string{"completion", "bash", ""}, nil},
		{[]string{"shell", ""}, targets},
		{[]string{"shell", "i-0a"}, []string{"i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"}},
		{[]string{"shell", "--region", "x", "w"}, []string{"web"}},
		{[]string{"shell", "web", ""}, nil},
		{[]string{"exec", "web", ""}, nil},
		{[]string{"exec", "web", "--", "l"}, nil},
		{[]string{"forward", "db", "8080:localhost:80", ""}, nil},
		{[]string{"ssh-proxy", "m"}, []string{"mi-0bbbbbbbbbbbbbbb1"}},
		{[]string{"up", ""}, []string{"metrics", "staging-db"}},
		{[]string{"up", "metrics", "s"}, []string{"staging-db"}},
		{[]string{"run", "m"}, []string{"metrics"}},
		{[]string{"run", "metrics,s"}, []string{"metrics,staging-db"}},
		{[]string{"run", "metrics", "s"}, nil},
		{[]string{"up", "--profile", ""}, []string{"ci", "default", "prod"}},
		{[]string{"up", "--profile=p"}, []string{"--profile=prod"}},
		{[]string{"--profile", "d"}, []string{"default"}},
		{[]string{"up", "--config", ""}, nil},
		{[]string{"up", "--wa"}, []string{"--wait"}},
		{[]string{"shell", "--wa"}, nil},
		{[]string{"--ver"}, []string{"--version"}},
		{[]string{"targets", "--j"}, []string{"--json"}},
		{[]string{"nosuch", ""}, nil},
	} {
		if got := completeWith(t, env, tc.words...); !slices.Equal(got, tc.want) {
			t.Errorf("__complete %q = %q, want %q", tc.words, got, tc.want)
		}
	}
}

// TestCompleteFlagsFromTable: every flag of every command is offered after it, from the command table.
func TestSynopsisKinds(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"TARGET [--] COMMAND...", "TARGET COMMAND..."},
		{"[--send-key[=PUBKEY] --user USER] TARGET PORT", "TARGET PORT"},
		{"[USER@]TARGET [SSH-ARGS...]", "[USER@]TARGET [SSH-ARGS...]"},
		{"TUNNEL[,TUNNEL...] [--] COMMAND [ARGS...]", "TUNNEL[,TUNNEL...] COMMAND [ARGS...]"},
		{"", ""},
	} {
		if got := strings.Join(synopsisKinds(tc.args), " "); got != tc.want {
			t.Errorf("synopsisKinds(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestCompleteFlagsFromTable(t *testing.T) {
	env := completionHome(t)
	for _, c := range commands() {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		var g globals
		g.register(fs)
		var o cmdOptions
		if c.flags != nil {
			c.flags(fs, &o)
		}
		got := completeWith(t, env, c.name, "--")
		fs.VisitAll(func(f *flag.Flag) {
			if !slices.Contains(got, "--"+f.Name) {
				t.Errorf("%s: --%s not offered: %q", c.name, f.Name, got)
			}
		})
		if len(got) != countFlags(fs)+1 { // +1: --help
			t.Errorf("%s: offered %d flags, want %d: %q", c.name, len(got), countFlags(fs)+1, got)
		}
	}
}

func countFlags(fs *flag.FlagSet) int {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

// TestCompleteConfigFlag: tunnel names come from the file --config names, before or after the command.
func TestCompleteConfigFlag(t *testing.T) {
	env := completionHome(t)
	other := filepath.Join(t.TempDir(), "other.toml")
	writeFileAll(t, other, "[tunnels.elsewhere]\ntarget = \"web\"\nforwards = [\"1:localhost:2\"]\n")
	for _, words := range [][]string{
		{"--config", other, "up", ""},
		{"up", "--config=" + other, ""},
		{"--config=" + other, "run", "e"},
	} {
		if got := completeWith(t, env, words...); !slices.Equal(got, []string{"elsewhere"}) {
			t.Errorf("__complete %q = %q, want [elsewhere]", words, got)
		}
	}
	// A file that does not parse offers nothing and prints nothing: TAB must stay quiet.
	writeFileAll(t, other, "[tunnels.a\n")
	if got := completeWith(t, env, "--config", other, "up", ""); got != nil {
		t.Errorf("broken config: %q", got)
	}
}

// TestCompleteNoFiles: with no cache, configuration or AWS files there is nothing to offer, quietly.
func TestCompleteNoFiles(t *testing.T) {
	env := []string{"HOME=" + t.TempDir()}
	for _, words := range [][]string{{"shell", ""}, {"up", ""}, {"--profile", ""}} {
		if got := completeWith(t, env, words...); got != nil {
			t.Errorf("__complete %q = %q, want nothing", words, got)
		}
	}
}

// TestTargetsWritesCache: `ssmwire targets` saves what it listed for completion, replacing the last list.
func TestTargetsWritesCache(t *testing.T) {
	h := newHarness(t, namedInstances())
	cache := filepath.Join(h.home, ".cache", "ssmwire", "targets")
	writeFileAll(t, cache, "i-0stale\tstale\n")
	if r := h.run(t, nil, "targets", "--quiet"); r.code != 0 {
		t.Fatalf("targets: code %d stderr %q", r.code, r.stderr)
	}
	got := readTargets(cache)
	slices.Sort(got)
	want := []string{"db", "i-0123456789abcdef0", "i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2", "mi-0bbbbbbbbbbbbbbb1", "ssmtest", "web", "web"}
	if !slices.Equal(got, want) {
		t.Errorf("cache holds %q, want %q", got, want)
	}
	// XDG_CACHE_HOME moves it, as it does for other programs.
	xdg := t.TempDir()
	h.env = append(h.env, "XDG_CACHE_HOME="+xdg)
	if r := h.run(t, nil, "targets", "--quiet"); r.code != 0 {
		t.Fatalf("targets: code %d stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(xdg, "ssmwire", "targets")); err != nil {
		t.Errorf("XDG_CACHE_HOME: %v", err)
	}
}

// TestTargetsCacheUnwritable: a cache that cannot be written is reported, and the listing still succeeds.
func TestTargetsCacheUnwritable(t *testing.T) {
	h := newHarness(t, namedInstances())
	writeFileAll(t, filepath.Join(h.home, ".cache", "ssmwire"), "a file where the directory should be")
	r := h.run(t, nil, "targets")
	if r.code != 0 || !strings.Contains(r.stdout, "i-0aaaaaaaaaaaaaaa1") {
		t.Fatalf("targets: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "targets cache:") {
		t.Errorf("stderr %q, want the cache error", r.stderr)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, tc := range []struct {
		shell string
		want  []string
	}{
		{"bash", []string{"complete -o default -F _ssmwire ssmwire", `ssmwire __complete "${args[@]}"`}},
		{"zsh", []string{"#compdef ssmwire", "compdef _ssmwire ssmwire", `ssmwire __complete "${(@Q)words[2,CURRENT]}"`}},
		{"fish", []string{"complete -c ssmwire -f -a '(__ssmwire_complete)'", "ssmwire __complete $tokens (commandline -ct)"}},
		{"powershell", []string{"Register-ArgumentCompleter -Native -CommandName ssmwire", "& ssmwire __complete @words"}},
	} {
		h := &harness{env: []string{"HOME=" + t.TempDir()}}
		var out, errb testkit.Buffer
		code := Main(context.Background(), []string{"completion", tc.shell}, h.env, strings.NewReader(""), &out, &errb)
		if code != 0 || errb.String() != "" {
			t.Fatalf("completion %s: code %d stderr %q", tc.shell, code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("completion %s: no %q in\n%s", tc.shell, w, out.String())
			}
		}
		// The scripts' code (comments aside) names no command or flag: those come from __complete.
		var body strings.Builder
		for line := range strings.Lines(out.String()) {
			if !strings.HasPrefix(strings.TrimSpace(line), "#") {
				body.WriteString(line)
			}
		}
		for _, c := range commands() {
			if strings.Contains(body.String(), " "+c.name+" ") || strings.Contains(body.String(), "--"+c.name) {
				t.Errorf("completion %s names the command %s", tc.shell, c.name)
			}
		}
	}
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		var out, errb testkit.Buffer
		if code := Main(context.Background(), args, nil, strings.NewReader(""), &out, &errb); code != ExitUsage || out.String() != "" {
			t.Errorf("%q: code %d stdout %q, want %d and nothing", args, code, out.String(), ExitUsage)
		}
	}
}

// writeFileAll is writeFile creating the parent directories.
func writeFileAll(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, content)
}
