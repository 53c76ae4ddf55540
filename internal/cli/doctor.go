package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmwire/ssmwire/doctor"
)

func doctorCommand() *command {
	return &command{
		name:    "doctor",
		args:    "[TARGET]",
		summary: "check everything a session needs and say what to fix",
		help: `
Checks, in order, and prints one line each (✔ passed, ! warning, ✘ failed, - skipped), with
what to do under every ✘ and !:

  credentials       where they came from (environment, profile, SSO, instance or container
                    role...), the identity STS GetCallerIdentity reports, when SSO expires
  region            the region in use and where it was set
  endpoints         the SSM, KMS and STS endpoints and the data-channel host (ssmmessages)
  proxy             the proxy HTTPS_PROXY/NO_PROXY select, and whether it lets us through
  tls-api           a TLS handshake with the SSM endpoint, trusting what the SDK trusts
  tls-data-channel  (AWS_CA_BUNDLE, ca_bundle); the same with the data-channel host
  target            ping status, agent version, platform (DescribeInstanceInformation);
                    a warning when the agent is too old for multiplexed port forwarding
  session-document  the Session Manager preferences (SSM-SessionManagerRunShell) and the
  kms-key           KMS key they name, if any (DescribeKey)
  plugin            the session-manager-plugin the AWS CLI would run (first on PATH):
                    ssmwire's or AWS's, and its version
  session           with TARGET, a real session: StartSession, handshake, one round trip
                    through the shell, terminate, each timed

STS is called at AWS_ENDPOINT_URL_STS or AWS_ENDPOINT_URL when set, else AWS's: --endpoint-url
names the SSM, ECS and KMS endpoint only (a VPC endpoint, say). The proxy comes from HTTPS_PROXY,
HTTP_PROXY and NO_PROXY as Go reads them (upper case first).

The exit status is 0 when no check failed (warnings allowed), non-zero otherwise. With --json
each check is one JSON object per line: check, status (pass, warn, fail, skip), message, fix,
details and, for the session, steps.

Examples:
  ssmwire doctor                        credentials, region, network and plugin
  ssmwire doctor web-1                  ... and the instance tagged Name=web-1, with a session
  ssmwire doctor --profile prod --region eu-west-1 i-0123456789abcdef0
  ssmwire doctor --json i-0123456789abcdef0 | jq -r 'select(.status=="fail") | .fix`,
		run: runDoctor,
	}
}

// doctorMarks are the line prefixes of each status.
var doctorMarks = map[doctor.Status]string{doctor.Pass: "✔", doctor.Warn: "!", doctor.Fail: "✘", doctor.Skipped: "-"}

func runDoctor(ctx context.Context, a *app, _ *cmdOptions, args []string) error {
	if len(args) > 1 {
		return usagef("doctor: one TARGET at most")
	}
	var target string
	if len(args) == 1 {
		target = args[0]
	}
	s := a.g.aws
	profile := s.Profile
	if profile == "" {
		profile = a.env.Get("AWS_PROFILE")
	}
	cfg := &doctor.Config{
		Load: func(ctx context.Context) (aws.Config, error) {
			ls := s
			ls.noRegionOK = true
			c, err := loadClients(ctx, a.env, ls, a.log)
			if err != nil {
				return aws.Config{}, err
			}
			return c.cfg, nil
		},
		Profile: profile,
		Region:  s.Region,
		Endpoint: func(service string) string {
			if service == "STS" { // --endpoint-url names SSM, ECS and KMS only
				return firstNonEmpty(a.env.Get("AWS_ENDPOINT_URL_STS"), a.env.Get("AWS_ENDPOINT_URL"))
			}
			return aws.ToString(endpoint(a.env, s, service, nil))
		},
		Target: target,
		Env:    a.env,
		Logger: a.log,
	}
	failed := 0
	enc := json.NewEncoder(a.stdout)
	for r := range doctor.Run(ctx, cfg) {
		if r.Status == doctor.Fail {
			failed++
		}
		switch {
		case a.g.json:
			if err := enc.Encode(r); err != nil {
				return err
			}
		case a.g.quiet && r.Status != doctor.Fail:
		default:
			fmt.Fprintf(a.stdout, "%s %-17s %s\n", doctorMarks[r.Status], r.Check, r.Message)
			if r.Fix != "" && (r.Status == doctor.Fail || r.Status == doctor.Warn) {
				fmt.Fprintf(a.stdout, "  %-17s → %s\n", "", r.Fix)
			}
		}
	}
	if !a.g.json && !a.g.quiet {
		switch failed {
		case 0:
			fmt.Fprintln(a.stdout, "\nNo problem found.")
		case 1:
			fmt.Fprintln(a.stdout, "\n1 check failed: fix the first ✘ first, then run ssmwire doctor again.")
		default:
			fmt.Fprintf(a.stdout, "\n%d checks failed: fix the first ✘ first, then run ssmwire doctor again.\n", failed)
		}
	}
	if failed > 0 {
		return &exitCodeError{ExitError}
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
