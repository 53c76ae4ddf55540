package protocol

import "strconv"

// MessageType strings of the data channel (docs/protocol.md §2.1). On the wire they
// occupy a 32-byte field padded with spaces.
const (
	TypeInputStreamData   = "input_stream_data"
	TypeOutputStreamData  = "output_stream_data"
	TypeAcknowledge       = "acknowledge"
	TypeChannelClosed     = "channel_closed"
	TypeStartPublication  = "start_publication"
	TypePausePublication  = "pause_publication"
	TypeAgentSessionState = "agent_session_state"
)

// knownType returns the constant string equal to b, or "" if b is not one of
// the data-channel message types. It does not allocate: a switch on
// string(b) compares without converting.
func knownType(b []byte) string {
	switch string(b) {
	case TypeInputStreamData:
		return TypeInputStreamData
	case TypeOutputStreamData:
		return TypeOutputStreamData
	case TypeAcknowledge:
		return TypeAcknowledge
	case TypeChannelClosed:
		return TypeChannelClosed
	case TypeStartPublication:
		return TypeStartPublication
	case TypePausePublication:
		return TypePausePublication
	case TypeAgentSessionState:
		return TypeAgentSessionState
	}
	return ""
}

// internType returns b as a string, using the constant for known types so
// that the common case does not allocate.
func internType(b []byte) string {
	if s := knownType(b); s != "" {
		return s
	}
	return string(b)
}

// Header flags (docs/protocol.md §1.5). Neither the official client nor the agent
// looks at them on receipt.
const (
	FlagSYN uint64 = 1 // first message of a stream
	FlagFIN uint64 = 2 // final message; acknowledgements carry SYN|FIN
)

// PayloadType says how to read a stream-data payload (docs/protocol.md §2.2).
type PayloadType uint32

// Payload types. Acknowledgements and control messages carry 0.
const (
	PayloadOutput               PayloadType = 1  // raw stream bytes, both directions
	PayloadError                PayloadType = 2  // unused
	PayloadSize                 PayloadType = 3  // SizeData JSON, client → agent
	PayloadParameter            PayloadType = 4  // unused
	PayloadHandshakeRequest     PayloadType = 5  // HandshakeRequest JSON, agent → client
	PayloadHandshakeResponse    PayloadType = 6  // HandshakeResponse JSON, client → agent
	PayloadHandshakeComplete    PayloadType = 7  // HandshakeComplete JSON, agent → client
	PayloadEncChallengeRequest  PayloadType = 8  // EncryptionChallenge JSON, agent → client
	PayloadEncChallengeResponse PayloadType = 9  // EncryptionChallenge JSON, client → agent
	PayloadTypeFlag             PayloadType = 10 // a PayloadFlag as 4 big-endian bytes (named so as not to clash with type PayloadFlag)
	PayloadStdErr               PayloadType = 11 // raw stderr bytes, agent → client
	PayloadExitCode             PayloadType = 12 // "EXIT_CODE: <n>", agent → client
)

var payloadTypeNames = [...]string{
	PayloadOutput:               "Output",
	PayloadError:                "Error",
	PayloadSize:                 "Size",
	PayloadParameter:            "Parameter",
	PayloadHandshakeRequest:     "HandshakeRequest",
	PayloadHandshakeResponse:    "HandshakeResponse",
	PayloadHandshakeComplete:    "HandshakeComplete",
	PayloadEncChallengeRequest:  "EncChallengeRequest",
	PayloadEncChallengeResponse: "EncChallengeResponse",
	PayloadTypeFlag:             "Flag",
	PayloadStdErr:               "StdErr",
	PayloadExitCode:             "ExitCode",
}

// String returns the name used in docs/protocol.md §2.2, or "PayloadType(n)".
func (t PayloadType) String() string {
	if int(t) < len(payloadTypeNames) && payloadTypeNames[t] != "" {
		return payloadTypeNames[t]
	}
	return "PayloadType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// PayloadFlag is the value carried by a PayloadTypeFlag message (docs/protocol.md §2.3).
type PayloadFlag uint32

// Flag values.
const (
	FlagDisconnectToPort   PayloadFlag = 1 // client → agent: the local TCP client went away (basic port mode)
	FlagTerminateSession   PayloadFlag = 2 // client → agent: end the port session
	FlagConnectToPortError PayloadFlag = 3 // agent → client: could not dial the destination (mux mode)
)

// String returns the flag's name, or "PayloadFlag(n)".
func (f PayloadFlag) String() string {
	switch f {
	case FlagDisconnectToPort:
		return "DisconnectToPort"
	case FlagTerminateSession:
		return "TerminateSession"
	case FlagConnectToPortError:
		return "ConnectToPortError"
	}
	return "PayloadFlag(" + strconv.FormatUint(uint64(f), 10) + ")"
}

// ActionStatus is the outcome of a handshake action (docs/protocol.md §5.3).
// The agent cancels the session on anything but ActionSuccess.
type ActionStatus int

// Action statuses.
const (
	ActionSuccess     ActionStatus = 1
	ActionFailed      ActionStatus = 2
	ActionUnsupported ActionStatus = 3
)

// String returns the status name, or "ActionStatus(n)".
func (s ActionStatus) String() string {
	switch s {
	case ActionSuccess:
		return "Success"
	case ActionFailed:
		return "Failed"
	case ActionUnsupported:
		return "Unsupported"
	}
	return "ActionStatus(" + strconv.Itoa(int(s)) + ")"
}

// Handshake action types (RequestedClientAction.ActionType).
const (
	ActionSessionType   = "SessionType"
	ActionKMSEncryption = "KMSEncryption"
)

// Session types named in the SessionType action (SessionTypeRequest.SessionType).
const (
	SessionTypeStandardStream         = "Standard_Stream"
	SessionTypeInteractiveCommands    = "InteractiveCommands"
	SessionTypeNonInteractiveCommands = "NonInteractiveCommands"
	SessionTypePort                   = "Port"
)
