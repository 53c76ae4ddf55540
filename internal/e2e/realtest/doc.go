// Package realtest holds the end-to-end tests that drive our
// session-manager-plugin with programs nobody here wrote: Debian's awscli
// runs the plugin against the ssmtest emulator, and OpenSSH, redis-cli, psql
// and a shell in tmux use the sessions it opens. It has no code of its own,
// only tests; the harness they use is package e2e, and AWSCLI.md there says
// how awscli starts the plugin.
//
// The tests never skip. A missing program fails its test with a message to
// run scripts/test, which installs everything.
package realtest
