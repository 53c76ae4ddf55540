package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmwire/ssmwire/protocol"
)

// Handshake describes the session as the agent set it up.
type Handshake struct {
	// SessionType is Standard_Stream, InteractiveCommands, NonInteractiveCommands or Port.
	SessionType string
	// Properties are the document's properties as the agent sent them (Port sessions); may be empty.
	Properties json.RawMessage
	// AgentVersion is the agent's version; empty when the session had no handshake.
	AgentVersion string
	// CustomerMessage is shown to the user when non-empty (the official plugin prints it).
	CustomerMessage string
	// Encrypted reports a KMS-encrypted session.
	Encrypted bool
	// Handshaked is false for sessions whose type was inferred from the first output (docs/protocol.md §5.1).
	Handshaked bool
	// Duration is the agent's HandshakeTimeToComplete.
	Duration time.Duration
}

type handshakeState struct {
	ready   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	started bool // a HandshakeRequest arrived
	result  Handshake
	err     error
	ciph    atomic.Pointer[payloadCipher]
}

func (h *handshakeState) init() { h.ready = make(chan struct{}) }

func (h *handshakeState) cipher() *payloadCipher { return h.ciph.Load() }

func (h *handshakeState) markReady(err error) {
	h.once.Do(func() {
		h.mu.Lock()
		h.err = err
		h.mu.Unlock()
		close(h.ready)
	})
}

// fail unblocks Ready when the session ends before the handshake finished.
func (h *handshakeState) fail(err error) {
	if err == nil {
		err = errors.New("session: ended before the session was ready")
	}
	h.markReady(err)
}

// sawOutput makes a session without handshake ready at its first output.
func (h *handshakeState) sawOutput() {
	h.mu.Lock()
	started := h.started
	if !started && h.result.SessionType == "" {
		h.result.SessionType = protocol.SessionTypeStandardStream
	}
	h.mu.Unlock()
	if !started {
		h.markReady(nil)
	}
}

// Ready waits until the session type is known: HandshakeComplete arrived, or, for sessions without a
// handshake, the first output. It returns the handshake's failure, or the session's if it ended first.
func (s *Channel) Ready(ctx context.Context) (*Handshake, error) {
	select {
	case <-s.hs.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("session: ready: %w", ctx.Err())
	}
	s.hs.mu.Lock()
	defer s.hs.mu.Unlock()
	if s.hs.err != nil {
		return nil, s.hs.err
	}
	r := s.hs.result
	return &r, nil
}

// onHandshakeRequest answers the agent's requested client actions (docs/protocol.md §5.3). It runs on the reader
// goroutine; the reply bypasses the send window so the reader never blocks on it.
func (s *Channel) onHandshakeRequest(payload []byte) {
	var req protocol.HandshakeRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		s.fail(fmt.Errorf("%w: invalid HandshakeRequest: %v", ErrHandshake, err))
		return
	}
	s.hs.mu.Lock()
	s.hs.started = true
	s.hs.result.AgentVersion = req.AgentVersion
	s.hs.mu.Unlock()

	resp := protocol.HandshakeResponse{ClientVersion: s.cfg.ClientVersion}
	var failure error
	for _, a := range req.RequestedClientActions {
		pa := protocol.ProcessedClientAction{ActionType: a.ActionType, ActionStatus: protocol.ActionSuccess}
		var err error
		switch a.ActionType {
		case protocol.ActionSessionType:
			err = s.processSessionType(a.ActionParameters)
		case protocol.ActionKMSEncryption:
			pa.ActionResult, err = s.processKMS(a.ActionParameters)
		default:
			pa.ActionStatus = protocol.ActionUnsupported
			pa.Error = fmt.Sprintf("Unsupported action %s", a.ActionType)
		}
		if err != nil {
			pa.ActionStatus = protocol.ActionFailed
			pa.Error = fmt.Sprintf("Failed to process action %s: %v", a.ActionType, err)
			resp.Errors = append(resp.Errors, pa.Error)
			if failure == nil {
				// Both wrapped: callers classify the cause (a KMS call without credentials, access denied).
				failure = fmt.Errorf("%w: Failed to process action %s: %w", ErrHandshake, a.ActionType, err)
			}
		}
		resp.ProcessedClientActions = append(resp.ProcessedClientActions, pa)
	}
	b, err := json.Marshal(resp)
	if err == nil {
		err = s.enqueue(s.ctx, protocol.PayloadHandshakeResponse, b, false)
	}
	if err != nil && failure == nil {
		failure = fmt.Errorf("%w: send HandshakeResponse: %v", ErrHandshake, err)
	}
	if failure != nil {
		// The agent ends the session when it reads the failure; Ready reports it now.
		s.hs.markReady(failure)
	}
}

