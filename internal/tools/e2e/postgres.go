//go:build unix

package e2e

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
)

// StartPostgres runs a PostgreSQL server on 127.0.0.1 at a random port, in a
// cluster created by initdb in a temporary directory, with trust
// authentication and its unix socket in that directory. It returns the port
// and the psql arguments other than host and port (superuser postgres,
// database postgres, no password prompt, no ~/.psqlrc):
//
//	psql := exec.Command("psql", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
//
// PostgreSQL refuses to run as root, so when the test runs as root the
// cluster belongs to the "postgres" user that Debian's package creates, and
// initdb and postgres run under its uid. The server is stopped when the test
// ends (fast shutdown).
func StartPostgres(t testing.TB) (port int, connArgs []string) {
	t.Helper()
	initdb := requireFile(t, "initdb", postgresBin("initdb")...)
	postgres := requireFile(t, "postgres", postgresBin("postgres")...)
	isReady := requireFile(t, "pg_isready", postgresBin("pg_isready")...)
	RequireProgram(t, "psql")

	// Not t.TempDir: as root the cluster's owner must be able to reach it,
	// and t.TempDir's parent is private to root.
	dir, err := os.MkdirTemp("", "ssmwire-e2e-pg-")
	if err != nil {
		t.Fatalf("e2e: postgres: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("e2e: running as root needs the postgres user (%v): run scripts/test to install postgresql", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		if err := os.Chown(dir, int(uid), int(gid)); err != nil {
			t.Fatalf("e2e: postgres: %v", err)
		}
	}
	asOwner := func(cmd *exec.Cmd) *exec.Cmd {
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+dir)
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return cmd
	}

	data := filepath.Join(dir, "data")
	out, err := asOwner(exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")).CombinedOutput()
	if err != nil {
		t.Fatalf("e2e: initdb: %v\n%s", err, out)
	}

	port = startServer(t, "postgres", func(port int) error {
		cmd := asOwner(exec.Command(postgres, "-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir,
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=20",
			"-c", "shared_buffers=16MB",
		))
		// SIGINT is PostgreSQL's fast shutdown.
		p, err := startProcess(t, "postgres", cmd, syscall.SIGINT)
		if err != nil {
			return err
		}
		return p.waitReady(func() bool {
			return exec.Command(isReady, "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres").Run() == nil
		})
	})
	return port, []string{"-U", "postgres", "-d", "postgres", "-w", "-X", "-v", "ON_ERROR_STOP=1"}
}

// postgresBin lists where Debian puts a PostgreSQL server program, newest
// major version first.
func postgresBin(name string) []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Join(d, name))
	}
	return out
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}
