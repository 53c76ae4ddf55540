package portforward_test

import (
	"net"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// A port session keeps carrying data both ways across many websocket reconnections, each one cutting the
// link while data is in flight (ssmtest's KillEvery), in mux and in basic mode. (The official plugin lost port sessions on
// reconnection until 1.2.835.0; this client resumes below the port layer, so the forward never notices.)
func TestPortSessionSurvivesReconnections(t *testing.T) {
	const rounds, size = 20, 128 << 10
	for _, tc := range []struct {
		name  string
		agent string
		mode  portforward.Mode
	}{{"mux", "", portforward.ModeMux}, {"basic", oldAgent, portforward.ModeBasic}} {
		t.Run(tc.name, func(t *testing.T) {
			testkit.CheckGoroutines(t, nil)
			srv := newServer(t, &ssmtest.Options{AgentVersion: tc.agent})
			echo := newEchoServer(t)
			f, s := newForwarder(t, srv, ssmtest.DocPortForwarding, map[string][]string{"portNumber": {echo.port}}, nil)
			if f.Mode() != tc.mode {
				t.Fatalf("mode %v, want %v", f.Mode(), tc.mode)
			}
			addr, _ := serve(t, f)
			long, err := net.Dial("tcp", addr) // one connection through every reconnection
			if err != nil {
				t.Fatal(err)
			}
			defer long.Close()
			// Cut the websocket every 96 KiB of stream data: in the middle of every echo, both directions.
			srv.Faults().KillEvery.Store(96 << 10)
			for round := 0; srv.Session(s.ID()).Stats.Attaches < rounds+1; round++ {
				if round == 10*rounds {
					t.Fatalf("only %d reconnections after %d echoes", srv.Session(s.ID()).Stats.Attaches-1, round)
				}
				if err := echoCheck(long, size); err != nil {
					t.Fatalf("round %d: echo on the long-lived connection: %v", round, err)
				}
				if tc.mode == portforward.ModeMux { // and a new connection in between
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					if err := echoCheck(c, 4<<10); err != nil {
						t.Fatalf("round %d: echo on a new connection: %v", round, err)
					}
					c.Close()
				}
			}
			srv.Faults().KillEvery.Store(0)
			if err := echoCheck(long, size); err != nil {
				t.Fatalf("after %d reconnections: %v", rounds, err)
			}
			st := srv.Session(s.ID()).Stats
			t.Logf("%d attaches, %d resumes, %d kills, client resent %d messages", st.Attaches, st.Resumes, st.Faults.Kills, s.Stats().Resent)
			if st.Attaches < rounds+1 || st.Resumes < rounds {
				t.Fatalf("%d attaches and %d resumes, want %d and %d", st.Attaches, st.Resumes, rounds+1, rounds)
			}
			select {
			case <-s.Done():
				t.Fatalf("session ended: %v", s.Err())
			default:
			}
		})
	}
}