func (s *Channel) processSessionType(params json.RawMessage) error {
	var st protocol.SessionTypeRequest
	if err := json.Unmarshal(params, &st); err != nil {
		return fmt.Errorf("invalid parameters: %v", err)
	}
	switch st.SessionType {
	case protocol.SessionTypeStandardStream, protocol.SessionTypeInteractiveCommands,
		protocol.SessionTypeNonInteractiveCommands, protocol.SessionTypePort:
	default:
		return fmt.Errorf("Unknown session type %s", st.SessionType)
	}
	s.hs.mu.Lock()
	s.hs.result.SessionType = st.SessionType
	if len(st.Properties) > 0 && string(st.Properties) != "null" {
		s.hs.result.Properties = append(json.RawMessage(nil), st.Properties...)
	}
	s.hs.mu.Unlock()
	return nil
}

// processKMS generates the session's data key (docs/protocol.md §5.4) and returns the action result.
func (s *Channel) processKMS(params json.RawMessage) (json.RawMessage, error) {
	if s.cfg.KMS == nil {
		return nil, errors.New("no KMS client configured for an encrypted session")
	}
	var req protocol.KMSEncryptionRequest
	if err := json.Unmarshal(params, &req); err != nil {
		return nil, fmt.Errorf("invalid parameters: %v", err)
	}
	encCtx := map[string]string{"aws:ssm:SessionId": s.id, "aws:ssm:TargetId": s.cfg.TargetID}
	if req.Challenge != "" {
		// Newer agents bind a random challenge into the key's encryption context when we say we used it.
		encCtx["aws:ssm:RandomChallenge"] = req.Challenge
	}
	n := int32(64)
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	out, err := s.cfg.KMS.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId:             &req.KMSKeyId,
		NumberOfBytes:     &n,
		EncryptionContext: encCtx,
	})
	if err != nil {
		return nil, fmt.Errorf("GenerateDataKey: %w", err)
	}
	c, err := newPayloadCipher(out.Plaintext)
	if err != nil {
		return nil, err
	}
	s.hs.ciph.Store(c)
	return json.Marshal(protocol.KMSEncryptionResponse{
		KMSCipherTextKey:         out.CiphertextBlob,
		ChallengeAcknowledgement: req.Challenge != "",
	})
}

// onChallengeRequest proves we hold the data key: open the agent's challenge with the agent→client key and
// seal it again with ours (docs/protocol.md §5.4).
func (s *Channel) onChallengeRequest(payload []byte) {
	c := s.hs.cipher()
	var req protocol.EncryptionChallenge
	if err := json.Unmarshal(payload, &req); err != nil || c == nil {
		s.fail(fmt.Errorf("%w: unexpected or invalid encryption challenge", ErrHandshake))
		return
	}
	plain, err := c.open(req.Challenge)
	if err != nil {
		s.fail(fmt.Errorf("%w: encryption challenge: %w", ErrHandshake, err))
		return
	}
	sealed, err := c.seal(plain)
	if err == nil {
		var b []byte
		b, err = json.Marshal(protocol.EncryptionChallenge{Challenge: sealed})
		if err == nil {
			err = s.enqueue(s.ctx, protocol.PayloadEncChallengeResponse, b, false)
		}
	}
	if err != nil {
		s.fail(fmt.Errorf("%w: answer encryption challenge: %v", ErrHandshake, err))
	}
}

func (s *Channel) onHandshakeComplete(payload []byte) {
	var hc protocol.HandshakeComplete
	if err := json.Unmarshal(payload, &hc); err != nil {
		s.fail(fmt.Errorf("%w: invalid HandshakeComplete: %v", ErrHandshake, err))
		return
	}
	s.hs.mu.Lock()
	s.hs.result.Handshaked = true
	s.hs.result.CustomerMessage = hc.CustomerMessage
	s.hs.result.Duration = hc.HandshakeTimeToComplete
	s.hs.result.Encrypted = s.hs.cipher() != nil
	s.hs.mu.Unlock()
	s.hs.markReady(nil)
}
