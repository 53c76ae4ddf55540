package protocol

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// The JSON bodies of the data channel. Go field names equal the JSON keys
// the official client and agent use (docs/protocol.md §2.4, §2.5, §3.2, §5.3,
// §5.4), so a struct reads like the wire.

// Acknowledge is the payload of an acknowledge message (§2.4). Receivers
// match acknowledgements only by AcknowledgedMessageSequenceNumber.
// AcknowledgedMessageId encodes as the 8-4-4-4-12 lowercase text form.
// AppendAcknowledge and ParseAcknowledge are the allocation-free paths.
type Acknowledge struct {
	AcknowledgedMessageType           string    `json:"AcknowledgedMessageType"`
	AcknowledgedMessageId             uuid.UUID `json:"AcknowledgedMessageId"`
	AcknowledgedMessageSequenceNumber int64     `json:"AcknowledgedMessageSequenceNumber"`
	IsSequentialMessage               bool      `json:"IsSequentialMessage"`
}

// OpenDataChannelInput is the first, text, websocket frame the client sends
// on every (re)connect (§3.2). RequestId is fresh each time; ClientId is
// fixed for the life of the process.
type OpenDataChannelInput struct {
	MessageSchemaVersion string `json:"MessageSchemaVersion"` // "1.0"
	RequestId            string `json:"RequestId"`
	TokenValue           string `json:"TokenValue"`
	ClientId             string `json:"ClientId"`
	ClientVersion        string `json:"ClientVersion"`
}

// HandshakeRequest is the agent's PayloadHandshakeRequest body (§5.3).
type HandshakeRequest struct {
	AgentVersion           string                  `json:"AgentVersion"`
	RequestedClientActions []RequestedClientAction `json:"RequestedClientActions"`
}

// RequestedClientAction is one action the agent asks for. ActionParameters
// is a SessionTypeRequest for ActionSessionType and a KMSEncryptionRequest
// for ActionKMSEncryption.
type RequestedClientAction struct {
	ActionType       string          `json:"ActionType"`
	ActionParameters json.RawMessage `json:"ActionParameters"`
}

// SessionTypeRequest is the parameter of the SessionType action. Properties
// is the SSM document's properties block (Port sessions) or null.
type SessionTypeRequest struct {
	SessionType string          `json:"SessionType"`
	Properties  json.RawMessage `json:"Properties"`
}

// KMSEncryptionRequest is the parameter of the KMSEncryption action.
// Challenge is the agent's base64 text, used verbatim as the
// "aws:ssm:RandomChallenge" encryption context value (§5.4).
type KMSEncryptionRequest struct {
	KMSKeyId  string `json:"KMSKeyId"`
	Challenge string `json:"Challenge,omitempty"`
}

// HandshakeResponse is the client's PayloadHandshakeResponse body (§5.3):
// one ProcessedClientAction per requested action.
type HandshakeResponse struct {
	ClientVersion          string                  `json:"ClientVersion"`
	ProcessedClientActions []ProcessedClientAction `json:"ProcessedClientActions"`
	Errors                 []string                `json:"Errors"`
}

// ProcessedClientAction answers one RequestedClientAction. ActionResult is a
// KMSEncryptionResponse for ActionKMSEncryption and null otherwise.
type ProcessedClientAction struct {
	ActionType   string          `json:"ActionType"`
	ActionStatus ActionStatus    `json:"ActionStatus"`
	ActionResult json.RawMessage `json:"ActionResult"`
	Error        string          `json:"Error"`
}

// KMSEncryptionResponse is the result of the KMSEncryption action. Setting
// ChallengeAcknowledgement tells the agent that the GenerateDataKey context
// included "aws:ssm:RandomChallenge" (§5.4).
type KMSEncryptionResponse struct {
	KMSCipherTextKey         []byte `json:"KMSCipherTextKey"`
	KMSCipherTextHash        []byte `json:"KMSCipherTextHash"`
	ChallengeAcknowledgement bool   `json:"ChallengeAcknowledgement,omitempty"`
}

// HandshakeComplete is the agent's PayloadHandshakeComplete body (§5.3).
type HandshakeComplete struct {
	HandshakeTimeToComplete time.Duration `json:"HandshakeTimeToComplete"` // nanoseconds on the wire
	CustomerMessage         string        `json:"CustomerMessage"`
}

// EncryptionChallenge is the body of PayloadEncChallengeRequest and
// PayloadEncChallengeResponse: nonce ‖ ciphertext ‖ tag, base64 on the wire.
type EncryptionChallenge struct {
	Challenge []byte `json:"Challenge"`
}

// ChannelClosed is the payload of a channel_closed message (§2.5).
type ChannelClosed struct {
	MessageId     string `json:"MessageId"`
	CreatedDate   string `json:"CreatedDate"`
	DestinationId string `json:"DestinationId"`
	SessionId     string `json:"SessionId"`
	MessageType   string `json:"MessageType"`
	SchemaVersion int    `json:"SchemaVersion"`
	Output        string `json:"Output"`
}

// SizeData is the PayloadSize body: the terminal size in character cells.
type SizeData struct {
	Cols uint32 `json:"cols"`
	Rows uint32 `json:"rows"`
}
