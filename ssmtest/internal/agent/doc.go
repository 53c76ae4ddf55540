// Package agent emulates the SSM Agent's end of a Session Manager session for ssmtest.
//
// It is an independent implementation written from docs/protocol.md (and, where that is silent, from the
// behaviour of aws/amazon-ssm-agent); it speaks through its own codec in ssmtest/internal/wire and never
// imports the client packages, so a misunderstanding cannot hide on both sides of a test.
//
// # Data flow
//
//	MGS relay ── Deliver ──▶ acks, pause/start_publication (handled at once)
//	                     └─▶ input queue ──▶ processor: sequencing, ack, out-of-order buffer ──▶ handshake / plugin
//	plugin pumps (pty, pipes, TCP, smux) ──▶ sendStream: seq, outgoing list, encrypt ──▶ Config.Send ──▶ MGS relay
//	resend scheduler (100 ms): oldest unacknowledged message, once per RTO
//
// An [Agent] is started with [Start] for one session. It sends output_stream_data from sequence number 0
// (SYN on the first), writes each message to MGS before it buffers it (so an acknowledgement racing the
// buffering matches nothing and the message is resent later), keeps each message until acknowledged (up to 100 000; beyond that a message is sent
// once and never resent) and retransmits only the oldest when it is overdue, writing its send time back, as
// the agent does. Incoming data is processed in order and then acknowledged; data the plugin is not ready
// for stays unacknowledged so the client resends it; messages ahead of the expected one are acknowledged and
// buffered; old ones are acknowledged again and counted as duplicates. One goroutine processes input: a
// payload is acknowledged only after it was written to its destination (pty, TCP connection, smux session).
// When a shell or command ends by itself the agent waits up to 2 s, twice, for outstanding
// acknowledgements before the session closes (once for other ends). pause_publication stops transmission
// and the read pumps until start_publication, an acknowledgement or input arrives.
//
// # Handshake and encryption
//
// Port and NonInteractiveCommands sessions always begin with a handshake; Standard_Stream and
// InteractiveCommands only when KMS encryption is on (Config.KMSKeyID). With encryption the agent decrypts the
// client's data key through [Decrypter], runs the encryption challenge and from then on seals Output, StdErr
// and ExitCode payloads with key[0:32] (nonce: a 96-bit counter) and opens the client's Output payloads with
// key[32:64]. Port sessions are never encrypted.
//
// # Plugins
//
//   - Standard_Stream: Config.Shell on a pseudo-terminal; Size messages resize it. Output is first read 1 s
//     after the start, at most 1024 bytes per read plus up to 3 bytes of an incomplete UTF-8 character held
//     back from the previous read; the session ends when the terminal reports EOF.
//   - InteractiveCommands: sh -c <commands> on a pseudo-terminal; in a container (Config.ContainerMode, ECS
//     Exec) the commands are split with shlex rules and executed without a shell.
//   - NonInteractiveCommands: no shell: the commands are split with shlex rules (splitCommand) and executed,
//     with no standard input; 0x03 and 0x1C in the input become SIGINT and SIGQUIT to the command. With
//     separateOutputStream, stdout (Output) and stderr (StdErr, 11) are read independently and an ExitCode
//     (12) message ends the output; without it, the combined output is sent after the command exited.
//     A command that cannot start gets EXIT_CODE: 1 (separated streams) and its error as StdErr 1 s later.
//   - Port: smux v1 server multiplexing for LocalPortForwarding clients ≥ 1.1.70 (one destination
//     connection per stream, ConnectToPortError on dial failure); otherwise one destination connection,
//     dialled at start, redialled after DisconnectToPort (LocalPortForwarding), or ending the session at
//     destination EOF (any other type, e.g. AWS-StartSSHSession). Flag TerminateSession ends the session.
//
// With Config.Pacing the pumps behave like the real agent (at most 1024 bytes per message, 1 ms sleep after
// each); without it they read up to 32 KiB and never sleep.
package agent
