// Package version holds the ssmwire client version.
//
// A release build stamps both variables with the linker (scripts/release, internal/tools/release):
//
//	go build -ldflags "-X github.com/ssmwire/ssmwire/internal/version.Version=1.3.0.12 \
//	    -X github.com/ssmwire/ssmwire/internal/version.Describe=v1.3.0-12-gdeadbee"
//
// A plain `go build` or `go install` keeps the defaults below.
package version

// Version is printed by `session-manager-plugin --version` and reported to the agent as ClientVersion in the
// handshake response. It must stay four numeric parts and greater than 1.2.497.0 (the AWS CLI runs
// `session-manager-plugin --version`, accepts only digits and dots, and then passes the StartSession response
// through an environment variable) and greater than 1.2.331.0 (agents then turn smux keepalive off, matching
// our side); see docs/protocol.md §7.1 and §9. A release derives it from `git describe`.
var Version = "1.3.0.0"

// Describe is the output of `git describe --tags --always --dirty` for the commit a release was built from,
// "" in a build that was not stamped. `ssmwire --version` prints it next to [Version].
var Describe = ""

// String is the version as `ssmwire --version` prints it: Version, followed by Describe in parentheses
// when the build was stamped.
func String() string {
	if Describe == "" {
		return Version
	}
	return Version + " (" + Describe + ")"
}
