package agent

import (
	"encoding/json"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// TestAckBodyMatchesJSON checks the directly written acknowledgement against encoding/json's.
func TestAckBodyMatchesJSON(t *testing.T) {
	for _, m := range []*wire.Message{
		{Type: wire.InputStreamData, ID: wire.NewID(), Seq: 0},
		{Type: wire.InputStreamData, ID: wire.NewID(), Seq: 1234567890123},
		{Type: "odd<type>\"", ID: wire.NewID(), Seq: -1},
		{Type: "", ID: wire.NewID(), Seq: 7},
	} {
		want, _ := json.Marshal(wire.AckBody{
			AcknowledgedMessageType:           m.Type,
			AcknowledgedMessageId:             wire.FormatID(m.ID),
			AcknowledgedMessageSequenceNumber: m.Seq,
			IsSequentialMessage:               true,
		})
		if got := ackBody(m); string(got) != string(want) {
			t.Errorf("ackBody(%q, %d) = %s; want %s", m.Type, m.Seq, got, want)
		}
	}
}
