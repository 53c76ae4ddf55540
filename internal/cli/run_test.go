package cli

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for the command `ssmwire run` starts (runHelper).
func TestMain(m *testing.M) {
	if mode := os.Getenv("SSMWIRE_TEST_HELPER"); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

// runHelper is the child of the run tests:
//
//	echo VAR CODE   dial $VAR, send "hi", print the answer, exit CODE
//	env             print the environment
//	kill            die of SIGTERM
//	wait            print "waiting", then exit 3 on SIGINT or 4 on SIGTERM
func runHelper(mode string) int {
	args := strings.Fields(mode)
	switch args[0] {
	case "echo":
		c, err := net.Dial("tcp", os.Getenv(args[1]))
		if err != nil {
			fmt.Println("dial:", err)
			return 99
		}
		defer c.Close()
		fmt.Fprintf(c, "hi\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		fmt.Print(line)
		code := 0
		fmt.Sscan(args[2], &code)
		return code
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return 0
	case "kill":
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Signal(syscall.SIGTERM)
		}
		time.Sleep(time.Minute)
		return 98
	case "wait":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		fmt.Println("waiting")
		select {
		case s := <-ch:
			if s == os.Interrupt {
				return 3
			}
			return 4
		case <-time.After(time.Minute):
			return 97
		}
	}
	return 96
}

// runConfig writes a configuration with tunnel "db-1" forwarding to an echo server and returns the echo
// server's port.
func runConfig(t *testing.T, h *harness, extra string) int {
	t.Helper()
	port := echoServer(t, "e")
	cfg := filepath.Join(h.home, ".config", "ssmwire", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfg, fmt.Sprintf("[tunnels.db-1]\ntarget = \"ssmtest\"\nforwards = [\"0:localhost:%d\"]\n%s", port, extra))
	return port
}

// runArgs is `ssmwire run TUNNELS -- <this test binary>` with the helper mode in the environment.
func (h *harness) runHelperEnv(mode string) {
	h.env = append(h.env, "SSMWIRE_TEST_HELPER="+mode)
}

func TestRunGivesTheCommandTheTunnelAndItsStatus(t *testing.T) {
	h := newHarness(t, nil)
	port := runConfig(t, h, "")
	h.runHelperEnv(fmt.Sprintf("echo SSMWIRE_DB_1_%d 7", port))
	r := h.run(t, nil, "run", "db-1", "--", os.Args[0])
	if r.code != 7 {
		t.Fatalf("exit %d, want the command's 7; stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r.stdout != "e:hi\n" {
		t.Fatalf("command printed %q, want the echo server's answer", r.stdout)
	}
	ids := h.srv.SessionIDs()
	if len(ids) != 1 {
		t.Fatalf("sessions %v, want 1", ids)
	}
	if !h.srv.Session(ids[0]).Ended {
		t.Fatal("the session still runs after ssmwire run returned")
	}
}

func TestRunEnvironment(t *testing.T) {
	h := newHarness(t, nil)
	sock := filepath.Join(h.home, "s.sock")
	port := runConfig(t, h, fmt.Sprintf(`
[tunnels.cache]
target = "ssmtest"
forwards = ["0:redis.internal:6379", "0:other.internal:6379", "%s:localhost:9090"]
`, sock))
	h.runHelperEnv("env")
	r := h.run(t, nil, "run", "db-1,cache", os.Args[0])
	if r.code != 0 {
		t.Fatalf("exit %d; stderr %q", r.code, r.stderr)
	}
	env := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "SSMWIRE_") && k != "SSMWIRE_TEST_HELPER" {
			env[k] = v
		}
	}
	db := fmt.Sprintf("SSMWIRE_DB_1_%d", port)
	host, p, err := net.SplitHostPort(env[db])
	if err != nil || host != "127.0.0.1" || env[db+"_HOST"] != host || env[db+"_PORT"] != p {
		t.Errorf("%s=%q, _HOST=%q, _PORT=%q", db, env[db], env[db+"_HOST"], env[db+"_PORT"])
	}
	if env[fmt.Sprintf("SSMWIRE_DB_1_LOCALHOST_%d", port)] != env[db] {
		t.Errorf("long name differs: %v", env)
	}
	// Two forwards of cache reach port 6379: only the names with the host are set.
	if _, ok := env["SSMWIRE_CACHE_6379"]; ok {
		t.Errorf("ambiguous SSMWIRE_CACHE_6379 set")
	}
	if env["SSMWIRE_CACHE_REDIS_INTERNAL_6379"] == "" || env["SSMWIRE_CACHE_OTHER_INTERNAL_6379"] == "" ||
		env["SSMWIRE_CACHE_REDIS_INTERNAL_6379"] == env["SSMWIRE_CACHE_OTHER_INTERNAL_6379"] {
		t.Errorf("cache forwards: %v", env)
	}
	if env["SSMWIRE_CACHE_9090"] != sock {
		t.Errorf("socket forward: %q", env["SSMWIRE_CACHE_9090"])
	}
	if _, ok := env["SSMWIRE_CACHE_9090_PORT"]; ok {
		t.Errorf("a unix socket got a _PORT variable")
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t.Logf("variables: %v", keys)
}

func TestRunSignalledCommand(t *testing.T) {
	h := newHarness(t, nil)
	runConfig(t, h, "")
	h.runHelperEnv("kill")
	if r := h.run(t, nil, "run", "db-1", os.Args[0]); r.code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d; stderr %q", r.code, 128+int(syscall.SIGTERM), r.stderr)
	}
}

