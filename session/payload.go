package session

// MaxOutputPayload returns how many bytes of Output data one data message carries: Config.MaxPayload, less
// the encryption overhead in a KMS-encrypted session. It is final once the handshake is complete (Ready);
// writers that pack a byte stream into full messages cut it at this size.
func (s *Session) MaxOutputPayload() int { return s.maxPlain() }
