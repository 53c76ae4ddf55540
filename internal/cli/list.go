package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ssmwire/ssmwire"
)

func listCommand() *command {
	return &command{
		name:    "list",
		args:    "",
		summary: "List the tunnels of the configuration file",
		help: `
Shows each tunnel's name, target, profile, region and forwards, as 'ssmwire up' would start
them.

Examples:
  ssmwire list
  ssmwire list --json --config ./tunnels.toml`,
		run: runList,
	}
}

func targetsCommand() *command {
	return &command{
		name:    "targets",
		args:    "",
		summary: "List managed nodes with their names, addresses and ping status",
		help: `
Nodes come from SSM DescribeInstanceInformation. Name tags, private addresses and private DNS
names of EC2 instances come from EC2 DescribeInstances (permission ec2:DescribeInstances;
without it they are missing, with a warning); those of hybrid nodes (mi-…) from SSM
ListTagsForResource. Any of these names a TARGET. The ids and Name tags are also saved in the
user cache directory (ssmwire/targets) for TAB completion (ssmwire help completion).

Examples:
  ssmwire targets
  ssmwire targets --json | jq -r 'select(.ping_status == "Online") | .id'`,
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
	nodes, missing, err := listNodes(ctx, c.ssm, c.ec2)
	if err != nil {
		return c.explain(fmt.Errorf("list managed nodes: %w", err))
	}
	if missing != nil {
		a.warnf("%s", c.describeMissing(missing))
	}
	// TAB completion offers these targets without calling AWS (ssmwire completion).
	if err := writeTargets(targetsCachePath(a.env), nodes); err != nil {
		a.warnf("%v", err)
	}
	if a.g.json {
		enc := json.NewEncoder(a.stdout)
		for _, in := range nodes {
			enc.Encode(struct {
				ID             string `json:"id"`
				Name           string `json:"name"`
				PingStatus     string `json:"ping_status"`
				Platform       string `json:"platform"`
				IPAddress      string `json:"ip_address"`
				PrivateDNSName string `json:"private_dns_name,omitempty"`
				ComputerName   string `json:"computer_name"`
				AgentVersion   string `json:"agent_version"`
			}{in.ID, in.Name, in.PingStatus, in.Platform, in.IPAddress, in.PrivateDNSName, in.ComputerName, in.AgentVersion})
		}
		return nil
	}
	// --quiet silences chatter, never what was asked for.
	_, err = io.WriteString(a.stdout, nodeTable(nodes))
	return err
}

// nodeTable formats nodes as aligned columns under a header line.
func nodeTable(nodes []ssmwire.Instance) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPING\tPLATFORM\tADDRESS\tDNS NAME\tAGENT")
	for _, in := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.ID, dash(in.Name), in.PingStatus, dash(in.Platform),
			dash(in.IPAddress), dash(in.PrivateDNSName), dash(in.AgentVersion))
	}
	tw.Flush()
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
