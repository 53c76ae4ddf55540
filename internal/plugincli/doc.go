// Package plugincli is the session-manager-plugin program: the process the AWS CLI starts for
// `aws ssm start-session` and `aws ecs execute-command` (docs/protocol.md §6.6, §7). cmd/session-manager-plugin
// only calls [Main] and exits with its result.
//
// # Command line
//
//	session-manager-plugin                                   installed-successfully message, exit 0
//	session-manager-plugin --version                         version.Version, exit 0
//	session-manager-plugin <response> <region> StartSession [<profile> [<parameters> [<endpoint>]]]
//
// <response> is the StartSession response JSON (SessionId, StreamUrl, TokenValue), or the name of an
// environment variable starting with AWS_SSM_START_SESSION_RESPONSE that holds it; the variable is read, then
// unset. `aws ecs execute-command` passes its session object with lower-camel keys (sessionId, streamUrl,
// tokenValue), a Target "ecs:…" and the ECS endpoint as <endpoint>: that endpoint is not used for SSM calls,
// which then go to the region's default SSM endpoint (AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL are honoured
// by the SDK). The three-argument legacy form refuses KMS encryption with the official plugin's message.
// Other argument counts print the official "Unknown operation" text; an operation other than StartSession
// prints "Invalid Operation" (with a newline, which the official plugin omits). Malformed input is reported on
// stderr as "Cannot perform start session: …" and exits 1. The token is never printed or logged.
//
// # AWS clients
//
// The session is attached with ssmwire.Client.Attach; the library resumes it and ends it. Its SSM client (for
// resuming and ending) and KMS client (GenerateDataKey) come from config.LoadDefaultConfig with the region and
// (when not empty) the profile, and a Nop logger, so that the SDK never writes to the terminal; the SSM
// client's BaseEndpoint is <endpoint>. They are built on first use (ssmwire.LazySSM, LazyKMS), so a missing
// profile matters only when a call is made. The legacy form passes a KMS client that refuses with the
// official plugin's message. First-run failures (no credentials, expired SSO login, access denied,
// throttling) are printed as the library's one line of advice (ssmwire.APIError.Advice).
//
// The same credentials (the profile's, else the default chain; retrieved at each dial) SigV4-sign the data
// channel's websocket upgrade for the region, as AWS's plugin does since 1.2.764.0 (docs/protocol.md §3.5). A
// stream URL whose host is neither a Session Manager endpoint nor the host of <endpoint>,
// AWS_ENDPOINT_URL_SSM or AWS_ENDPOINT_URL is refused before anything is sent to it ("Cannot perform start
// session: … untrusted stream URL …", exit 1), as AWS's plugin does since 1.2.889.0.
//
// # Output
//
// Status lines go to stdout byte for byte as the official plugin prints them ("\nStarting session with
// SessionId: …\n", the CustomerMessage, the port lines, "\n\nExiting session with sessionId: ….\n\n" or
// "\n\nSessionId: … : <output>\n\n"); errors go to stderr (the official plugin prints its "Cannot perform
// start session" line on stdout, which in ssh ProxyCommand use lands in the SSH stream).
//
// # Exit status
//
// 0 after a clean end; the remote command's exit code when the agent reported one (NonInteractiveCommands
// with separate output streams, e.g. SSMWire-RunCommand); 1 for errors, refused command lines, and a
// channel_closed carrying an error message. The official plugin always exits 0.
//
// Beware (internal/tools/e2e/AWSCLI.md): the AWS CLI turns any non-zero status into its own 255, so the remote code
// does not survive `aws ssm start-session`; and a CLI that passes the response inline in argv (Debian's
// awscli 2.9.19, and `aws ecs execute-command` always) then prints the plugin's argv, token included, to
// stderr. The token is for a session that has usually ended by then, but not after a local failure.
//
// # Sessions
//
// Shell sessions (ssmwire.Session.Shell with shell.Config.Terminal): package shell owns the terminal on
// stdin: full raw mode restored on every way out, sizes at the start and on SIGWINCH (polled on Windows),
// the escapes "~." (end the session), "~?" and "~~" after a newline. Without a terminal, SIGINT, SIGQUIT and
// SIGTSTP are sent as 0x03, 0x1C and 0x1A as the official plugin does; SIGTERM and SIGHUP end the session. A lone "\n" is
// sent as it is, not rewritten to "\r" as the official plugin does (docs/protocol.md §10.7). For
// NonInteractiveCommands with a non-terminal stdin, stdin is not read: the agent discards it.
//
// Port sessions (package portforward): basic and mux mode listen locally and print the official lines;
// SIGINT, SIGTERM, SIGQUIT or SIGTSTP (or ctx ending) print "Terminate signal received, exiting.", end the
// session (ssmwire.Session.Terminate: the flag, or the API for basic mode on agents up to 2.3.722.0), print the
// Exiting line and exit 0. Stream mode (AWS-StartSSHSession, ssh ProxyCommand) copies stdin and stdout; end
// of stdin ends the session the same way and exits 0.
//
// # Logging
//
// Nothing is logged unless SSMWIRE_LOG is debug, info, warn or error; records go to stderr, or to the file
// SSMWIRE_LOG_FILE.
package plugincli
