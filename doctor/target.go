package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
)

// targetInfo is what the target check learnt.
type targetInfo struct {
	id           string
	platformType string          // "Linux", "Windows", "MacOS"; "" for ECS targets
	ecs          *ssmwire.Target // an ecs:CLUSTER/TASK[/CONTAINER] target, reached with ECS ExecuteCommand
}

// region reports the region in use.
func (d *run) region(context.Context) []Result {
	if d.loadErr != nil {
		return skip(CheckRegion, "no AWS configuration")
	}
	if d.aws.Region == "" {
		return one(Result{Check: CheckRegion, Status: Fail, Message: "no region configured",
			Fix: fmt.Sprintf("use --region, set AWS_REGION, or run: aws configure set region REGION --profile %s", d.profile)})
	}
	from := "profile " + d.profile
	switch {
	case d.cfg.Region != "" && d.cfg.Region == d.aws.Region:
		from = "the command line"
	case d.env.get("AWS_REGION") == d.aws.Region:
		from = "AWS_REGION"
	case d.env.get("AWS_DEFAULT_REGION") == d.aws.Region:
		from = "AWS_DEFAULT_REGION"
	}
	return one(Result{Check: CheckRegion, Status: Pass, Message: d.aws.Region + " (from " + from + ")",
		Details: map[string]string{"region": d.aws.Region, "source": from}})
}

// ssmClient is SSM at the checked endpoint, with the environment's proxy.
func (d *run) ssmClient() *ssm.Client {
	return ssm.NewFromConfig(d.aws, func(o *ssm.Options) {
		o.BaseEndpoint = aws.String(d.net.ssm.String())
		o.HTTPClient = d.httpClient()
		o.RetryMaxAttempts = 1 // a diagnosis reports what happens, it does not wait for retries
	})
}

// kmsClient is KMS at the checked endpoint, with the environment's proxy.
func (d *run) kmsClient() *kms.Client {
	return kms.NewFromConfig(d.aws, func(o *kms.Options) {
		o.BaseEndpoint = aws.String(d.net.kms.String())
		o.HTTPClient = d.httpClient()
		o.RetryMaxAttempts = 1 // a diagnosis reports what happens, it does not wait for retries
	})
}

