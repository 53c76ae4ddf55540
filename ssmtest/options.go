package ssmtest

import (
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
)

// Default values used when the corresponding [Options] field is zero.
const (
	DefaultAgentVersion   = "3.3.987.0"
	DefaultMaxMessageSize = 1 << 20
	DefaultInstanceID     = "i-0123456789abcdef0"
	DefaultInstanceName   = "ssmtest"
	DefaultRegion         = "us-east-1"
	DefaultAccountID      = "123456789012"
)

// Options configures a [Server]. A nil *Options means all defaults. The server copies the
// struct at construction; changing it afterwards has no effect.
type Options struct {
	// AgentVersion is the agent version reported in the HandshakeRequest and by
	// DescribeInstanceInformation. Default [DefaultAgentVersion].
	AgentVersion string

	// NoPacing turns off the real agent's pacing (at most 1024 bytes read per message and
	// a 1 ms sleep after every send). The zero value keeps the faithful, slow pacing.
	NoPacing bool

	// MaxMessageSize is the largest client data message payload accepted, in bytes.
	// A client frame larger than MaxMessageSize plus the 120-byte header closes that
	// websocket with close code 1009 (message too big) and is counted. Default
	// [DefaultMaxMessageSize].
	MaxMessageSize int

	// Backlog sets the marks of MGS's back-pressure model (pause_publication, start_publication and
	// channel_closed for client data waiting for the agent). Zero fields take the defaults.
	Backlog Backlog

	// KMSKeyID, when non-empty, makes every non-Port session require KMS encryption with
	// this key, as a session preference of the account would.
	KMSKeyID string

	// Shell is the program run for Standard_Stream sessions. Default "/bin/sh".
	Shell string

	// Hosts maps the remote hosts that AWS-StartPortForwardingSessionToRemoteHost sessions may name
	// (names or addresses inside the emulated target's VPC, e.g. "db.internal" or "10.0.0.20") to the
	// host the emulated agent really dials (e.g. "127.0.0.1", where a test's server listens). Like the
	// agents from 2026, the emulated agent refuses loopback hosts (localhost, 127.0.0.0/8, ::1), instance
	// metadata and ECS/EKS credential endpoints in those sessions: the session fails after the handshake
	// with channel_closed Output "Forwarding to IP address <host> is forbidden.". A host in Hosts is
	// permitted; any other host is checked and dialled as named.
	Hosts map[string]string

	// Logger receives the server's diagnostics. Default: discard. Tokens are never logged.
	Logger *slog.Logger

	// Documents adds session documents, or overrides built-in ones, by name.
	Documents map[string]Document

	// NoRunCommandDocument leaves out the built-in DocRunCommand (SSMWire-RunCommand), as in a fresh
	// account where nobody has created it; CreateDocument adds it.
	NoRunCommandDocument bool

	// Credentials maps access key IDs to secret keys. When non-nil, the access key must
	// be in the map and the signature is verified in full. When nil, the server knows
	// only [DefaultAccessKeyID] (which [Server.AWSConfig] hands out) and verifies its
	// signatures in full; any other access key passes with a well-formed SigV4
	// Authorization header, since the server cannot know its secret.
	Credentials map[string]string

	// AllowUnsignedUpgrade lets a data-channel websocket upgrade without any SigV4
	// authentication through, as the service did before plugin 1.2.764.0; it is for
	// tests of older clients. By default such an upgrade is refused with HTTP 403, as is
	// one whose signature is malformed, made with an unknown key (see Credentials), for
	// another service than ssmmessages or another region than the session's, or that
	// does not verify. Stats.Upgrades counts how each upgrade was authenticated.
	AllowUnsignedUpgrade bool

	// PresignedStreamURLs makes StartSession, ResumeSession and ExecuteCommand hand out
	// stream URLs presigned by the server (SigV4 query parameters X-Amz-*, valid for 5
	// minutes). The upgrade of such a URL is verified against that signature, and is
	// refused if the client signs it again (an Authorization header as well).
	PresignedStreamURLs bool

	// Instances adds managed instances to the default one ([DefaultInstanceID], Name tag
	// [DefaultInstanceName]). An entry with the default ID replaces it.
	Instances []Instance

	// FaultSeed seeds the random source of the fault injector, for reproducible runs.
	// Zero picks a fixed default seed.
	FaultSeed uint64

	// Hostname, when set, is the host name in URL and in stream URLs instead of the listener's address; the
	// port stays the listener's. It must resolve to the listener's address for clients (an /etc/hosts entry
	// such as "127.0.0.1 ssmtest.internal", see [DefaultHostname]): a test of an HTTP proxy needs it, since
	// clients never proxy localhost or loopback addresses. A TLS server's certificate names it.
	Hostname string

	// TLS shapes the certificate of a TLS server ([NewTLSServer], [Server.StartTLS]).
	TLS TLSOptions

	// DenyActions lists IAM actions the caller may not perform, such as "ssm:StartSession" or
	// "ec2-instance-connect:SendSSHPublicKey": those calls fail with AccessDeniedException, as when an IAM
	// policy does not allow them (EC2's own query API, "ec2:DescribeInstances", with UnauthorizedOperation).
	DenyActions []string

	// Now is the clock of the keys pushed with SendSSHPublicKey (usable for 60 s) and of just-in-time
	// access requests and their credentials, so that a test can move time forward. Default time.Now.
	Now func() time.Time

	// AccessDecision, when set, decides pending just-in-time access requests: it is called at each
	// GetAccessToken of a pending request (Polls counts the calls, this one included) and returns the new
	// status (AccessApproved, AccessRejected, AccessExpired...), or AccessPending or "" to keep it pending.
	// Without it requests stay pending until [Server.DecideAccess].
	AccessDecision func(AccessRequest) string

	// CloseTimeout is how long Close waits before it starts reporting what is stuck.
	// Default 5 s. Close keeps waiting after reporting.
	CloseTimeout time.Duration
}

