// Package ecsexec reaches the containers of Amazon ECS tasks through Session Manager: [Start] runs a command
// in a container with ECS Exec (the ExecuteCommand API) and attaches to its session, and [SessionTarget]
// turns an ecs:CLUSTER/TASK[/CONTAINER] target into the container's own Session Manager target
// (ecs:CLUSTER_TASKID_RUNTIMEID, found with DescribeTasks) for the sessions ExecuteCommand cannot start: port
// forwarding and SSH.
//
//	t, _ := ssmwire.ParseTarget("ecs:prod/0123456789abcdef/app")
//	s, err := ecsexec.Start(ctx, client, ecs.NewFromConfig(cfg), t, "/bin/sh")
//	if err != nil { ... }
//	defer s.Close()
//	err = s.Shell(ctx, &shell.Config{Terminal: true})
//
//	st, err := ecsexec.SessionTarget(ctx, ecs.NewFromConfig(cfg), t)
//	tun, err := client.Forward(ctx, st.ID, ssmwire.Remote{Port: 8080})
//
// It is built only on what the root package exports ([ssmwire.Client.Attach], [ssmwire.Classify]), and is a
// package of its own so that programs that never call ECS (the session-manager-plugin, which is handed the
// ExecuteCommand response by the AWS CLI) do not link the ECS SDK client, whose package initialisers alone
// allocate about 1 MB.
package ecsexec
