// Package shell runs the interactive and command session types of Session Manager over a
// [session.Channel]: Standard_Stream (the default shell document), InteractiveCommands and
// NonInteractiveCommands (docs/protocol.md §6.1).
//
// # Data flow
//
//	Config.Stdin ──▶ stdin pump ──▶ Session.WriteContext (Output, PayloadType 1) ──▶ agent (pty or command)
//	Config.Resize ─▶ size loop ───▶ Session.SendSize (PayloadType 3, deduplicated)
//	Config.Stdout ◀── Session.ReadContext (Output, PayloadType 1)
//	Config.Stderr ◀── Session.Stderr (StdErr, PayloadType 11; NonInteractiveCommands with separate streams)
//
// [Run] waits for [session.Channel.Ready], sends Config.InitialSize, starts the pumps and returns when the
// session has ended and every received byte has been written out. It prints nothing of its own: the console
// lines of the official plugin ("Starting session with SessionId…") belong to the command-line program.
//
// # Ending and exit status
//
// The remote side ends these sessions (the shell exits, the command finishes, or someone calls
// TerminateSession): the service sends channel_closed. Run then returns nil, or an [*ExitError] when the
// agent reported a non-zero exit code, or the session's error (for example a *session.ChannelClosedError
// carrying the agent's message). Only NonInteractiveCommands sessions with separated output streams carry an
// exit code at all (PayloadType 12); pty sessions end with nil whatever the shell's status was.
//
// # Standard input
//
// Stdin is read in chunks as data arrives and each chunk goes out at once; there is no pacing. End of input
// does not end the session: for a pty session the remote shell decides when to stop (send "exit"), and a
// piped script usually ends with it. Input is passed through unchanged; in particular a lone "\n" is not
// rewritten to "\r" as the official plugin does for every payload (docs/protocol.md §10.7).
//
// For NonInteractiveCommands the agent starts the command with no standard input (it reads /dev/null) and
// only scans what the client sends for the control bytes 0x03 and 0x1C, which it turns into SIGINT and
// SIGQUIT on the command. Data sent there is otherwise discarded. A terminal in raw mode is still worth
// forwarding (Ctrl-C then interrupts the remote command); a pipe is not, because a stray 0x03 in the data
// would signal the command. Callers pass a nil Stdin in that case, as the session-manager-plugin binary does.
//
// The stdin pump is the one goroutine Run cannot always stop: a Read on a terminal or pipe blocks until data
// or end of input. Run does not wait for it; it is abandoned and exits at the next Read result, writing
// nothing further to the session.
//
// # The local terminal
//
// With Config.Terminal, Run owns the local terminal when Stdin is one, and both programs (the ssmwire
// command and session-manager-plugin) use it:
//
//	raw mode ─────────▶ keys as bytes (Ctrl-C is 0x03 to the remote pty); restored exactly once on every way
//	                    out: return, panics in Run's goroutines, SIGTERM/SIGHUP (which end the session)
//	size ─────────────▶ sent at the start and after every SIGWINCH (Windows consoles: polled every 500 ms)
//	Stdin ─▶ escapes ─▶ after a newline: "~." ends the session (Config.End: ssmwire.Session.Terminate),
//	                    "~?" lists the escapes, "~~" sends one "~"; anything else after "~" goes through
//
// Without a terminal nothing is changed; Config.ControlSignals then catches SIGINT, SIGQUIT and SIGTSTP and
// sends them as bytes, as the official plugin does. On Windows the console's output is switched to
// interpret VT escape sequences for the session. Everything else works with any io.Reader and io.Writer.
package shell
