// Package realtest holds the end-to-end tests that drive our
// session-manager-plugin with programs nobody here wrote: Debian's awscli
// runs the plugin against the ssmtest emulator, and OpenSSH, redis-cli, psql
// and a shell in tmux use the sessions it opens; curl, ssh with OpenBSD
// netcat as ProxyCommand, and git go through `ssmwire proxy`. It has no code of its own,
// only tests; the harness they use is package e2e, and AWSCLI.md there says
// how awscli starts the plugin.
//
// Every test file carries the build tag e2e (see package e2e): run them with
// `go test -tags e2e ./internal/tools/e2e/realtest`, as scripts/test does.
//
// The tests never skip. A missing program fails its test with a message to
// run scripts/test, which installs everything.
package realtest
