// Package ssmtest emulates the AWS side of Session Manager for tests and benchmarks,
// in the manner of net/http/httptest: [NewServer] listens on 127.0.0.1 and
// [Server.URL] is the one endpoint for every service a Session Manager client talks to.
//
//   - SSM (AWS JSON 1.1, X-Amz-Target "AmazonSSM.*"): StartSession, ResumeSession,
//     TerminateSession, DescribeInstanceInformation (with filters), ListTagsForResource
//     (resource type ManagedInstance: hybrid nodes, mi-…, only, as AWS documents) and
//     DescribeSessions; StartAccessRequest and GetAccessToken (just-in-time node
//     access, decided by [Options.AccessDecision] or [Server.DecideAccess]; StartSession
//     on an [Instance] with AccessRequired needs the approved request's credentials).
//   - EC2 (query protocol: form-encoded POST, XML answer): DescribeInstances for the i-…
//     instances, with tags, private address and private DNS name, instance ids or
//     filters, MaxResults and NextToken, and EC2's refusals.
//   - EC2 Instance Connect ("AWSEC2InstanceConnectService.SendSSHPublicKey"): keys held
//     60 s per instance and user on the [Options.Now] clock, served at
//     [Server.InstanceConnectURL] for a test sshd's AuthorizedKeysCommand.
//   - ECS ("AmazonEC2ContainerServiceV20141113.ExecuteCommand"): an interactive command
//     in a task, with target "ecs:<cluster>_<task>_<runtime-id>".
//   - KMS ("TrentService.GenerateDataKey", "TrentService.Decrypt"): data keys sealed with
//     AES-GCM under a per-server secret, bound to the key and the encryption context.
//   - MGS, the data-channel service: GET /v1/data-channel/<session-id>?stream=input is
//     the websocket a StartSession StreamUrl names.
//
// Every API request must be SigV4-signed (verified against [Options.Credentials]; see
// there for what passes when it is nil); errors are AWS JSON errors that aws-sdk-go-v2
// and botocore decode into their usual types (TargetNotConnected, InvalidDocument, …).
// [Server.AWSConfig] returns an aws.Config aimed at the server with credentials it
// accepts, as httptest's Server.Client returns a client for its server.
//
// [NewTLSServer] serves the same over https and wss, as every real session runs, with a
// certificate from a CA the server makes at start; AWSConfig trusts it, and
// [Server.CACertPEM], [Server.CAFile] and [Server.CertPool] hand it to other clients (a
// program run by a test gets it as a user would, in AWS_CA_BUNDLE or a profile's
// ca_bundle). [Options.Hostname] names the server in its URLs (for proxy tests, since
// clients never proxy loopback), and [TLSOptions] make certificates a client must refuse.
//
// # How a session flows
//
// StartSession (or ExecuteCommand) records a session with a token. The client dials the
// StreamUrl with a SigV4-signed upgrade (service ssmmessages, the session's region; or
// a presigned URL with [Options.PresignedStreamURLs]), which is verified and refused
// with HTTP 403 when missing or wrong, as AWS does since plugin 1.2.764.0 (see
// [Options.AllowUnsignedUpgrade] for older clients). It then sends the OpenDataChannel
// text frame; a valid token attaches the
// websocket, and the first attach starts the session's emulated SSM Agent
// (ssmtest/internal/agent, an independent implementation of the agent's side of the
// protocol, running shells, commands and port forwarding on this machine). From then on
// the server relays binary frames both ways, like MGS:
//
//	client ⇄ websocket ⇄ Server (faults, counters) ⇄ agent
//
// When the client's websocket drops, the agent keeps running and frames it sends
// meanwhile are lost (it retransmits them); ResumeSession issues a new token (the old
// one stops working) and a new websocket re-attaches. When the agent ends, the server
// sends channel_closed and closes the websocket with code 1000. TerminateSession ends
// the agent the same way.
//
// # Faults and counters
//
// [Server.Faults] holds switches that can change while sessions run: per-direction
// drop, duplicate, reorder, delay and digest corruption probabilities ([LinkFaults],
// drawn from a seeded random source), KillEvery, CloseNormal, RefuseResume, ThrottleStarts, Pause and
// StopAcking. [Server.CloseClientConnections] drops every client websocket.
// [Server.Stats] and [Server.Session] report what happened: frames, bytes and acks each
// way, duplicates seen by the agent, resumes, the largest client message and every
// injected fault.
//
// # Back-pressure
//
// MGS pushes back on a client that sends faster than the agent consumes. The server models it (a model: the
// service's limits are not published; see [Backlog] for the rules): client data counts as backlog from when
// it is relayed until the agent acknowledges it, and the agent acknowledges only after writing to its
// destination. Above a high-water mark the client gets pause_publication, at a low-water mark
// start_publication, and past a hard limit channel_closed. [SessionStats] counts the pauses, the data
// messages a client sent after it had read a pause (SentWhilePaused), overflows, the largest backlog and the
// client's resends.
//
// The agent paces itself like the real one (1024-byte reads, 1 ms after each send)
// unless [Options.NoPacing] is set, and reports [DefaultAgentVersion] unless
// [Options.AgentVersion] says otherwise. The command cmd/ssmtest runs a Server as a
// standalone process for the AWS CLI and session-manager-plugin.
package ssmtest
