package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmwire/ssmwire/internal/awsnet"
)

// Status is the outcome of one check.
type Status int

const (
	// Pass: the check found nothing wrong.
	Pass Status = iota
	// Warn: something works but may not do everything (an old agent, an unreadable setting); a run with
	// warnings still passes.
	Warn
	// Fail: this stops sessions; Result.Fix says what to do.
	Fail
	// Skipped: the check could not run (no target given, or an earlier check failed for the same cause).
	Skipped
)

var statusNames = [...]string{Pass: "pass", Warn: "warn", Fail: "fail", Skipped: "skip"}

// String returns "pass", "warn", "fail" or "skip".
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// MarshalText encodes the status as its String.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Names of the checks, in the order [Run] performs them.
const (
	CheckCredentials = "credentials"
	CheckRegion      = "region"
	CheckEndpoints   = "endpoints"
	CheckProxy       = "proxy"
	CheckTLSAPI      = "tls-api"
	CheckTLSData     = "tls-data-channel"
	CheckTarget      = "target"
	CheckDocument    = "session-document"
	CheckKMSKey      = "kms-key"
	CheckPlugin      = "plugin"
	CheckSession     = "session"
)

// Result is the outcome of one check.
type Result struct {
	Check   string `json:"check"`  // one of the Check names
	Status  Status `json:"status"` // pass, warn, fail, skip
	Message string `json:"message"`
	// Fix says what to do, for Fail and Warn; empty otherwise.
	Fix string `json:"fix,omitempty"`
	// Details are the facts behind Message, for programs: "source", "arn", "region", "ssm_endpoint"...
	Details map[string]string `json:"details,omitempty"`
	// Steps are the timed steps of the session check.
	Steps []Step `json:"steps,omitempty"`
	// Err is the error behind a failure, when there is one (not in JSON: Message says it).
	Err error `json:"-"`
}

// Step is one timed step of the session check.
type Step struct {
	Name     string
	Duration time.Duration
	Err      error // nil when the step succeeded
}

// MarshalJSON writes {"name", "ms", "error"}.
func (s Step) MarshalJSON() ([]byte, error) {
	v := struct {
		Name  string  `json:"name"`
		MS    float64 `json:"ms"`
		Error string  `json:"error,omitempty"`
	}{Name: s.Name, MS: float64(s.Duration.Microseconds()) / 1000}
	if s.Err != nil {
		v.Error = s.Err.Error()
	}
	return json.Marshal(v)
}

// Config says what to check. Load is required; every other field may be zero.
type Config struct {
	// Load loads the SDK configuration as the program does for its sessions: profile, region, credential
	// chain, CA bundle. An error fails the credentials check with that error.
	Load func(ctx context.Context) (aws.Config, error)
	// Profile is the profile in use, for messages, advice and the SSO login's cache; "" means AWS_PROFILE in
	// Env, else "default".
	Profile string
	// Endpoint returns the endpoint URL to use for a service ("SSM", "KMS", "STS", "ECS"), or "" for the one the
	// SDK resolves for the region. Nil: the SDK's for every service.
	Endpoint func(service string) string
	// Region is the region given on the command line, if any: only to say where the region came from.
	Region string
	// Target is the session target to check, as ssmwire.ParseTarget reads it: instance id, managed instance
	// id, Name tag, ecs:CLUSTER/TASK[/CONTAINER] (checked with ECS DescribeTasks and an ECS Exec session) or
	// ecs:CLUSTER_TASK_RUNTIMEID; "" skips the target and session checks.
	Target string
	// Env is the environment: AWS_* variables, HOME, PATH and the proxy variables (HTTPS_PROXY, NO_PROXY...).
	// Nil means os.Environ().
	Env []string
	// Timeout bounds each network step (default 15 s).
	Timeout time.Duration
	// Logger receives debug records. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for SSO token expiry. Nil means time.Now.
	Now func() time.Time
}

// Passed reports whether results describe a healthy setup: no check failed (warnings and skipped checks
// allowed).
func Passed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return false
		}
	}
	return true
}

// ErrNoLoad is the failure of a Config without Load.
var ErrNoLoad = errors.New("doctor: Config.Load is required")

// Run performs the checks in order and yields each result as soon as it is known. Stopping the iteration
// stops the checks; cancelling ctx makes the remaining network checks fail quickly.
func Run(ctx context.Context, cfg *Config) iter.Seq[Result] {
	return func(yield func(Result) bool) {
		d := newRun(cfg)
		if d.cfg.Load == nil {
			yield(Result{Check: CheckCredentials, Status: Fail, Message: ErrNoLoad.Error(), Err: ErrNoLoad})
			return
		}
		for _, check := range []func(context.Context) []Result{
			d.credentials, d.region, d.endpoints, d.proxy, d.tlsAPI, d.tlsData, d.target, d.document,
			d.plugin, d.session,
		} {
			for _, r := range check(ctx) {
				if !yield(r) {
					return
				}
			}
		}
	}
}

// run is the state one Run shares between its checks, each check reading what earlier ones found.
type run struct {
	cfg     Config
	env     env
	profile string
	log     *slog.Logger
	// proxyFor returns the proxy the programs use for u with the environment's HTTPS_PROXY, HTTP_PROXY and
	// NO_PROXY (awsnet.ProxyFrom: upper case first, as net/http), and the variable it came from; nil for a
	// direct connection. Read from env once, in newRun.
	proxyFor func(u *url.URL) (proxy *url.URL, from string, err error)

	aws     aws.Config
	loadErr error
	credsOK bool     // credentials retrieved and accepted by STS
	net     *network // endpoints, proxies, roots: nil when the region is unknown
	proxyOK bool
	tgt     *targetInfo // nil without a usable target
}

func newRun(cfg *Config) *run {
	d := &run{}
	if cfg != nil {
		d.cfg = *cfg
	}
	if d.cfg.Env == nil {
		d.cfg.Env = os.Environ()
	}
	d.env = env(d.cfg.Env)
	d.proxyFor = awsnet.ProxyFrom(func(key string) (string, bool) {
		v := d.env.get(key)
		return v, v != ""
	})
	if d.cfg.Timeout <= 0 {
		d.cfg.Timeout = 15 * time.Second
	}
	if d.cfg.Now == nil {
		d.cfg.Now = time.Now
	}
	if d.cfg.Endpoint == nil {
		d.cfg.Endpoint = func(string) string { return "" }
	}
	d.log = d.cfg.Logger
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.profile = d.cfg.Profile
	if d.profile == "" {
		d.profile = d.env.get("AWS_PROFILE")
	}
	if d.profile == "" {
		d.profile = "default"
	}
	return d
}

// env is a process environment as "KEY=value" entries.
type env []string

// get returns the last value of key, or "".
func (e env) get(key string) string {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// lookPath finds file in the PATH of e, as exec.LookPath does in the process's.
func (e env) lookPath(file string) (string, error) {
	for _, dir := range strings.Split(e.get("PATH"), string(os.PathListSeparator)) {
		if dir == "" {
			dir = "."
		}
		if p, err := exec.LookPath(dir + string(os.PathSeparator) + file); err == nil {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

// skip is a skipped result.
func skip(check, why string) []Result {
	return []Result{{Check: check, Status: Skipped, Message: "skipped: " + why}}
}

// one wraps a single result.
func one(r Result) []Result { return []Result{r} }
