package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestMain lets the test binary stand in for ssmwire's session-manager-plugin: with DOCTOR_TEST_PLUGIN set it
// answers --version like the real one.
func TestMain(m *testing.M) {
	if v := os.Getenv("DOCTOR_TEST_PLUGIN"); v != "" {
		if len(os.Args) == 2 && os.Args[1] == "--version" {
			fmt.Println(v)
			os.Exit(0)
		}
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// pluginDir returns a PATH directory whose session-manager-plugin is a link to the test binary.
func pluginDir(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(exe, filepath.Join(dir, PluginName)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// script writes an executable shell script named session-manager-plugin into a fresh PATH directory.
func script(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts stand in for the plugin")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PluginName), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestPlugin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    func(t *testing.T) []string
		status Status
		want   string
	}{
		{"ours", func(t *testing.T) []string {
			return []string{"PATH=" + pluginDir(t), "DOCTOR_TEST_PLUGIN=1.3.0.0"}
		}, Pass, "ssmwire's session-manager-plugin 1.3.0.0 at "},
		{"AWS's", func(t *testing.T) []string {
			return []string{"PATH=" + script(t, `[ "$1" = --version ] && echo 1.2.804.0`)}
		}, Pass, "AWS's session-manager-plugin (or another non-Go build) 1.2.804.0"},
		{"too old", func(t *testing.T) []string {
			return []string{"PATH=" + script(t, `echo 1.2.707.0`)}
		}, Warn, "older than 1.2.764.0"},
		{"broken", func(t *testing.T) []string {
			return []string{"PATH=" + script(t, `exit 3`)}
		}, Fail, "does not run"},
		{"none", func(t *testing.T) []string { return []string{"PATH=" + t.TempDir()} }, Warn, "no session-manager-plugin on PATH"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRun(&Config{Env: tc.env(t)}).plugin(context.Background())
			if len(rs) != 1 || rs[0].Status != tc.status || !strings.Contains(rs[0].Message, tc.want) {
				t.Fatalf("got %+v; want %s with %q", rs, tc.status, tc.want)
			}
			if rs[0].Status != Pass && rs[0].Fix == "" {
				t.Error("no fix")
			}
		})
	}
}

func TestAgentLimits(t *testing.T) {
	for v, want := range map[string]string{
		"3.3.987.0":  "",
		"3.0.197.0":  "",
		"3.0.196.0":  "multiplexed port forwarding (needs agent > 3.0.196.0",
		"2.3.722.0":  "and ending port sessions in-band (needs agent > 2.3.722.0)",
		"":           "multiplexed",
		"3.1":        "multiplexed", // the plugin's rule: a different number of parts is not newer
		"3.3.4851.0": "",
	} {
		got := agentLimits(v)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("agentLimits(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestProxyFor(t *testing.T) {
	ssm := &url.URL{Scheme: "https", Host: "ssm.us-east-1.amazonaws.com"}
	for _, tc := range []struct {
		name string
		env  []string
		u    *url.URL
		want string // proxy and variable, "" for direct
	}{
		{"none", nil, ssm, ""},
		{"HTTPS_PROXY", []string{"HTTPS_PROXY=http://proxy:3128"}, ssm, "http://proxy:3128 HTTPS_PROXY"},
		{"lower case", []string{"https_proxy=http://proxy:3128"}, ssm, "http://proxy:3128 https_proxy"},
		{"upper case first", []string{"https_proxy=http://lower:1", "HTTPS_PROXY=http://upper:2"}, ssm, "http://upper:2 HTTPS_PROXY"},
		{"NO_PROXY suffix", []string{"HTTPS_PROXY=http://proxy:3128", "NO_PROXY=.amazonaws.com"}, ssm, ""},
		{"NO_PROXY other", []string{"HTTPS_PROXY=http://proxy:3128", "NO_PROXY=example.com"}, ssm, "http://proxy:3128 HTTPS_PROXY"},
		{"HTTP_PROXY for http", []string{"HTTP_PROXY=http://proxy:3128"}, &url.URL{Scheme: "http", Host: "emulator.internal:8080"}, "http://proxy:3128 HTTP_PROXY"},
		{"HTTP_PROXY not for https", []string{"HTTP_PROXY=http://proxy:3128"}, ssm, ""},
		{"loopback direct", []string{"HTTP_PROXY=http://proxy:3128"}, &url.URL{Scheme: "http", Host: "127.0.0.1:8080"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newRun(&Config{Env: append([]string{"PATH="}, tc.env...)})
			p, from, err := d.proxyFor(tc.u)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p != nil {
				got = p.String() + " " + from
			}
			if got != tc.want {
				t.Errorf("proxy = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestEndpoints: the SDK's endpoints for a region, the data channel next to SSM in the same partition, and
// an override that carries the data channel too.
func TestEndpoints(t *testing.T) {
	for _, tc := range []struct {
		region, override, ssm, data string
	}{
		{"eu-west-1", "", "https://ssm.eu-west-1.amazonaws.com", "ssmmessages.eu-west-1.amazonaws.com"},
		{"cn-north-1", "", "https://ssm.cn-north-1.amazonaws.com.cn", "ssmmessages.cn-north-1.amazonaws.com.cn"},
		{"us-east-1", "https://vpce-1.ssm.us-east-1.vpce.amazonaws.com", "https://vpce-1.ssm.us-east-1.vpce.amazonaws.com", "vpce-1.ssm.us-east-1.vpce.amazonaws.com"},
	} {
		d := newRun(&Config{Env: []string{"PATH="}, Endpoint: func(s string) string {
			if s == "SSM" {
				return tc.override
			}
			return ""
		}})
		d.aws = aws.Config{Region: tc.region}
		d.endpoints(context.Background())
		if d.net == nil || d.net.ssm.String() != tc.ssm || d.net.data.Host != tc.data {
			t.Errorf("%s %q: %+v", tc.region, tc.override, d.net)
		}
	}
	d := newRun(&Config{Env: []string{"PATH="}})
	if rs := d.endpoints(context.Background()); rs[0].Status != Skipped || d.net != nil {
		t.Errorf("no region: %+v", rs)
	}
}

// TestRunWithoutLoad: a Config without Load is one failure, not a panic.
func TestRunWithoutLoad(t *testing.T) {
	var rs []Result
	for r := range Run(context.Background(), &Config{}) {
		rs = append(rs, r)
	}
	if len(rs) != 1 || rs[0].Status != Fail || !errors.Is(rs[0].Err, ErrNoLoad) || Passed(rs) {
		t.Errorf("results = %+v", rs)
	}
}

// TestRunLoadError: a configuration that does not load fails credentials; the checks that need it are
// skipped; the plugin is still checked; stopping the iteration stops the run.
func TestRunLoadError(t *testing.T) {
	cfg := &Config{Env: []string{"PATH=" + t.TempDir()}, Load: func(context.Context) (aws.Config, error) {
		return aws.Config{}, errors.New(`AWS profile "nope" not found in the shared configuration files`)
	}}
	var got []string
	for r := range Run(context.Background(), cfg) {
		got = append(got, r.Check+":"+r.Status.String())
	}
	want := "credentials:fail region:skip endpoints:skip proxy:skip tls-api:skip tls-data-channel:skip target:skip " +
		"session-document:skip plugin:warn session:skip"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	n := 0
	for range Run(context.Background(), cfg) {
		n++
		break
	}
	if n != 1 {
		t.Errorf("%d results after break", n)
	}
}

func TestResultJSON(t *testing.T) {
	b, err := json.Marshal(Result{Check: CheckSession, Status: Fail, Message: "m", Fix: "f",
		Steps: []Step{{Name: "start", Duration: 1500000, Err: errors.New("denied")}}, Err: errors.New("hidden")})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"check":"session","status":"fail","message":"m","fix":"f","steps":[{"name":"start","ms":1.5,"error":"denied"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
