package pool_test

import (
	"bufio"
	"context"
	"fmt"
	"net"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/pool"
)

// Spread connections to one destination over several sessions: the agent paces every session (about
// 0.8 MiB/s each way), so parallel transfers go faster on sessions of their own. A session is started only
// when every open one carries a connection; idle extra sessions close after PoolConfig.IdleTimeout.
func ExampleNew() {
	c, srv := exampleClient()
	defer srv.Close()
	dbPort, stop := startDatabase()
	defer stop()
	ctx := context.Background()

	pool, err := pool.New(c, "i-0123456789abcdef0", ssmwire.Remote{Port: dbPort}, &pool.Config{MaxSessions: 2})
	if err != nil {
		fmt.Println("pool:", err)
		return
	}
	defer pool.Close()
	var conns []net.Conn
	for range 3 {
		conn, err := pool.Dial(ctx) // or pool.Serve(ctx, listener)
		if err != nil {
			fmt.Println("dial:", err)
			return
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	for _, conn := range conns {
		fmt.Fprintf(conn, "PING\n")
		reply, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			fmt.Println("read:", err)
			return
		}
		fmt.Print(reply)
	}
	fmt.Println(len(pool.Sessions()), "sessions carry", len(conns), "connections")
	// Output:
	// +PONG
	// +PONG
	// +PONG
	// 2 sessions carry 3 connections
}
