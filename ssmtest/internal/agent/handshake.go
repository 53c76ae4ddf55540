package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

const (
	encryptedMessage   = "This session is encrypted using AWS KMS."
	separationNotice   = "Please update session manager plugin version (minimum required version 1.2.312.0) for fully support of separate StdOut/StdErr output.\r\n"
	separationMinimum  = "1.2.295"
	challengeSize      = 64
	randomChallengeLen = 16
)

var (
	errHandshakeTimeout = errors.New("Handshake timed out. Please ensure that you have the latest version of the session manager plugin.")
	errChallengeTimeout = errors.New("Timed out waiting for encryption challenge.")
)

// handshake runs §5.2 from the agent's side. On success the session type logic may start.
func (a *Agent) handshake() error {
	start := time.Now()
	kms := a.cfg.KMSKeyID != ""
	st := wire.SessionTypeRequest{SessionType: a.cfg.SessionType}
	if a.cfg.SessionType == Port && a.cfg.Properties != nil {
		st.Properties = a.cfg.Properties
	}
	req := wire.HandshakeRequest{
		AgentVersion:           a.cfg.Version,
		RequestedClientActions: []wire.RequestedClientAction{{ActionType: wire.ActionSessionType, ActionParameters: st}},
	}
	var challenge string
	if kms {
		c := make([]byte, randomChallengeLen)
		_, _ = rand.Read(c)
		challenge = base64.StdEncoding.EncodeToString(c)
		req.RequestedClientActions = append(req.RequestedClientActions, wire.RequestedClientAction{
			ActionType:       wire.ActionKMSEncryption,
			ActionParameters: wire.KMSEncryptionRequest{KMSKeyID: a.cfg.KMSKeyID, Challenge: challenge},
		})
	}
	if err := a.sendJSON(wire.PTHandshakeRequest, req); err != nil {
		return err
	}

	timer := time.NewTimer(a.cfg.handshakeTimeout)
	defer timer.Stop()
	var resp *wire.HandshakeResponse
	select {
	case resp = <-a.hsResponse:
	case <-timer.C:
		return errHandshakeTimeout
	case <-a.ctx.Done():
		return context.Cause(a.ctx)
	}
	if resp.ClientVersion != "" {
		v := resp.ClientVersion
		a.clientVersion.Store(&v)
	}
	var kmsResult json.RawMessage
	for _, act := range resp.ProcessedClientActions {
		if act.ActionStatus != wire.StatusSuccess {
			return fmt.Errorf("%s failed on client with status %d error: %s", act.ActionType, act.ActionStatus, act.Error)
		}
		if act.ActionType == wire.ActionKMSEncryption {
			kmsResult = act.ActionResult
		}
	}

	var message string
	if kms {
		cp, err := a.dataKey(kmsResult, challenge)
		if err != nil {
			return err
		}
		if err := a.encryptionChallenge(cp, timer); err != nil {
			return err
		}
		a.crypt.Store(cp)
		message = encryptedMessage
	}
	if a.cfg.SessionType == NonInteractiveCommands {
		if _, separate := commandProps(a.cfg.Properties); separate && compareVersions(a.ClientVersion(), separationMinimum) <= 0 {
			message = separationNotice + message
		}
	}
	a.handshakeDone.Store(true)
	return a.sendJSON(wire.PTHandshakeComplete, wire.HandshakeComplete{
		HandshakeTimeToComplete: time.Since(start).Nanoseconds(),
		CustomerMessage:         message,
	})
}

// dataKey decrypts the client's KMS ciphertext into the session's cipher pair.
func (a *Agent) dataKey(result json.RawMessage, challenge string) (*cipherPair, error) {
	var r wire.KMSEncryptionResponse
	if len(result) == 0 || string(result) == "null" {
		return nil, errors.New("Fetching data key failed: the client returned no KMSEncryption result")
	}
	if err := json.Unmarshal(result, &r); err != nil {
		return nil, fmt.Errorf("Fetching data key failed: %w", err)
	}
	encCtx := map[string]string{"aws:ssm:SessionId": a.cfg.SessionID, "aws:ssm:TargetId": a.cfg.TargetID}
	if r.ChallengeAcknowledgement {
		encCtx["aws:ssm:RandomChallenge"] = challenge
	}
	key, err := a.cfg.KMS.Decrypt(a.ctx, r.KMSCipherTextKey, encCtx)
	if err != nil {
		return nil, fmt.Errorf("Fetching data key failed: %w", err)
	}
	cp, err := newCipherPair(key)
	if err != nil {
		return nil, fmt.Errorf("Fetching data key failed: %w", err)
	}
	return cp, nil
}

// encryptionChallenge sends 64 random bytes sealed with the agent key and waits for them to come back
// sealed with the client key. A wrong answer is only recorded: like the real agent, the session then
// fails when the wait runs out.
func (a *Agent) encryptionChallenge(cp *cipherPair, timer *time.Timer) error {
	plain := make([]byte, challengeSize)
	_, _ = rand.Read(plain)
	sealed, err := cp.seal(plain)
	if err != nil {
		return err
	}
	if err := a.sendJSON(wire.PTEncChallengeRequest, wire.EncryptionChallenge{Challenge: sealed}); err != nil {
		return err
	}
	timer.Reset(a.cfg.handshakeTimeout)
	for {
		select {
		case answer := <-a.hsChallenge:
			got, err := cp.open(answer)
			if err == nil && bytes.Equal(got, plain) {
				return nil
			}
			a.log.Info("encryption challenge mismatch", "err", err)
		case <-timer.C:
			return errChallengeTimeout
		case <-a.ctx.Done():
			return context.Cause(a.ctx)
		}
	}
}

func (a *Agent) sendJSON(payloadType uint32, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.sendStream(payloadType, b)
}
