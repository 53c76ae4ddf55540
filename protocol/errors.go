package protocol

import "errors"

// Sentinel errors. Parse and AppendMarshal return them wrapped in a
// *ParseError; test with errors.Is.
var (
	ErrShortMessage   = errors.New("protocol: message shorter than the 120-byte header")
	ErrTooLarge       = errors.New("protocol: message larger than MaxMessageSize")
	ErrHeaderLength   = errors.New("protocol: HeaderLength is not 116")
	ErrPayloadLength  = errors.New("protocol: PayloadLength does not match the frame")
	ErrMessageType    = errors.New("protocol: MessageType empty or longer than 32 bytes")
	ErrCreatedDate    = errors.New("protocol: CreatedDate is zero")
	ErrDigestMismatch = errors.New("protocol: PayloadDigest does not match the payload")
	ErrUUID           = errors.New("protocol: malformed UUID")
	ErrFlag           = errors.New("protocol: flag payload is not 4 bytes")
	ErrExitCode       = errors.New("protocol: malformed EXIT_CODE payload")
)

// ParseError reports which operation and field failed. Err is one of the
// sentinels above, possibly wrapped with detail.
type ParseError struct {
	Op    string // "parse", "marshal", "parse acknowledge", …
	Field string // header or JSON field name; may be empty
	Err   error
}

func (e *ParseError) Error() string {
	s := e.Op
	if e.Field != "" {
		s += " " + e.Field
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
