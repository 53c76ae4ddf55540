// Package version holds the ssmwire client version.
package version

// Version is printed by `session-manager-plugin --version` and reported to the agent as ClientVersion in the
// handshake response. It must stay four-part and greater than 1.2.497.0 (the AWS CLI then passes the
// StartSession response through an environment variable) and greater than 1.2.331.0 (agents then turn smux
// keepalive off, matching our side); see docs/protocol.md §7.1 and §9.
const Version = "1.3.0.0"
