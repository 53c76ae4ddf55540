// Package e2e is the harness for end-to-end tests that drive real programs
// nobody here wrote: Debian's awscli, OpenSSH ssh/scp/sshd, redis-server and
// redis-cli, PostgreSQL and psql, and tmux. It is internal so that users of the
// module cannot import it.
//
// Every helper takes a testing.TB, registers its teardown with t.Cleanup, and
// binds 127.0.0.1 only. Servers listen on random ports picked at start, run
// from a private temporary directory and are stopped when the test ends:
//
//	port, user, sshArgs := e2e.StartSSHD(t)   // real sshd, pubkey only
//	rport := e2e.StartRedis(t)                 // redis-server, no persistence
//	pport, psqlArgs := e2e.StartPostgres(t)    // initdb + postgres, trust auth
//	tm := e2e.StartTmux(t, e2e.TmuxOptions{Command: "sh"})
//	tm.SendKeys("echo hi", "Enter")
//	tm.WaitFor("hi", 5*time.Second)
//
// The tests of this package and of realtest carry the build tag e2e: plain
// `go test ./...` leaves them out, so that it passes on a machine with nothing
// but Go; scripts/test (and so CI) always runs `go test -tags e2e ./...`. By hand:
//
//	go test -tags e2e ./internal/tools/e2e/...
//
// "e2e" in this repository means exactly these tests: ours against real
// programs. Tests that only use in-process pieces (ssmtest, pipes) are not e2e.
//
// Programs are never optional. RequireProgram fails the test (it does not
// skip it) when a program is missing, and says to run scripts/test, which
// installs them with apt-get.
//
// The programs under test are built from this module with BuildBinary, once
// per test binary; a package that uses it should have its TestMain run the
// tests through Run, and exit with the status Run returns, so the built
// binaries are removed at exit.
//
// AWSCLI runs the real `aws` command with fake static credentials, an empty
// HOME, --endpoint-url pointing at the emulator, and a PATH whose first entry
// holds our session-manager-plugin. How that awscli version starts the plugin
// is written down in AWSCLI.md next to this file.
//
// Helpers that call t.Fatal (all of them, on failure) must be called from the
// test goroutine.
// The harness runs real programs (sshd, PostgreSQL, Redis, tmux, the AWS CLI) and builds on Unix only.
package e2e
