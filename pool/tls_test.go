package pool_test

import (
	"fmt"
	"testing"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/pool"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestPoolOverTLS: a pool's sessions dial, and redial after dropped websockets, over TLS with the roots of
// the aws.Config's HTTP client.
func TestPoolOverTLS(t *testing.T) {
	srv := ssmtest.NewTLSServer(&ssmtest.Options{NoPacing: true})
	t.Cleanup(srv.Close)
	port := testkit.EchoServer(t)
	c := ssmwire.NewFromAWSConfig(srv.AWSConfig())
	p, err := pool.New(c, target, ssmwire.Remote{Port: port}, &pool.Config{MaxSessions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := testkit.Context(t)
	for round := range 2 {
		for i := range 3 {
			conn, err := p.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			echo(t, conn, fmt.Sprintf("round %d connection %d", round, i))
			conn.Close()
		}
		srv.CloseClientConnections()
	}
	if st := srv.Stats(); st.Resumes < 1 {
		t.Errorf("stats %+v: no session resumed over TLS", st.SessionStats)
	}
}
