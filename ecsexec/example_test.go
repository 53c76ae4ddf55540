package ecsexec_test

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/shell"
)

// Run a command in a container of an ECS task with ECS Exec. The session carries the command's terminal
// (ECS Exec is always interactive), so its lines end in "\r\n".
func ExampleStart() {
	c, srv := clientkit.ExampleClient() // in a program: ssmwire.NewFromAWSConfig(cfg)
	defer srv.Close()
	api := ecs.NewFromConfig(srv.AWSConfig()) // in a program: ecs.NewFromConfig(cfg)
	ctx := context.Background()

	t, err := ssmwire.ParseTarget("ecs:prod/0123456789abcdef/app")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := ecsexec.Start(ctx, c, api, t, "echo hello from the container")
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer s.Close()
	var out strings.Builder
	if err := s.Shell(ctx, &shell.Config{Stdout: &out}); err != nil {
		fmt.Println("shell:", err)
		return
	}
	fmt.Println(strings.TrimSpace(out.String()))
	// Output: hello from the container
}

// Forward a port of an ECS container: ECS Exec carries commands only, so the session is started on the
// container's own Session Manager target, which SessionTarget finds with DescribeTasks.
func ExampleSessionTarget() {
	c, srv := clientkit.ExampleClient()
	defer srv.Close()
	dbPort, stop := clientkit.StartDatabase() // stands in for a service in the container
	defer stop()
	api := ecs.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()

	t, err := ssmwire.ParseTarget("ecs:prod/0123456789abcdef") // the task's only container
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := ecsexec.SessionTarget(ctx, api, t)
	if err != nil {
		fmt.Println("describe:", err)
		return
	}
	fmt.Println(strings.HasPrefix(st.ID, "ecs:prod_0123456789abcdef_"), st.Container)
	tun, err := c.Forward(ctx, st.ID, ssmwire.Remote{Port: dbPort})
	if err != nil {
		fmt.Println("forward:", err)
		return
	}
	defer tun.Close()
	conn, err := tun.Dial(ctx)
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PING\n")
	reply, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		fmt.Println("read:", err)
		return
	}
	fmt.Print(reply)
	// Output:
	// true app
	// +PONG
}