// Document is a Session Manager document: what kind of session it starts and the
// properties handed to the agent.
type Document struct {
	// SessionType is "Standard_Stream", "InteractiveCommands", "NonInteractiveCommands"
	// or "Port".
	SessionType string

	// Parameters lists the parameters StartSession may pass. Any other parameter name is
	// rejected.
	Parameters []Parameter

	// Properties is the document's properties block. String values may contain
	// "{{ name }}" references to parameters, replaced by the parameter's value (several
	// values are joined with newlines). Nested maps and slices are walked.
	Properties map[string]any
}

// Parameter is one parameter of a [Document].
type Parameter struct {
	Name     string
	Default  string
	Required bool // StartSession without it fails with ValidationException
}

// Instance is a managed instance known to the server.
type Instance struct {
	ID              string // "i-…" or "mi-…"
	Name            string // the Name tag; empty for none
	Tags            map[string]string
	PingStatus      string // default "Online"; anything else makes StartSession fail with TargetNotConnected
	PlatformType    string // default "Linux"
	PlatformName    string // default "Amazon Linux"
	PlatformVersion string // default "2023"
	IPAddress       string // default "10.0.0.10"; also the private address EC2 DescribeInstances reports
	PrivateDNSName  string // EC2's private DNS name; default "ip-10-0-0-10.ec2.internal" from IPAddress
	ComputerName    string // default "<id>.ssmtest.internal"
	ResourceType    string // default "EC2Instance" ("ManagedInstance" for mi-)
	// AccessRequired makes the node require just-in-time node access: StartSession on it is refused with
	// AccessDeniedException unless signed with the credentials of an approved access request
	// (StartAccessRequest, GetAccessToken).
	AccessRequired bool
}

// tags returns the instance's tags, Name included.
func (in *Instance) tags() map[string]string {
	t := maps.Clone(in.Tags)
	if t == nil {
		t = make(map[string]string)
	}
	if in.Name != "" {
		t["Name"] = in.Name
	}
	return t
}

func (in Instance) withDefaults() Instance {
	if in.PingStatus == "" {
		in.PingStatus = "Online"
	}
	if in.PlatformType == "" {
		in.PlatformType = "Linux"
	}
	if in.PlatformName == "" {
		in.PlatformName = "Amazon Linux"
	}
	if in.PlatformVersion == "" {
		in.PlatformVersion = "2023"
	}
	if in.IPAddress == "" {
		in.IPAddress = "10.0.0.10"
	}
	if in.PrivateDNSName == "" && strings.HasPrefix(in.ID, "i-") {
		in.PrivateDNSName = "ip-" + strings.ReplaceAll(in.IPAddress, ".", "-") + ".ec2.internal"
	}
	if in.ComputerName == "" {
		in.ComputerName = in.ID + ".ssmtest.internal"
	}
	if in.ResourceType == "" {
		in.ResourceType = "EC2Instance"
		if len(in.ID) > 3 && in.ID[:3] == "mi-" {
			in.ResourceType = "ManagedInstance"
		}
	}
	return in
}

// withDefaults returns a copy of o (or of the zero Options) with defaults filled in.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.AgentVersion == "" {
		c.AgentVersion = DefaultAgentVersion
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.Backlog = c.Backlog.withDefaults()
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.FaultSeed == 0 {
		c.FaultSeed = 0x55_4d_54_45_53_54 // "SSMTEST"
	}
	docs := builtinDocuments()
	if c.NoRunCommandDocument {
		delete(docs, DocRunCommand)
	}
	for name, d := range c.Documents {
		docs[name] = d
	}
	c.Documents = docs
	c.Credentials = maps.Clone(c.Credentials)
	c.Hosts = maps.Clone(c.Hosts)
	c.TLS.Names = slices.Clone(c.TLS.Names)
	c.DenyActions = slices.Clone(c.DenyActions)
	insts := []Instance{{ID: DefaultInstanceID, Name: DefaultInstanceName}}
	for _, in := range c.Instances {
		replaced := false
		for i := range insts {
			if insts[i].ID == in.ID {
				insts[i], replaced = in, true
			}
		}
		if !replaced {
			insts = append(insts, in)
		}
	}
	for i := range insts {
		insts[i] = insts[i].withDefaults()
		insts[i].Tags = insts[i].tags()
	}
	c.Instances = insts
	return c
}
