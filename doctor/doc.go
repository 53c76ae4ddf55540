// Package doctor checks, in order, everything a first session depends on, and says what to do about each
// failure: credentials (where they came from, the identity STS reports, the expiry of an SSO login), the
// region, the endpoints and the proxy in use, TLS trust to the SSM API and to the data-channel host, the
// target (ping status, agent version, platform), the session document and the KMS key the account's
// Session Manager preferences name, the session-manager-plugin the AWS CLI would run, and, given a target,
// one real session (StartSession, handshake, a round trip, terminate), timed step by step.
//
// [Run] yields one [Result] per check as it completes, so that a program prints each line as it comes:
//
//	for r := range doctor.Run(ctx, &doctor.Config{Load: load, Target: "i-0123456789abcdef0"}) {
//		fmt.Println(r.Status, r.Check, r.Message)
//	}
//
// A check that cannot run because an earlier one failed (no credentials: no STS, no target) is
// [Skipped] with the reason, never failed twice for one cause. [Passed] says whether a run passed: every
// check passed, warned or was skipped for lack of a target, and none failed.
//
// The package uses only what the ssmwire root package and package ecsexec export, the AWS SDK (STS, SSM,
// KMS, ECS) and internal/awsnet (the programs' proxy rules, so that it reports the proxy they use); it prints
// nothing, and its network probes use the CA roots and the proxy the SDK itself would use.
package doctor
