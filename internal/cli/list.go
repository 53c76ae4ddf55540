package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/ssmwire/ssmwire"
)

func listCommand() *command {
	return &command{
		name:    "list",
		args:    "",
		summary: "List the tunnels of the configuration file",
		run:     runList,
	}
}

func targetsCommand() *command {
	return &command{
		name:    "targets",
		args:    "",
		summary: "List managed instances with their Name tags and ping status",
		help: `
Instances come from SSM DescribeInstanceInformation; Name tags from SSM ListTagsForResource.
An instance whose tags SSM does not show has an empty name.`,
		run: runTargets,
	}
}

// configPath returns --config or the default path.
func (a *app) configPath() string {
	if a.g.config != "" {
		return a.g.config
	}
	return DefaultConfigPath(a.env)
}

// loadConfig reads the configuration file; a parse or validation error is a usage error (exit code 2).
func (a *app) loadConfig() (*File, error) {
	f, err := LoadFile(a.configPath())
	if err != nil && !errors.Is(err, errNoConfig) {
		return nil, &usageError{err.Error()}
	}
	return f, err
}

func runList(_ context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) != 0 {
		return usagef("list takes no arguments")
	}
	f, err := a.loadConfig()
	if err != nil {
		return err
	}
	if a.g.json {
		enc := json.NewEncoder(a.stdout)
		for _, t := range f.Tunnels {
			specs := make([]string, len(t.Forwards))
			for i, fw := range t.Forwards {
				specs[i] = fw.Spec
			}
			var proxy string
			if t.Proxy != nil {
				proxy = t.Proxy.Spec
			}
			enc.Encode(struct {
				Name     string   `json:"name"`
				Target   string   `json:"target"`
				Profile  string   `json:"profile,omitempty"`
				Region   string   `json:"region,omitempty"`
				Forwards []string `json:"forwards"`
				Proxy    string   `json:"proxy,omitempty"`
			}{t.Name, t.Target, t.Profile, t.Region, specs, proxy})
		}
		return nil
	}
	if a.g.quiet {
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTARGET\tPROFILE\tREGION\tFORWARDS")
	for _, t := range f.Tunnels {
		specs := make([]string, len(t.Forwards))
		for i, fw := range t.Forwards {
			specs[i] = fw.Spec
		}
		if t.Proxy != nil {
			specs = append(specs, "proxy "+t.Proxy.Spec)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Target, dash(t.Profile), dash(t.Region), strings.Join(specs, " "))
	}
	return tw.Flush()
}

func runTargets(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) != 0 {
		return usagef("targets takes no arguments")
	}
	c, err := a.clients(ctx, "", "")
	if err != nil {
		return err
	}
	insts, err := ssmwire.ListInstances(ctx, c.ssm)
	if err != nil {
		return c.explain(fmt.Errorf("list managed instances: %w", err))
	}
	if a.g.json {
		enc := json.NewEncoder(a.stdout)
		for _, in := range insts {
			enc.Encode(struct {
				ID           string `json:"id"`
				Name         string `json:"name"`
				PingStatus   string `json:"ping_status"`
				Platform     string `json:"platform"`
				IPAddress    string `json:"ip_address"`
				ComputerName string `json:"computer_name"`
				AgentVersion string `json:"agent_version"`
			}{in.ID, in.Name, in.PingStatus, in.Platform, in.IPAddress, in.ComputerName, in.AgentVersion})
		}
		return nil
	}
	if a.g.quiet {
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPING\tPLATFORM\tIP\tAGENT")
	for _, in := range insts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, dash(in.Name), in.PingStatus, dash(in.Platform), dash(in.IPAddress), dash(in.AgentVersion))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