func TestRunMissingCommand(t *testing.T) {
	h := newHarness(t, nil)
	runConfig(t, h, "")
	r := h.run(t, nil, "run", "db-1", "--", "/nonexistent/ssmwire-test-command")
	if r.code != 127 || !strings.Contains(r.stderr, "nonexistent") {
		t.Fatalf("exit %d, stderr %q; want 127 and the reason", r.code, r.stderr)
	}
	for _, id := range h.srv.SessionIDs() {
		if !h.srv.Session(id).Ended {
			t.Errorf("session %s still runs", id)
		}
	}
}

func TestRunUsage(t *testing.T) {
	h := newHarness(t, nil)
	runConfig(t, h, "")
	for _, args := range [][]string{{"run"}, {"run", "db-1"}, {"run", "nope", "true"}} {
		if r := h.run(t, nil, args...); r.code != ExitUsage {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// SIGINT and SIGTERM that reach ssmwire are passed on to the command, and the tunnels stay up until it exits.
func TestRunForwardsSignals(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sig         os.Signal // nil: ctx ends without a signal
		cancelFirst bool      // ctx ends before the signal reaches run's channel
		want        int
	}{
		{"SIGINT", os.Interrupt, false, 3},
		{"SIGTERM", syscall.SIGTERM, false, 4},
		{"SIGINT after ctx", os.Interrupt, true, 3},
		{"ctx only", nil, false, 4}, // the command gets SIGTERM
	} {
		t.Run(tc.name, func(t *testing.T) {
			chans := make(chan chan<- os.Signal, 1)
			signalNotify = func(c chan<- os.Signal, _ ...os.Signal) { chans <- c }
			t.Cleanup(func() { signalNotify = signal.Notify })
			h := newHarness(t, nil)
			runConfig(t, h, "")
			h.runHelperEnv("wait")
			r := h.start(t, nil, "run", "db-1", os.Args[0])
			r.stdout.WaitFor(t, "waiting")
			// The program's NotifyContext ends ctx and the signal arrives on run's channel too.
			c := <-chans
			if tc.cancelFirst {
				r.cancel()
			}
			if tc.sig != nil {
				c <- tc.sig
			}
			r.cancel()
			select {
			case code := <-r.done:
				r.done <- code
				if code != tc.want {
					t.Fatalf("exit %d, want the command's %d; stderr %q", code, tc.want, r.stderr.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatal("run did not end after the command got the signal")
			}
		})
	}
}

func TestUpWait(t *testing.T) {
	h := newHarness(t, nil)
	runConfig(t, h, "")
	ev, _, stop := h.startJSON(t, "up", "--wait", "db-1")
	up := ev.next(t, evTunnelUp)
	ready := ev.next(t, evReady)
	if !slices.Equal(ready.Listeners, []string{up.Listen}) {
		t.Fatalf("ready listeners %v, want [%s]", ready.Listeners, up.Listen)
	}
	if got := roundTrip(t, "tcp", up.Listen, "x"); got != "e:x" {
		t.Fatalf("through the tunnel: %q", got)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	r := h.start(t, nil, "--quiet", "up", "--wait", "db-1")
	r.stdout.WaitFor(t, "ready: listening on 127.0.0.1:")
	if code := r.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
