//go:build e2e

package realtest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssmwire/ssmwire/internal/tools/e2e"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestBashCompletion loads `ssmwire completion bash` into a real bash, with and without the bash-completion
// package's helpers, and asks it for completions the way bash does on TAB: COMP_WORDS, COMP_CWORD,
// COMP_LINE and COMP_POINT set, then the function `complete -p ssmwire` names. Targets come from the cache
// `ssmwire targets` wrote from the emulator; tunnel names from the configuration file. No completion may
// reach AWS: the endpoint the environment names counts connections.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	bash := e2e.RequireProgram(t, "bash")
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatalf("%s: %v: run scripts/test to install bash-completion", bashCompletion, err)
	}
	ssmwireBin := e2e.BuildBinary(t, "./cmd/ssmwire")

	home := t.TempDir()
	bin := filepath.Join(home, "bin")
	if err := os.MkdirAll(filepath.Join(home, ".config", "ssmwire"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(ssmwireBin, filepath.Join(bin, "ssmwire")); err != nil {
		t.Fatal(err)
	}
	config := "[tunnels.staging-db]\ntarget = \"db server\"\nforwards = [\"15432:localhost:5432\"]\n" +
		"[tunnels.metrics]\ntarget = \"web\"\nforwards = [\"9090:localhost:9090\"]\n"
	if err := os.WriteFile(filepath.Join(home, ".config", "ssmwire", "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".aws", "config"), []byte("[default]\n[profile prod]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "PATH=" + bin + ":/usr/bin:/bin", "LC_ALL=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + e2e.FakeAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + e2e.FakeSecretAccessKey,
		"AWS_REGION=" + e2e.FakeRegion, "AWS_EC2_METADATA_DISABLED=true", "AWS_CA_BUNDLE=", "SSL_CERT_FILE="}

	// `ssmwire targets` fills the cache from the emulator.
	srv := ssmtest.NewTLSServer(&ssmtest.Options{Instances: []ssmtest.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web"},
		{ID: "mi-0bbbbbbbbbbbbbbb1", Name: "db server"},
	}})
	t.Cleanup(srv.Close)
	cmd := exec.Command(ssmwireBin, "--endpoint-url", srv.URL, "targets")
	cmd.Env = append(env[:len(env):len(env)], "AWS_CA_BUNDLE="+srv.CAFile()) // the last value wins
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssmwire targets: %v\n%s", err, out)
	}

	// From here on, an AWS call would go to this listener.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var calls atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			calls.Add(1)
			c.Close()
		}
	}()
	env = append(env, "AWS_ENDPOINT_URL=http://"+l.Addr().String())

	for _, tc := range []struct {
		words []string // COMP_WORDS as bash splits the line (at COMP_WORDBREAKS: = and :)
		line  string
		want  []string
	}{
		{[]string{"ssmwire", ""}, "ssmwire ", commandsFromHelp(t, ssmwireBin)},
		{[]string{"ssmwire", "ss"}, "ssmwire ss", []string{"ssh", "ssh-config", "ssh-proxy"}},
		{[]string{"ssmwire", "ssh", "ec2-user@w"}, "ssmwire ssh ec2-user@w", []string{"ec2-user@web"}},
		{[]string{"ssmwire", "shell", ""}, "ssmwire shell ", []string{`db\ server`, instanceID, "i-0aaaaaaaaaaaaaaa1", "mi-0bbbbbbbbbbbbbbb1", ssmtest.DefaultInstanceName, "web"}},
		{[]string{"ssmwire", "shell", "d"}, "ssmwire shell d", []string{`db\ server`}},
		{[]string{"ssmwire", "shell", `db\ s`}, `ssmwire shell db\ s`, []string{`db\ server`}},
		{[]string{"ssmwire", "shell", `'db s`}, `ssmwire shell 'db s`, []string{`db\ server`}},
		{[]string{"ssmwire", "--region", "us-east-1", "forward", "i-"}, "ssmwire --region us-east-1 forward i-", []string{instanceID, "i-0aaaaaaaaaaaaaaa1"}},
		{[]string{"ssmwire", "up", ""}, "ssmwire up ", []string{"metrics", "staging-db"}},
		{[]string{"ssmwire", "up", "--wa"}, "ssmwire up --wa", []string{"--wait"}},
		{[]string{"ssmwire", "run", "metrics,"}, "ssmwire run metrics,", []string{"metrics,metrics", "metrics,staging-db"}},
		{[]string{"ssmwire", "completion", "f"}, "ssmwire completion f", []string{"fish"}},
		{[]string{"ssmwire", "--profile", "p"}, "ssmwire --profile p", []string{"prod"}},
	} {
		for _, helpers := range []bool{false, true} {
			got := bashComplete(t, bash, env, helpers, tc.words, tc.line)
			if !slices.Equal(got, tc.want) {
				t.Errorf("bash-completion loaded %v: %q: COMPREPLY %q, want %q", helpers, tc.line, got, tc.want)
			}
		}
	}
	// bash splits "--profile=p" into three words; with bash-completion the script rejoins them and
	// replaces only the part after '='.
	if got := bashComplete(t, bash, env, true, []string{"ssmwire", "up", "--profile", "=", "p"}, "ssmwire up --profile=p"); !slices.Equal(got, []string{"prod"}) {
		t.Errorf("--profile=p: COMPREPLY %q, want [prod]", got)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("completion made %d connections to the AWS endpoint", n)
	}
}

// commandsFromHelp lists the commands `ssmwire help` shows (the indented lines under "Commands:"), with
// help and version, sorted.
func commandsFromHelp(t *testing.T, ssmwireBin string) []string {
	t.Helper()
	out, err := exec.Command(ssmwireBin, "help").Output()
	if err != nil {
		t.Fatalf("ssmwire help: %v", err)
	}
	names := []string{"help", "version"}
	in := false
	for line := range strings.Lines(string(out)) {
		switch {
		case strings.TrimSpace(line) == "Commands:":
			in = true
		case in && strings.HasPrefix(line, "  "):
			names = append(names, strings.Fields(line)[0])
		default:
			in = false
		}
	}
	if len(names) < 10 {
		t.Fatalf("ssmwire help lists %d commands:\n%s", len(names)-2, out)
	}
	slices.Sort(names)
	return names
}

// bashComplete runs one completion in a fresh bash and returns COMPREPLY.
func bashComplete(t *testing.T, bash string, env []string, helpers bool, words []string, line string) []string {
	t.Helper()
	var script strings.Builder
	if helpers {
		script.WriteString("source /usr/share/bash-completion/bash_completion\n")
	}
	script.WriteString(`source <(ssmwire completion bash)
spec=$(complete -p ssmwire) || exit 3
[[ $spec == *"-F _ssmwire ssmwire" ]] || { echo "complete -p ssmwire: $spec" >&2; exit 4; }
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=(`)
	for _, w := range words {
		script.WriteString(e2e.ShellQuote(w) + " ")
	}
	script.WriteString(")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\nCOMP_LINE=" + e2e.ShellQuote(line) +
		"\nCOMP_POINT=${#COMP_LINE}\nCOMPREPLY=()\n\"$fn\" ssmwire \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n" +
		"printf '%s\\n' \"${COMPREPLY[@]}\"\n")
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script.String())
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, stderr.String())
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) == 1 && got[0] == "" {
		return nil
	}
	slices.Sort(got)
	return got
}