// ecsClient is ECS at its configured endpoint (or the SDK's), with the environment's proxy.
func (d *run) ecsClient() *ecs.Client {
	return ecs.NewFromConfig(d.aws, func(o *ecs.Options) {
		if ep := d.cfg.Endpoint("ECS"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.HTTPClient = d.httpClient()
		o.RetryMaxAttempts = 1
	})
}

// apiReady says why an API check cannot run, or "".
func (d *run) apiReady() string {
	switch {
	case !d.credsOK:
		return "no working credentials"
	case d.net == nil:
		return "no endpoints"
	case !d.proxyOK:
		return "the proxy check failed"
	}
	return ""
}

// apiFailure explains a failed API call: the library's advice when it recognises the error.
func (d *run) apiFailure(check, what string, err error) Result {
	r := Result{Check: check, Status: Fail, Err: err, Message: what + ": " + brief(err)}
	var ae *ssmwire.APIError
	if errors.As(ssmwire.Classify(err), &ae) {
		r.Fix = ae.Advice(d.profile)
	} else {
		r.Fix = "see the checks above; run again with --debug for details"
	}
	return r
}

// target checks the target's registration: ping status, agent version, platform.
func (d *run) target(ctx context.Context) []Result {
	if d.cfg.Target == "" {
		return skip(CheckTarget, "no TARGET given")
	}
	if why := d.apiReady(); why != "" {
		return skip(CheckTarget, why)
	}
	t, err := ssmwire.ParseTarget(d.cfg.Target)
	if err != nil {
		return one(Result{Check: CheckTarget, Status: Fail, Err: err, Message: err.Error(),
			Fix: "name an instance id (i-…), a managed instance id (mi-…), a Name tag or ecs:CLUSTER_TASK_RUNTIMEID"})
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	api := d.ssmClient()
	switch t.Kind {
	case ssmwire.TargetECS:
		st, err := ecsexec.SessionTarget(ctx, d.ecsClient(), t)
		if err != nil {
			return one(d.apiFailure(CheckTarget, "ECS DescribeTasks", err))
		}
		d.tgt = &targetInfo{id: st.ID, ecs: &t}
		return one(Result{Check: CheckTarget, Status: Pass,
			Message: fmt.Sprintf("%s: an ECS container, Session Manager target %s (ECS DescribeTasks)", t.Raw, st.ID),
			Details: map[string]string{"id": st.ID}})
	case ssmwire.TargetSSMString:
		d.tgt = &targetInfo{id: t.ID}
		return one(Result{Check: CheckTarget, Status: Pass, Message: t.ID + ": an ECS container (no instance information; the session check reaches it)",
			Details: map[string]string{"id": t.ID}})
	case ssmwire.TargetName:
		if t, err = ssmwire.Resolve(ctx, api, t); err != nil {
			r := d.apiFailure(CheckTarget, "resolve the Name tag "+t.Raw, err)
			var nf *ssmwire.NotFoundError
			var amb *ssmwire.AmbiguousError
			switch {
			case errors.As(err, &nf):
				r.Message = err.Error()
				r.Fix = fmt.Sprintf("check the name and the region (%s): `ssmwire targets` lists the managed instances", d.aws.Region)
			case errors.As(err, &amb):
				r.Message = strings.ReplaceAll(err.Error(), "\n", ";")
				r.Fix = "name the instance by its id"
			}
			return one(r)
		}
	}
	out, err := api.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{
		Filters: []ssmtypes.InstanceInformationStringFilter{{Key: aws.String("InstanceIds"), Values: []string{t.ID}}},
	})
	if err != nil {
		return one(d.apiFailure(CheckTarget, "DescribeInstanceInformation", err))
	}
	if len(out.InstanceInformationList) == 0 {
		return one(Result{Check: CheckTarget, Status: Fail, Message: fmt.Sprintf("%s is not a managed instance in %s", t.ID, d.aws.Region),
			Fix: "check the region; the instance needs SSM Agent running and a role allowing Systems Manager (AmazonSSMManagedInstanceCore)"})
	}
	ii := out.InstanceInformationList[0]
	version := aws.ToString(ii.AgentVersion)
	platform := strings.TrimSpace(aws.ToString(ii.PlatformName) + " " + aws.ToString(ii.PlatformVersion))
	r := Result{Check: CheckTarget, Status: Pass, Details: map[string]string{
		"id": t.ID, "ping_status": string(ii.PingStatus), "agent_version": version,
		"platform_type": string(ii.PlatformType), "platform": platform,
	}}
	r.Message = fmt.Sprintf("%s %s, agent %s, %s (%s)", t.ID, ii.PingStatus, version, platform, ii.PlatformType)
	if ii.PingStatus != ssmtypes.PingStatusOnline {
		r.Status = Fail
		if ii.LastPingDateTime != nil {
			r.Message += ", last ping " + ii.LastPingDateTime.UTC().Format("2006-01-02T15:04:05Z")
		}
		r.Fix = (&ssmwire.APIError{Kind: ssmwire.ErrTargetNotConnected, Target: t.ID}).Advice(d.profile)
		return one(r)
	}
	d.tgt = &targetInfo{id: t.ID, platformType: string(ii.PlatformType)}
	if old := agentLimits(version); old != "" {
		r.Status = Warn
		r.Message += ": " + old
		r.Fix = "update SSM Agent on the target (Run Command document AWS-UpdateSSMAgent)"
	}
	return one(r)
}

// agentLimits says what an agent of this version cannot do that ssmwire uses (docs/protocol.md §9), or "".
func agentLimits(version string) string {
	var missing []string
	if ssmwire.AgentForwardMode(version) != ssmwire.ModeMux {
		missing = append(missing, "multiplexed port forwarding (needs agent > 3.0.196.0; forwards carry one connection at a time)")
	}
	if !ssmwire.AgentSupportsTerminateFlag(version) {
		missing = append(missing, "ending port sessions in-band (needs agent > 2.3.722.0)")
	}
	if len(missing) == 0 {
		return ""
	}
	return "too old for " + strings.Join(missing, " and ")
}

// document reads the account's Session Manager preferences (the SSM-SessionManagerRunShell document) and,
// when they name a KMS key, checks the key with DescribeKey.
func (d *run) document(ctx context.Context) []Result {
	const name = "SSM-SessionManagerRunShell"
	if why := d.apiReady(); why != "" {
		return skip(CheckDocument, why)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	out, err := d.ssmClient().GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(name)})
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode() == "InvalidDocument":
		return one(Result{Check: CheckDocument, Status: Pass,
			Message: name + " does not exist: no Session Manager preferences saved (no KMS encryption, default shell)"})
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		return one(Result{Check: CheckDocument, Status: Warn, Err: err,
			Message: "cannot read the Session Manager preferences (" + name + "): access denied",
			Fix:     "sessions do not need it, but to check a KMS key ask for ssm:GetDocument on " + name})
	case err != nil:
		return one(d.apiFailure(CheckDocument, "GetDocument "+name, err))
	}
	var doc struct {
		SessionType string `json:"sessionType"`
		Inputs      struct {
			KMSKeyID     string `json:"kmsKeyId"`
			RunAsEnabled bool   `json:"runAsEnabled"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(out.Content)), &doc); err != nil {
		return one(Result{Check: CheckDocument, Status: Fail, Err: err, Message: name + " is not valid JSON: " + err.Error(),
			Fix: "open Session Manager preferences in the console and save them again"})
	}
	r := Result{Check: CheckDocument, Status: Pass, Details: map[string]string{"document": name, "session_type": doc.SessionType}}
	if doc.SessionType != "Standard_Stream" {
		r.Status = Fail
		r.Message = fmt.Sprintf("%s has session type %q, not Standard_Stream", name, doc.SessionType)
		r.Fix = "save the Session Manager preferences again in the console, which rewrites the document"
		return one(r)
	}
	if doc.Inputs.KMSKeyID == "" {
		r.Message = name + ": preferences saved, no KMS encryption"
		return one(r)
	}
	r.Details["kms_key"] = doc.Inputs.KMSKeyID
	r.Message = name + ": sessions are encrypted with KMS key " + doc.Inputs.KMSKeyID
	return []Result{r, d.kmsKey(ctx, doc.Inputs.KMSKeyID)}
}

// kmsKey checks that the preferences' key can encrypt: it exists, is enabled and is a symmetric encryption key.
func (d *run) kmsKey(ctx context.Context, id string) Result {
	r := Result{Check: CheckKMSKey, Details: map[string]string{"key": id}}
	out, err := d.kmsClient().DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDeniedException" || api.ErrorCode() == "AccessDenied"):
		r.Status, r.Err = Warn, err
		r.Message = "cannot describe KMS key " + id + ": access denied"
		r.Fix = "sessions need kms:GenerateDataKey on this key; ask for kms:DescribeKey too to let doctor check it"
		return r
	case errors.As(err, &api) && api.ErrorCode() == "NotFoundException":
		r.Status, r.Err = Fail, err
		r.Message = "KMS key " + id + " named by the Session Manager preferences does not exist"
		r.Fix = "every session's handshake will fail: choose an existing key in the Session Manager preferences"
		return r
	case err != nil:
		return d.apiFailure(CheckKMSKey, "DescribeKey "+id, err)
	}
	m := out.KeyMetadata
	r.Details["arn"], r.Details["state"] = aws.ToString(m.Arn), string(m.KeyState)
	if !m.Enabled || m.KeyState != kmstypes.KeyStateEnabled || m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt {
		r.Status = Fail
		r.Message = fmt.Sprintf("KMS key %s is %s (usage %s): sessions cannot be encrypted with it", aws.ToString(m.Arn), m.KeyState, m.KeyUsage)
		r.Fix = "enable the key (or cancel its deletion), or name an enabled symmetric key in the Session Manager preferences"
		return r
	}
	r.Status = Pass
	r.Message = fmt.Sprintf("KMS key %s is enabled (%s)", aws.ToString(m.Arn), m.KeySpec)
	return r
}
