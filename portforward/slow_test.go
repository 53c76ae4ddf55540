package portforward_test

import (
	"crypto/rand"
	"crypto/sha256"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestSlowDestinationFewResends uploads 16 MiB to a destination that reads 2 MiB/s, in mux and basic mode,
// with the default pacing. The agent acknowledges only after writing to the destination, so
// acknowledgements come late though nothing is lost: at most 2% of the data messages may be resends, the
// emulated service's back-pressure must never close the channel, and no data may be sent while paused.
func TestSlowDestinationFewResends(t *testing.T) {
	const (
		size = 16 << 20
		rate = 2 << 20
	)
	for _, tc := range []struct {
		name, agent string
		mode        portforward.Mode
	}{{"mux", "", portforward.ModeMux}, {"basic", oldAgent, portforward.ModeBasic}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, &ssmtest.Options{AgentVersion: tc.agent})
			sink := testkit.NewSlowSink(t, rate)
			f, s := newForwarder(t, srv, ssmtest.DocPortForwarding,
				map[string][]string{"portNumber": {strconv.Itoa(sink.Port)}}, nil)
			if f.Mode() != tc.mode {
				t.Fatalf("mode %v, want %v", f.Mode(), tc.mode)
			}
			addr, _ := serve(t, f)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			data := make([]byte, size)
			rand.Read(data)
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			c.Close()
			var got testkit.SinkResult
			for got.Bytes == 0 { // a basic agent's first destination connection may also end empty
				got = sink.Next(t, 2*time.Minute)
			}
			if got.Bytes != size || got.SHA256 != sha256.Sum256(data) {
				t.Fatalf("destination got %d bytes (hash match %v), want %d", got.Bytes, got.SHA256 == sha256.Sum256(data), size)
			}
			cs, st := s.Stats(), srv.Session(s.ID()).Stats
			t.Logf("client: %d sent, %d resent, %d pauses, bound %d; service: %d pauses, %d sent while paused, %d resends seen, max backlog %d",
				cs.MessagesSent, cs.Resent, cs.Pauses, cs.Bound, st.BacklogPauses, st.SentWhilePaused, st.ClientResends, st.MaxBacklog)
			if cs.Resent*50 > cs.MessagesSent || st.ClientResends*50 > cs.MessagesSent {
				t.Errorf("%d resends (service saw %d) for %d data messages: more than 2%%", cs.Resent, st.ClientResends, cs.MessagesSent)
			}
			if st.Overflows != 0 || st.SentWhilePaused != 0 {
				t.Errorf("service: %d overflows, %d data messages sent while paused", st.Overflows, st.SentWhilePaused)
			}
		})
	}
}
