package cli

import "context"

func forwardCommand() *command {
	return &command{name: "forward", args: "TARGET SPEC...", summary: "Forward local ports to TARGET or through it",
		run: func(context.Context, *app, *cmdOptions, []string) error { return usagef("forward: not yet") }}
}

func sshProxyCommand() *command {
	return &command{name: "ssh-proxy", args: "TARGET PORT", summary: "Connect standard input and output to PORT on TARGET",
		run: func(context.Context, *app, *cmdOptions, []string) error { return usagef("ssh-proxy: not yet") }}
}

func upCommand() *command {
	return &command{name: "up", args: "[NAME...]", summary: "Start named tunnels from the configuration file",
		run: func(context.Context, *app, *cmdOptions, []string) error { return usagef("up: not yet") }}
}
