// Package ssmwire opens AWS Systems Manager Session Manager sessions from Go: shells, commands with their exit
// status, and TCP connections to ports on or behind an instance, without the session-manager-plugin binary.
//
// # What a session is
//
// A Session Manager session is a conversation between this program and the SSM Agent on a target (an EC2
// instance, a managed instance "mi-…", or an ECS container), relayed by the ssmmessages service. It starts
// with the StartSession API, which names a target and a document; the document decides what the agent does:
//
//   - SSM-SessionManagerRunShell (the default): an interactive shell on a pseudo-terminal ([Client.Shell]).
//   - AWS-StartNonInteractiveCommand and customer documents of type NonInteractiveCommands: one command, its
//     output streamed back, optionally with separate stderr and an exit status ([Client.Run]).
//   - AWS-StartPortForwardingSession and AWS-StartPortForwardingSessionToRemoteHost: TCP connections to a
//     port on the target or on a host the target can reach ([Client.Forward], [Client.Dial]).
//
// Files are copied to and from a target with those stock documents and the target's coreutils by package
// [github.com/ssmwire/ssmwire/filecopy], built on this one.
//
// StartSession returns a session ID, a websocket URL and a one-time token. The data channel on that websocket
// (package [github.com/ssmwire/ssmwire/session]) carries sequenced, acknowledged messages in both directions,
// survives dropped connections by resuming, and may be encrypted end to end with a KMS key. Packages
// [github.com/ssmwire/ssmwire/shell] and [github.com/ssmwire/ssmwire/portforward] run the shell and port
// session types on top of it. This package ties them together behind one [Client]:
//
//	Client.Run / Client.Shell ──▶ StartSession ─┐                 ┌─▶ Session.Shell (shell.Run)
//	Client.Forward / Dial ──────▶ StartSession ─┼─▶ *Session ─────┼─▶ Session.Forwarder ─▶ Tunnel
//	Client.Attach (started elsewhere) ──────────┘  (session.Open) └─▶ Wait / Done / Err; Terminate / Close
//
// A [Session] owns one session's life: its data channel, how it ended ([Session.Wait]: nil, an [*ExitError],
// or the failure), and the one way ssmwire ends a session from this side ([Session.Terminate]: Flag
// TerminateSession for port sessions whose agent knows it, else the TerminateSession API, then a bounded
// wait for the service's channel_closed).
//
// # Credentials
//
// A Client calls the SSM API (StartSession, ResumeSession, TerminateSession) and, for encrypted sessions,
// KMS GenerateDataKey. The simplest way to build one is from the SDK's default configuration, which reads
// the environment, the shared config and credentials files (profiles, SSO) and instance or container roles:
//
//	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
//	if err != nil { ... }
//	c := ssmwire.NewFromAWSConfig(cfg)
//
// The caller's identity needs ssm:StartSession on the target and the document, ssm:ResumeSession and
// ssm:TerminateSession on its own sessions, and kms:GenerateDataKey on the account's Session Manager key when
// the account's session preferences turn KMS encryption on. The session token is a secret: ssmwire never puts
// it in a log record or an error.
//
// The same credentials SigV4-sign each data channel's websocket upgrade (service ssmmessages, the region), as
// AWS requires of clients since plugin 1.2.764.0; [New] takes them, the region and the endpoint from an
// *ssm.Client's options, [NewFromAWSConfig] from the aws.Config. A stream URL whose host is neither an AWS
// Session Manager endpoint nor the endpoint the SSM client was pointed at (BaseEndpoint, AWS_ENDPOINT_URL_SSM)
// is refused before anything is sent to it; see the session package and session.Config.TrustedEndpoints.
//
// To supply the API clients yourself (a fake in tests, a client with custom middleware, ECS ExecuteCommand
// output), use [New] with a [Config], and [Client.Attach] for a session started elsewhere (it needs no SSM
// client). Failures a newcomer meets first (no credentials, an expired SSO login, access denied, a target
// that is not connected, throttling) come back as an [*APIError]; [APIError.Advice] says what to do.
//
// # Commands and shells
//
// [Client.Run] starts a command and waits for it; its output goes to the writers in [Command]. An
// [*ExitError] reports a non-zero exit status, which only NonInteractiveCommands documents with
// separateOutputStream report. [Client.Shell] runs an interactive shell with a [shell.Config]; with
// Config.Terminal, package shell owns the local terminal: raw mode, the window size (SIGWINCH, or polled on
// Windows), and OpenSSH's escapes after a newline ("~." ends the session with [Session.Terminate]).
//
// # Targets
//
// [ParseTarget] reads what users type: an instance ID (i-…), a managed instance ID (mi-…),
// ecs:CLUSTER/TASK[/CONTAINER], or the value of a Name tag, which [Resolve] turns into an instance ID (a
// [*NotFoundError] or [*AmbiguousError] otherwise). Package ecsexec reaches ECS containers: it runs commands
// with ECS Exec and finds the container's own target (ecs:CLUSTER_TASKID_RUNTIMEID) for port forwarding.
//
// # Port forwarding
//
// [Client.Forward] starts one port-forwarding session and returns a [Tunnel]: [Tunnel.Dial] opens any number
// of connections over it (multiplexed with smux on agents newer than 3.0.196.0), [Tunnel.Serve] forwards every
// connection accepted on a net.Listener the caller chose. [Client.Dial] is the one-liner: a net.Conn with a
// session of its own. A Read returns a [*ConnectToPortError] when the agent cannot reach the destination.
//
// # Encryption
//
// When the account requires KMS encryption, the agent asks for it during the session's handshake: the client
// calls GenerateDataKey (64 bytes, with the session and target IDs as encryption context), hands the
// encrypted key to the agent, proves it holds the key by answering the agent's challenge, and from then on
// every data payload is sealed with AES-256-GCM. Nothing needs configuring beyond Config.KMS (which
// [NewFromAWSConfig] sets); a failure (no permission on the key, a tampered payload) ends the session with an
// error wrapping [session.ErrHandshake] or [session.ErrDecrypt].
//
// # Lifetimes
//
// Every call takes a context: cancelling it stops a Run or Shell (the remote session is terminated) or a
// Serve. A Client holds no connections; [Session.Close], [Tunnel.Close] and closing a net.Conn from
// [Client.Dial] end the session and release every goroutine and socket it owns. There are no globals; the library
// prints nothing and logs through Config.Logger (log/slog, discarded by default).
//
// # Testing code that uses ssmwire
//
// Package [github.com/ssmwire/ssmwire/ssmtest] emulates the AWS side on 127.0.0.1: the SSM, KMS and ECS APIs,
// the ssmmessages service and an agent that runs shells and commands on the local machine and connects to
// local ports. Its AWSConfig method returns an aws.Config aimed at it (BaseEndpoint = its URL, which makes
// its stream URLs trusted) with credentials it accepts; it verifies every signature:
//
//	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
//	t.Cleanup(srv.Close)
//	c := ssmwire.NewFromAWSConfig(srv.AWSConfig())
//	// ... call your code with c and ssmtest.DefaultInstanceID
//
// ssmtest.Options turn on KMS encryption (KMSKeyID), add instances and documents, and Server.Faults injects
// lost, duplicated, reordered or corrupted messages and dropped connections. The examples below run against
// it in go test.
package ssmwire
