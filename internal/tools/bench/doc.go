// Package bench is the ssmbench command: it measures session-manager-plugin binaries through a real
// forwarded TCP port, next to the ssmtest emulator's own ceiling, and prints one table per
// port-forwarding mode (mux, basic) with the ratios between them.
//
// # What one run does
//
// For each mode, Run starts an ssmtest.Server in this process (agent version DefaultAgentVersion for mux,
// BasicAgentVersion for basic; agent pacing off unless Config.Pacing) and, for each plugin and each of
// three transfers, starts a destination server on 127.0.0.1, calls StartSession with aws-sdk-go-v2
// (AWS-StartPortForwardingSession to that destination, localPortNumber 0), and runs the plugin exactly as
// the AWS CLI does (docs/protocol.md §7.1, internal/tools/e2e/AWSCLI.md):
//
//	plugin AWS_SSM_START_SESSION_RESPONSE us-east-1 StartSession "" <request JSON> <endpoint>
//
// with the response in that environment variable (Form "env"), or the response JSON itself in argv[1]
// (Form "argv"). It reads the plugin's stdout until "Port N opened" (the time from exec to that is
// "exec → Port opened"), connects to port N and runs the transfer:
//
//   - upload: Size pattern bytes written to the port; the clock stops when the destination has them all;
//   - download: one trigger byte, then the destination writes Size bytes; the clock stops at the last one;
//   - echo: Echoes round trips of EchoSize bytes, one at a time, through an echoing destination
//     (after 20 unmeasured ones); p50 and p99 are reported.
//
// Every byte is checked against a fixed pattern at the other end. Then the session is ended with the
// service's TerminateSession (the plugin should exit on channel_closed; one that does not is
// interrupted, then killed, and the table's exits say so). CPU seconds are the child's rusage user+system
// time for the whole process life, divided by the MiB moved; peak RSS is the child's VmHWM read from /proc
// just after the transfer (rusage Maxrss is not usable: a vforked child inherits the parent's high-water
// mark at exec). The emulator's per-session counters give the frames the client sent, the duplicates the
// agent received, the agent's resends and the largest client message.
//
// # The ceiling
//
// The "ceiling" row moves the same bytes with no plugin at all: a client built from gorilla/websocket
// and the protocol codec only, which answers the handshake, acknowledges every message at once, sends
// messages of Config.CeilingChunk bytes (in mux mode one smux frame per message when the chunk is 32 KiB
// or more; smaller chunks cut the frames into messages of that size, as the plugins do) without keeping them or
// waiting for acknowledgements, and in mux mode runs an smux client over the data channel. It is the
// most the emulator can carry on this machine; when a plugin reaches it, the emulator is the limit.
//
// The "ceiling+hop" row (Config.HopCeiling, on by default with the ceiling) is the same relay reached as a
// plugin's local port is: the transfer connects to a forwarder process (ssmbench re-executed as the hidden
// subcommand `ssmbench hop-forward HOST:PORT`, GOMAXPROCS=1 and GOGC=25, io.Copy both ways), which connects to
// a loopback listener of this process whose connection is copied to and from the relay's. A round trip then
// crosses processes four times, as a plugin's does; issue 18's echo goal is measured against it.
//
// Run returns a Report; Report.WriteText prints the tables and Report.CheckGoals evaluates issue 6's
// and issue 18's goals for the first plugin (the baseline). Main is the whole command for cmd/ssmbench.
package bench
