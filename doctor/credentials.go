package doctor

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
)

// credentials loads the configuration, retrieves credentials, names their source, and asks STS who they
// belong to. An SSO login's expiry is read from the SDK's token cache.
func (d *run) credentials(ctx context.Context) []Result {
	r := Result{Check: CheckCredentials, Details: map[string]string{"profile": d.profile}}
	d.aws, d.loadErr = d.cfg.Load(ctx)
	if d.loadErr != nil {
		r.Status, r.Err = Fail, d.loadErr
		r.Message = "cannot load the AWS configuration: " + d.loadErr.Error()
		r.Fix = fmt.Sprintf("check the profile name and the files it lives in (aws configure list-profiles; "+
			"AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE), or run: aws configure --profile %s", d.profile)
		return one(r)
	}
	sso := d.ssoLogin(ctx)
	if sso != nil {
		for k, v := range sso.details() {
			r.Details[k] = v
		}
	}
	if d.aws.Credentials == nil {
		return one(d.credentialFailure(r, ssmwire.ErrNoCredentials, sso))
	}
	tctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	creds, err := d.aws.Credentials.Retrieve(tctx)
	cancel()
	if err != nil {
		return one(d.credentialFailure(r, err, sso))
	}
	source := d.describeSource(creds.Source, sso)
	r.Details["source"] = source
	if creds.CanExpire {
		r.Details["expires"] = creds.Expires.UTC().Format(time.RFC3339)
	}
	tctx, cancel = context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	out, err := d.stsClient().GetCallerIdentity(tctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		r.Status, r.Err = Fail, err
		var api smithy.APIError
		if errors.As(err, &api) {
			r.Message = fmt.Sprintf("credentials from %s were refused by STS GetCallerIdentity: %s: %s", source, api.ErrorCode(), api.ErrorMessage())
			r.Fix = stsAdvice(api.ErrorCode(), d.profile)
		} else {
			r.Message = fmt.Sprintf("credentials from %s, but STS could not be reached: %s", source, brief(err))
			r.Fix = "see the endpoints, proxy and TLS checks below"
		}
		return one(r)
	}
	d.credsOK = true
	r.Details["arn"], r.Details["account"] = aws.ToString(out.Arn), aws.ToString(out.Account)
	r.Message = fmt.Sprintf("%s (account %s) from %s", aws.ToString(out.Arn), aws.ToString(out.Account), source)
	if sso != nil && !sso.expires.IsZero() {
		r.Message += fmt.Sprintf("; SSO login valid until %s", sso.expires.UTC().Format(time.RFC3339))
	}
	return one(r)
}

// credentialFailure explains a failed credential retrieval.
func (d *run) credentialFailure(r Result, err error, sso *ssoLogin) Result {
	r.Status, r.Err = Fail, err
	var ae *ssmwire.APIError
	if !errors.As(ssmwire.Classify(err), &ae) {
		r.Message = "cannot retrieve credentials: " + err.Error()
		r.Fix = "check the credential settings of profile " + d.profile + " (aws configure list --profile " + d.profile + ")"
		return r
	}
	r.Fix = ae.Advice(d.profile)
	switch {
	case errors.Is(ae, ssmwire.ErrSSOExpired) || (sso != nil && sso.expired(d.cfg.Now())):
		r.Fix = (&ssmwire.APIError{Kind: ssmwire.ErrSSOExpired}).Advice(d.profile)
		switch {
		case sso == nil:
			r.Message = "the SSO login has expired"
		case sso.missing:
			r.Message = fmt.Sprintf("no SSO login cached for %s (looked for %s)", sso.name(), sso.path)
		default:
			r.Message = fmt.Sprintf("the SSO login of %s expired at %s", sso.name(), sso.expires.UTC().Format(time.RFC3339))
		}
	case errors.Is(ae, ssmwire.ErrNoCredentials):
		r.Message = "no credentials found (environment, shared files for profile " + d.profile + ", SSO, container or instance role)"
	default:
		r.Message = "cannot retrieve credentials: " + err.Error()
	}
	return r
}

