package agent

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// deniedRemoteIPs are the destinations the agent refuses in sessions that name a host (…ToRemoteHost):
// the agent's default DeniedPortForwardingRemoteIPs (instance metadata, Amazon DNS, time sync and their
// IPv6 forms) and, from agent 3.3.4851.0 (2026), the ECS and EKS credential endpoints. Loopback addresses
// are refused as well (isDeniedIP).
var deniedRemoteIPs = []string{
	"169.254.169.254", "fd00:ec2::254", "169.254.169.253", "fd00:ec2::253", "169.254.169.123",
	"fd00:ec2::123", "169.254.169.250", "169.254.169.251", "fd00:ec2::240",
	"169.254.170.2", "169.254.170.23", "fd00:ec2::23", // ECS task / EKS pod identity credentials
}

func isDeniedIP(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	for _, d := range deniedRemoteIPs {
		if ip.Equal(net.ParseIP(d)) {
			return true
		}
	}
	return false
}

const resolveTimeout = 2 * time.Second

// checkRemoteHost applies the agent's port-forwarding denylist to the host a session names, after the
// handshake (port.go validateParameters): the host is resolved and if any of its addresses is denied the
// session fails with "Forwarding to IP address <host as given> is forbidden.". Names in hosts (the emulated
// VPC's names and addresses, Config.Hosts) resolve to permitted addresses; "localhost" and its subdomains
// resolve to loopback without asking the system resolver. A name that does not resolve is not refused here
// (the agent then fails to dial it).
func checkRemoteHost(host string, hosts map[string]string) error {
	if host == "" {
		return nil
	}
	forbidden := fmt.Errorf("Forwarding to IP address %s is forbidden.", host)
	if ip := net.ParseIP(host); ip != nil {
		if isDeniedIP(ip) {
			return forbidden
		}
		return nil
	}
	if _, ok := hosts[host]; ok {
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return forbidden
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && isDeniedIP(ip) {
			return forbidden
		}
	}
	return nil
}
