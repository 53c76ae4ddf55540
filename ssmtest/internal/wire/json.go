package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// AckBody is the JSON payload of an acknowledge message (§2.4).
type AckBody struct {
	AcknowledgedMessageType           string `json:"AcknowledgedMessageType"`
	AcknowledgedMessageId             string `json:"AcknowledgedMessageId"`
	AcknowledgedMessageSequenceNumber int64  `json:"AcknowledgedMessageSequenceNumber"`
	IsSequentialMessage               bool   `json:"IsSequentialMessage"`
}

// Handshake action types and statuses (§5.3).
const (
	ActionSessionType   = "SessionType"
	ActionKMSEncryption = "KMSEncryption"

	StatusSuccess     = 1
	StatusFailed      = 2
	StatusUnsupported = 3
)

// HandshakeRequest is the agent's PayloadType 5 body.
type HandshakeRequest struct {
	AgentVersion           string                  `json:"AgentVersion"`
	RequestedClientActions []RequestedClientAction `json:"RequestedClientActions"`
}

// RequestedClientAction is one action of a HandshakeRequest. ActionParameters is a SessionTypeRequest or a
// KMSEncryptionRequest when encoding; raw JSON when decoding.
type RequestedClientAction struct {
	ActionType       string `json:"ActionType"`
	ActionParameters any    `json:"ActionParameters"`
}

// SessionTypeRequest is the parameter of the SessionType action.
type SessionTypeRequest struct {
	SessionType string `json:"SessionType"`
	Properties  any    `json:"Properties"`
}

// KMSEncryptionRequest is the parameter of the KMSEncryption action.
type KMSEncryptionRequest struct {
	KMSKeyID  string `json:"KMSKeyId"`
	Challenge string `json:"Challenge,omitempty"`
}

// HandshakeResponse is the client's PayloadType 6 body.
type HandshakeResponse struct {
	ClientVersion          string                  `json:"ClientVersion"`
	ProcessedClientActions []ProcessedClientAction `json:"ProcessedClientActions"`
	Errors                 []string                `json:"Errors"`
}

// ProcessedClientAction is the client's answer to one requested action.
type ProcessedClientAction struct {
	ActionType   string          `json:"ActionType"`
	ActionStatus int             `json:"ActionStatus"`
	ActionResult json.RawMessage `json:"ActionResult"`
	Error        string          `json:"Error"`
}

// KMSEncryptionResponse is the ActionResult of a KMSEncryption action.
type KMSEncryptionResponse struct {
	KMSCipherTextKey         []byte `json:"KMSCipherTextKey"`
	KMSCipherTextHash        []byte `json:"KMSCipherTextHash"`
	ChallengeAcknowledgement bool   `json:"ChallengeAcknowledgement,omitempty"`
}

// HandshakeComplete is the agent's PayloadType 7 body. HandshakeTimeToComplete is in nanoseconds.
type HandshakeComplete struct {
	HandshakeTimeToComplete int64  `json:"HandshakeTimeToComplete"`
	CustomerMessage         string `json:"CustomerMessage"`
}

// EncryptionChallenge is the body of PayloadTypes 8 and 9: base64 of nonce‖ciphertext‖tag.
type EncryptionChallenge struct {
	Challenge []byte `json:"Challenge"`
}

// SizeData is the client's PayloadType 3 body.
type SizeData struct {
	Cols uint32 `json:"cols"`
	Rows uint32 `json:"rows"`
}

// OpenDataChannel is the client's first (text) websocket frame (§3.2).
type OpenDataChannel struct {
	MessageSchemaVersion string `json:"MessageSchemaVersion"`
	RequestId            string `json:"RequestId"`
	TokenValue           string `json:"TokenValue"`
	ClientId             string `json:"ClientId"`
	ClientVersion        string `json:"ClientVersion,omitempty"`
}

// ChannelClosedBody is the payload of channel_closed as MGS sends it (§2.5).
type ChannelClosedBody struct {
	MessageId     string `json:"MessageId"`
	CreatedDate   string `json:"CreatedDate"`
	DestinationId string `json:"DestinationId"`
	SessionId     string `json:"SessionId"`
	MessageType   string `json:"MessageType"`
	SchemaVersion int    `json:"SchemaVersion"`
	Output        string `json:"Output"`
}

// ExitCodePayload renders a PayloadType 12 body.
func ExitCodePayload(code int) []byte { return []byte("EXIT_CODE: " + strconv.Itoa(code)) }

// ParseExitCode parses a PayloadType 12 body.
func ParseExitCode(p []byte) (int, error) {
	s, ok := strings.CutPrefix(string(p), "EXIT_CODE: ")
	if !ok {
		return 0, fmt.Errorf("wire: bad exit code payload %q", p)
	}
	return strconv.Atoi(strings.TrimSpace(s))
}
