package ssmtest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ssmwire/ssmwire/internal/testkit"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// TestBacklogModel drives the back-pressure model with a raw client and the fake agent: pause above the
// high-water mark, SentWhilePaused only after the client read the pause, start at the low-water mark, and
// channel_closed past the limit.
func TestBacklogModel(t *testing.T) {
	s := newTestServer(t, &Options{Backlog: Backlog{HighWater: 4 << 10, LowWater: 1 << 10, Limit: 16 << 10}}, true)
	id, url, token := startShell(t, s)
	ws := dial(t, url, token)
	kib := strings.Repeat("k", 1024)
	send := func(seq int64) {
		t.Helper()
		if err := ws.WriteMessage(websocket.BinaryMessage, input(t, seq, kib)); err != nil {
			t.Fatal(err)
		}
	}
	// readUntil reads messages up to and including the first of type typ.
	readUntil := func(typ string) *wire.Message {
		t.Helper()
		for {
			m, err := readMessage(t, ws)
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			if m.Type == typ {
				return m
			}
		}
	}
	stats := func() SessionStats { return s.Session(id).Stats }

	s.Faults().StopAcking.Store(true)
	for seq := range int64(5) { // the fifth KiB passes the 4 KiB high-water mark
		send(seq)
	}
	readUntil(wire.PausePublication)
	send(5) // written before the client read the ping that followed the pause: in flight, not counted
	readUntil(wire.OutputStreamData)
	send(6) // the pong went out before this one
	testkit.WaitFor(t, "seq 6 at the agent", func() bool { return stats().MaxBacklog == 7<<10 })
	if st := stats(); st.BacklogPauses != 1 || st.SentWhilePaused != 1 || st.MaxBacklog != 7<<10 {
		t.Fatalf("after the pause: BacklogPauses %d, SentWhilePaused %d, MaxBacklog %d; want 1, 1, 7168",
			st.BacklogPauses, st.SentWhilePaused, st.MaxBacklog)
	}

	// The agent acknowledges again; the client resends what was not acknowledged and the backlog drains.
	s.Faults().StopAcking.Store(false)
	for seq := range int64(7) {
		send(seq)
	}
	readUntil(wire.StartPublication)
	send(7)
	testkit.WaitFor(t, "seq 7 read", func() bool { return stats().ClientResends == 7 && stats().FramesToAgent >= 15 })
	if st := stats(); st.BacklogStarts != 1 || st.SentWhilePaused != 7 || st.ClientResends != 7 || st.Overflows != 0 {
		// The six resends before start_publication count as sent while paused too.
		t.Fatalf("after draining: BacklogStarts %d, SentWhilePaused %d, ClientResends %d, Overflows %d; want 1, 7, 7, 0",
			st.BacklogStarts, st.SentWhilePaused, st.ClientResends, st.Overflows)
	}

	// A client that ignores the pause gets channel_closed once the backlog passes the limit.
	s.Faults().StopAcking.Store(true)
	for seq := int64(8); seq < 8+17; seq++ {
		if ws.WriteMessage(websocket.BinaryMessage, input(t, seq, kib)) != nil {
			break
		}
	}
	cc := readUntil(wire.ChannelClosed)
	var body wire.ChannelClosedBody
	if err := json.Unmarshal(cc.Payload, &body); err != nil || body.Output != ErrBacklogOverflow.Error() {
		t.Fatalf("channel_closed output %q (%v), want %q", body.Output, err, ErrBacklogOverflow)
	}
	if code := closeCode(t, ws); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d, want 1000", code)
	}
	info := s.Session(id)
	<-info.Done
	info = s.Session(id)
	if !info.Ended || !errors.Is(info.Err, ErrBacklogOverflow) || info.Stats.Overflows != 1 {
		t.Fatalf("session: Ended %v, Err %v, Overflows %d", info.Ended, info.Err, info.Stats.Overflows)
	}
}

func TestBacklogDefaults(t *testing.T) {
	b := Backlog{}.withDefaults()
	if b != (Backlog{HighWater: DefaultBacklogHighWater, LowWater: DefaultBacklogLowWater, Limit: DefaultBacklogLimit}) {
		t.Fatalf("defaults %+v", b)
	}
	b = Backlog{HighWater: 1 << 20}.withDefaults()
	if b.LowWater > b.HighWater || b.Limit < b.HighWater {
		t.Fatalf("derived marks %+v", b)
	}
}

// TestInputAckSeq checks the direct reading of acknowledgements against encoding/json.
func TestInputAckSeq(t *testing.T) {
	for _, tc := range []struct {
		payload string
		seq     int64
		ok      bool
	}{
		{`{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageId":"x","AcknowledgedMessageSequenceNumber":42,"IsSequentialMessage":true}`, 42, true},
		{`{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageSequenceNumber":7}`, 7, true},
		{`{"AcknowledgedMessageSequenceNumber": 9, "AcknowledgedMessageType": "input_stream_data"}`, 9, true},
		{`{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageSequenceNumber":3}`, 0, false},
		{`{"AcknowledgedMessageType":"input_stream_data","AcknowledgedMessageSequenceNumber":1e3}`, 0, false},
		{`not json`, 0, false},
	} {
		seq, ok := inputAckSeq([]byte(tc.payload))
		if seq != tc.seq || ok != tc.ok {
			t.Errorf("inputAckSeq(%s) = %d, %v; want %d, %v", tc.payload, seq, ok, tc.seq, tc.ok)
		}
	}
}