// stsAdvice says what to do about an STS refusal.
func stsAdvice(code, profile string) string {
	switch code {
	case "InvalidClientTokenId", "UnrecognizedClientException":
		return "the access key is unknown to AWS (deleted, mistyped, or for another partition): create a new one and run: aws configure --profile " + profile
	case "SignatureDoesNotMatch":
		return "the secret access key does not match the access key: run aws configure --profile " + profile + " again"
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired":
		return "the session credentials have expired: refresh them (aws sso login --profile " + profile + ", or get new temporary credentials); also check the clock"
	}
	return "check the credentials of profile " + profile
}

// stsClient builds STS for the loaded configuration, with the environment's proxy and STS endpoint.
func (d *run) stsClient() *sts.Client {
	return sts.NewFromConfig(d.aws, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = "us-east-1" // STS answers identity questions from any region
		}
		if ep := d.cfg.Endpoint("STS"); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.HTTPClient = d.httpClient()
		o.RetryMaxAttempts = 1
	})
}

// describeSource names where the SDK found the credentials, from the provider's Source.
func (d *run) describeSource(source string, sso *ssoLogin) string {
	p := "profile " + d.profile
	switch {
	case source == "StaticCredentials" || source == "EnvConfigCredentials":
		if d.env.get("AWS_ACCESS_KEY_ID") != "" {
			return "the environment (AWS_ACCESS_KEY_ID)"
		}
		return "static keys"
	case strings.HasPrefix(source, "SharedConfigCredentials"):
		if _, file, ok := strings.Cut(source, ": "); ok {
			return p + " in " + file
		}
		return p + " in the shared credentials file"
	case source == "SSOProvider":
		if sso != nil {
			return "SSO (" + p + ", " + sso.name() + ")"
		}
		return "SSO (" + p + ")"
	case source == "EC2RoleProvider":
		return "the instance role (IMDS)"
	case source == "CredentialsEndpointProvider":
		return "the container role (credential endpoint)"
	case source == "AssumeRoleProvider":
		return "an assumed role (" + p + ")"
	case source == "WebIdentityCredentials":
		return "a web identity token (" + p + ")"
	case source == "ProcessProvider":
		return "credential_process (" + p + ")"
	case source == "LoginProvider":
		return "aws login (" + p + ")"
	case source == "":
		return "an unnamed credential provider"
	}
	return source
}

// ssoLogin is the cached SSO token of an SSO profile.
type ssoLogin struct {
	session  string // sso_session name; "" for a legacy profile with sso_start_url
	startURL string
	path     string // the token cache file
	expires  time.Time
	missing  bool // no cache file
}

func (s *ssoLogin) name() string {
	if s.session != "" {
		return "sso_session " + s.session
	}
	return "SSO start URL " + s.startURL
}

func (s *ssoLogin) expired(now time.Time) bool {
	return s.missing || (!s.expires.IsZero() && !now.Before(s.expires))
}

func (s *ssoLogin) details() map[string]string {
	m := map[string]string{"sso": s.name(), "sso_cache": s.path}
	if !s.expires.IsZero() {
		m["sso_expires"] = s.expires.UTC().Format(time.RFC3339)
	}
	return m
}

// ssoLogin reads the profile's SSO settings and its cached token, or returns nil for a profile without SSO.
func (d *run) ssoLogin(ctx context.Context) *ssoLogin {
	home := d.env.get("HOME")
	files := []string{d.env.get("AWS_CONFIG_FILE")}
	if files[0] == "" {
		files[0] = filepath.Join(home, ".aws", "config")
	}
	sc, err := config.LoadSharedConfigProfile(ctx, d.profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = files, []string{}
	})
	if err != nil {
		return nil
	}
	s := &ssoLogin{session: sc.SSOSessionName, startURL: sc.SSOStartURL}
	key := s.session
	if key == "" {
		key = s.startURL
	}
	if key == "" {
		return nil
	}
	sum := sha1.Sum([]byte(key))
	s.path = filepath.Join(home, ".aws", "sso", "cache", hex.EncodeToString(sum[:])+".json")
	b, err := os.ReadFile(s.path)
	if err != nil {
		s.missing = true
		return s
	}
	var tok struct {
		ExpiresAt string `json:"expiresAt"`
	}
	if json.Unmarshal(b, &tok) == nil {
		s.expires, _ = time.Parse(time.RFC3339, tok.ExpiresAt)
	}
	return s
}

// brief is the part of an SDK error that says what happened: the service's code and message, or the
// network error without the SDK's wrapping of operation and request.
func brief(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode() + ": " + api.ErrorMessage()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
