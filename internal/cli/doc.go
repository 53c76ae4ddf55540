// Package cli is the ssmwire command: shells, commands, port forwards and named tunnels over AWS Session
// Manager, built on the ssmwire library (never on the session-manager-plugin binary). cmd/ssmwire is a few
// lines around [Main], which takes the arguments, the environment and the standard streams, and returns an
// exit code; nothing here calls os.Exit, so every command runs end to end in tests against ssmtest.
//
// # Commands
//
//	ssmwire shell TARGET                 interactive shell (raw terminal, window size) or piped input
//	ssmwire exec TARGET -- COMMAND...    stdout and stderr apart, the remote exit code as ours
//	ssmwire forward TARGET SPEC...       OpenSSH -L forwards, one session each (--sessions N: a pool), kept up
//	ssmwire proxy TARGET [[addr:]port]   SOCKS5 + HTTP CONNECT proxy, one session per destination (proxy.go)
//	ssmwire ssh-proxy TARGET PORT        stdin/stdout for ssh's ProxyCommand (AWS-StartSSHSession);
//	                                     --send-key --user %r pushes a key with EC2 Instance Connect first
//	ssmwire ssh [USER@]TARGET [ARGS...]  OpenSSH's ssh with a fresh key pushed by EC2 Instance Connect (ssh.go)
//	ssmwire ssh-config [PATTERN...]      an ssh_config Host block using ssh-proxy --send-key
//	ssmwire up [--wait] [NAME...]        named tunnels from the configuration file (--wait: a ready line)
//	ssmwire run NAME[,NAME...] -- CMD    CMD with the tunnels up and their addresses in its environment (run.go)
//	ssmwire list                         the configuration file's tunnels
//	ssmwire targets                      managed nodes: names, addresses, DNS names, ping status (saved for TAB)
//	ssmwire setup [--dry-run]            create the SSMWire-RunCommand document exec uses (setup.go)
//	ssmwire doctor [TARGET]              every check a session needs, with the fix (package doctor; doctor.go)
//	ssmwire completion SHELL             TAB completion script for bash, zsh, fish or powershell
//
// The completion scripts hand the words before the cursor to the hidden `ssmwire __complete WORDS...`
// (complete.go), which answers from the command table (commands, flags, synopsis words TARGET, NAME, TUNNEL,
// SHELL) and local files only: the configuration file, the AWS config files (profiles) and the targets cache
// that `ssmwire targets` writes under the user cache directory (targetscache.go). TAB never calls AWS.
//
// Global flags (--profile, --region, --endpoint-url, --json, --quiet, --config, --debug, --reason) are
// accepted before or after the command name. --reason requests just-in-time node access for the target and
// waits for the approval before the session starts, whose clients then sign with the approved request's
// credentials (access.go). Exit codes, as ssh's: 255 when ssmwire itself fails (usage, configuration file,
// a target it cannot resolve, a session it cannot start or lost), otherwise 0 or the remote command's own
// code for exec, 130 when interrupted during shell or exec. With --json the error is one JSON object on
// standard error.
//
// # From arguments to a session
//
//	argv ─▶ Main ─▶ parseInterleaved (flag.FlagSet per command)
//	          │
//	          ├─▶ loadClients: config.LoadDefaultConfig with the profile, region, config files and static keys
//	          │   taken from Main's env; SSM, ECS and KMS clients with --endpoint-url / AWS_ENDPOINT_URL*
//	          │
//	          ├─▶ resolve (resolve.go): ssmwire.ParseTarget; a word that is no id is a Name tag, private address
//	          │   or private DNS name, matched against the managed nodes (nodes.go: SSM
//	          │   DescribeInstanceInformation joined with EC2 DescribeInstances, which stays out of the
//	          │   library and so out of session-manager-plugin); several matches open the picker on a
//	          │   terminal; ecs:CLUSTER/TASK[/CONTAINER] goes through
//	          │   ecsexec.Start (ECS Exec) for shell and exec, and through
//	          │   ecsexec.SessionTarget (ECS DescribeTasks: ecs:CLUSTER_TASKID_RUNTIMEID) for forward, proxy,
//	          │   up and ssh-proxy, since ECS Exec carries commands only
//	          │
//	          └─▶ ssmwire.Client: Shell, Run (document SSMWire-RunCommand by default), Forward, StartSession;
//	              every session is an ssmwire.Session, ended by its Close/Terminate, its terminal package shell's
//
// Credentials are fetched lazily by the SDK, at the first API call. The first-run failures (no credentials,
// an expired SSO login, access denied, a target that is not connected, throttling) are recognised by
// ssmwire.Classify; the command prints the library's one line of advice (ssmwire.APIError.Advice, e.g.
// "Your SSO session has expired. Run: aws sso login --profile X") and exits 255. The SDK's own logger is
// silenced: it would write to the terminal.
//
// # Tunnels that stay up
//
// forward and up run one keeper per forward. A keeper owns its local listener for the life of the command
// and a pool of port-forwarding sessions (package pool) that replaces them on demand; with the default
// sessions = 1 it is a pool of one, the single kept session:
//
//	listener ─relay.Serve─▶ handle ─▶ pool.Dial ── live session? ──▶ Tunnel.Dial ─▶ relay.Pipe (bytes counted)
//	                                       │ ended or none
//	                                       └──▶ Client.Forward (rate-limited, retried when throttled)
//
// With --sessions N or auto (sessions = in a named tunnel) the pool spreads connections over several
// sessions (pooled.go). The pool reports session_started and session_ended through its callbacks when a
// session ends (idle timeout, a session ended from elsewhere, agent restart) and drops it; the connections
// it carried are closed, which their clients see as an orderly end of stream. The next connection starts a
// new session. The first session is started (Pool.Prestart) before the forward is reported up, so a wrong
// target, missing permissions or an expired login fail the command at once. Cancelling Main's context closes
// the listeners and connections and closes every pool, which ends its sessions properly, before Main
// returns.
//
// Reporting (status.go): on a terminal one status line per forward (listen address, destination, session id,
// connections, bytes each way) is redrawn in place with events printed above it; --json prints one JSON object
// per line (tunnel_up, session_started, connection, session_ended, error); --quiet prints errors only;
// otherwise plain lines per event. Errors always go to standard error.
//
// # Configuration file
//
// TOML, decoded with github.com/BurntSushi/toml into [File]: a table per tunnel under "tunnels" with profile,
// region, target and forwards. Syntax and type errors carry the parser's line; unknown keys, missing targets,
// bad forwards and two tunnels on one local address are reported with the line of the key or table.
//
// # Choosing SDK service packages
//
// Resolving a Name tag needs a list of instances with tags. EC2 DescribeInstances would answer it, but
// aws-sdk-go-v2/service/ec2 is very large: 759,339 lines of Go (30 MB of source) against 145,708 for
// service/ssm and 129,370 for service/ecs. Measured on this machine (Go 1.26.8, linux/amd64, 2 CPUs),
// building cmd/ssmwire with an empty build cache:
//
//	                                   cold build   binary      stripped (-s -w)
//	ssm + ecs + kms (chosen)             45.4 s     18.84 MB    12.69 MB
//	the same + ec2 DescribeInstances     92.8 s     19.46 MB    13.16 MB
//
// The linker drops most of the EC2 package, so the binary grows only 0.6 MB, but compiling it doubles a cold
// build (CI, a fresh checkout, every SDK upgrade). SSM itself answers the question: DescribeInstanceInformation
// with the filter tag:Name resolves a name (it also covers hybrid mi- instances, which EC2 does not know, and
// returns only instances with a running agent, which are the only ones Session Manager can reach), and
// ListTagsForResource gives `ssmwire targets` its Name column. So ssmwire imports service/ssm, service/ecs
// (ExecuteCommand, and DescribeTasks for the runtime id of a container to forward to) and service/kms, and not
// service/ec2.
package cli
