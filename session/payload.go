package session

// MaxPayload returns how many bytes of Output data one data message carries: Config.MaxPayload, less
// gcmOverhead (28 bytes, docs/protocol.md §5.4) in a KMS-encrypted session. It is final once the handshake
// is complete (Ready); writers that pack a byte stream into full messages cut it at this size.
func (s *Channel) MaxPayload() int {
	if s.hs.cipher() != nil {
		return s.cfg.MaxPayload - gcmOverhead
	}
	return s.cfg.MaxPayload
}
