package awsrpc

// These tests hold the calls against the SDK's own clients (linked here only): the same configuration and
// input must send the same request to the same endpoint, and the same answer must give the same output or
// the same error, as callers inspect it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testToken  = "session-token-EXAMPLE"
)

// recorded is one request as a server saw it.
type recorded struct {
	method, host, path, query string
	header                    http.Header
	body                      []byte
}

// answer is what the test server replies.
type answer struct {
	status int
	header map[string]string
	body   string
}

// recorder is a test server that records requests and replies with its answers in turn (the last repeats).
type recorder struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []recorded
	answers []answer
}

func newRecorder(t *testing.T, answers ...answer) *recorder {
	t.Helper()
	r := &recorder{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, recorded{req.Method, req.Host, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), body})
		a := answer{status: 200, body: "{}"}
		if n := len(r.got); len(r.answers) > 0 {
			a = r.answers[min(n, len(r.answers))-1]
		}
		r.mu.Unlock()
		w.Header().Set("X-Amzn-Requestid", "req-1")
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.got...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
}

// testConfig is a configuration for a server at url, without retries.
func testConfig(url string) aws.Config {
	return aws.Config{
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider(testAKID, testSecret, testToken),
		HTTPClient:   http.DefaultClient,
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		BaseEndpoint: aws.String(url),
	}
}

// ops runs each operation through an SSM and a KMS implementation.
type ops struct {
	name string
	run  func(ctx context.Context, s ssmAPI, k kmsAPI) (any, error)
}

type ssmAPI interface {
	StartSession(context.Context, *ssm.StartSessionInput, ...func(*ssm.Options)) (*ssm.StartSessionOutput, error)
	ResumeSession(context.Context, *ssm.ResumeSessionInput, ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error)
	TerminateSession(context.Context, *ssm.TerminateSessionInput, ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error)
}

type kmsAPI interface {
	GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
}

var allOps = []ops{
	{"StartSession", func(ctx context.Context, s ssmAPI, _ kmsAPI) (any, error) {
		out, err := s.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String("i-0123456789abcdef0"),
			DocumentName: aws.String("AWS-StartPortForwardingSession"), Reason: aws.String("db"),
			Parameters: map[string][]string{"portNumber": {"5432"}, "localPortNumber": {"0"}}})
		if out != nil {
			out.ResultMetadata = smithyMetadata()
		}
		return out, err
	}},
	{"ResumeSession", func(ctx context.Context, s ssmAPI, _ kmsAPI) (any, error) {
		out, err := s.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String("user-0a1b2c3d")})
		if out != nil {
			out.ResultMetadata = smithyMetadata()
		}
		return out, err
	}},
	{"TerminateSession", func(ctx context.Context, s ssmAPI, _ kmsAPI) (any, error) {
		out, err := s.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String("user-0a1b2c3d")})
		if out != nil {
			out.ResultMetadata = smithyMetadata()
		}
		return out, err
	}},
	{"GenerateDataKey", func(ctx context.Context, _ ssmAPI, k kmsAPI) (any, error) {
		out, err := k.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/session"),
			NumberOfBytes: aws.Int32(64), GrantTokens: []string{"g1"},
			EncryptionContext: map[string]string{"aws:ssm:SessionId": "user-0a1b2c3d", "aws:ssm:TargetId": "i-0123456789abcdef0"}})
		if out != nil {
			out.ResultMetadata = smithyMetadata()
		}
		return out, err
	}},
}

// sdkClients and ourClients build both sides from one configuration.
func sdkClients(cfg aws.Config) (ssmAPI, kmsAPI) {
	return ssm.NewFromConfig(cfg), kms.NewFromConfig(cfg)
}
func ourClients(cfg aws.Config) (ssmAPI, kmsAPI) { return NewSSM(cfg, ""), NewKMS(cfg) }

func TestRequestsAsSDK(t *testing.T) {
	rec := newRecorder(t)
	cfg := testConfig(rec.srv.URL)
	for _, op := range allOps {
		t.Run(op.name, func(t *testing.T) {
			rec.reset()
			for _, build := range []func(aws.Config) (ssmAPI, kmsAPI){sdkClients, ourClients} {
				s, k := build(cfg)
				if _, err := op.run(context.Background(), s, k); err != nil {
					t.Fatal(err)
				}
			}
			got := rec.requests()
			if len(got) != 2 {
				t.Fatalf("%d requests", len(got))
			}
			sdk, ours := got[0], got[1]
			if sdk.method != ours.method || sdk.path != ours.path || sdk.query != ours.query {
				t.Errorf("request line: SDK %s %s?%s, ours %s %s?%s", sdk.method, sdk.path, sdk.query, ours.method, ours.path, ours.query)
			}
			if sdk.host != ours.host {
				t.Errorf("Host: SDK %q, ours %q", sdk.host, ours.host)
			}
			for _, h := range []string{"Content-Type", "X-Amz-Target", "X-Amz-Security-Token"} {
				if sdk.header.Get(h) != ours.header.Get(h) {
					t.Errorf("%s: SDK %q, ours %q", h, sdk.header.Get(h), ours.header.Get(h))
				}
			}
			var a, b any
			if err := json.Unmarshal(sdk.body, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(ours.body, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("body: SDK %s, ours %s", sdk.body, ours.body)
			}
			if scope(sdk.header) != scope(ours.header) {
				t.Errorf("credential scope: SDK %q, ours %q", scope(sdk.header), scope(ours.header))
			}
			for _, h := range []string{"content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"} {
				if !strings.Contains(signedHeaders(ours.header), h) {
					t.Errorf("%s not signed: %s", h, ours.header.Get("Authorization"))
				}
			}
			if err := verifySignature(ours, testSecret); err != nil {
				t.Error(err)
			}
			if err := verifySignature(sdk, testSecret); err != nil {
				t.Errorf("the check itself is wrong, the SDK's request fails it: %v", err)
			}
			if strings.Contains(string(ours.body), testSecret) || strings.Contains(ours.header.Get("Authorization"), testSecret) {
				t.Error("the secret key was sent")
			}
		})
	}
}

func TestAnswersAsSDK(t *testing.T) {
	cases := []struct {
		name string
		a    answer
	}{
		{"session", answer{200, nil, `{"SessionId":"user-0a1b2c3d","StreamUrl":"wss://ssmmessages.us-west-2.amazonaws.com/v1/data-channel/user-0a1b2c3d?role=publish_subscribe","TokenValue":"tok"}`}},
		{"data key", answer{200, nil, `{"CiphertextBlob":"AQIDBA==","KeyId":"arn:aws:kms:us-west-2:111122223333:key/k","KeyMaterialId":"m","Plaintext":"BQYHCA=="}`}},
		{"empty object", answer{200, nil, `{}`}},
		{"empty body", answer{200, nil, ``}},
		{"unknown fields", answer{200, nil, `{"SessionId":"s","Extra":{"a":[1,2]}}`}},
		{"not JSON", answer{200, nil, `<html>proxy</html>`}},
		{"modeled error", answer{400, nil, `{"__type":"com.amazonaws.ssm#DoesNotExistException","message":"Session user-0a1b2c3d does not exist"}`}},
		{"header code", answer{400, map[string]string{"X-Amzn-ErrorType": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/"}, `{"Message":"User: arn:aws:iam::111122223333:user/u is not authorized to perform: ssm:ResumeSession"}`}},
		{"code member", answer{400, nil, `{"code":"ThrottlingException","message":"Rate exceeded"}`}},
		{"KMS error", answer{400, nil, `{"__type":"NotFoundException","message":"Alias arn:aws:kms:us-west-2:111122223333:alias/session is not found."}`}},
		{"no body", answer{500, nil, ``}},
		{"HTML error", answer{502, nil, `<html><body>Bad Gateway</body></html>`}},
		{"target not connected", answer{400, nil, `{"__type":"TargetNotConnected","Message":"i-0123456789abcdef0 is not connected."}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder(t, c.a)
			cfg := testConfig(rec.srv.URL)
			for _, op := range allOps {
				ss, sk := sdkClients(cfg)
				os2, ok2 := ourClients(cfg)
				want, wantErr := op.run(context.Background(), ss, sk)
				got, gotErr := op.run(context.Background(), os2, ok2)
				if (wantErr == nil) != (gotErr == nil) {
					t.Fatalf("%s: SDK error %v, ours %v", op.name, wantErr, gotErr)
				}
				if wantErr != nil {
					compareErrors(t, op.name, wantErr, gotErr)
					continue
				}
				if !reflect.DeepEqual(want, got) {
					t.Errorf("%s: SDK %+v, ours %+v", op.name, want, got)
				}
			}
		})
	}
}

// compareErrors compares what callers inspect: the operation, the API error's code and message, the HTTP
// status and request id, and whether the answer could not be read.
func compareErrors(t *testing.T, op string, want, got error) {
	t.Helper()
	var wo, gop *smithy.OperationError
	if !errors.As(want, &wo) || !errors.As(got, &gop) {
		t.Fatalf("%s: not OperationErrors: SDK %T, ours %T", op, want, got)
	}
	if wo.ServiceID != gop.ServiceID || wo.OperationName != gop.OperationName {
		t.Errorf("%s: operation: SDK %s %s, ours %s %s", op, wo.ServiceID, wo.OperationName, gop.ServiceID, gop.OperationName)
	}
	var wa, ga smithy.APIError
	if errors.As(want, &wa) != errors.As(got, &ga) {
		t.Fatalf("%s: API error: SDK %v, ours %v", op, want, got)
	}
	if wa != nil && (wa.ErrorCode() != ga.ErrorCode() || wa.ErrorMessage() != ga.ErrorMessage()) {
		t.Errorf("%s: SDK %q %q, ours %q %q", op, wa.ErrorCode(), wa.ErrorMessage(), ga.ErrorCode(), ga.ErrorMessage())
	}
	var wr, gr *awshttp.ResponseError
	if errors.As(want, &wr) != errors.As(got, &gr) {
		t.Fatalf("%s: response error: SDK %v, ours %v", op, want, got)
	}
	if wr != nil && (wr.HTTPStatusCode() != gr.HTTPStatusCode() || wr.ServiceRequestID() != gr.ServiceRequestID()) {
		t.Errorf("%s: SDK status %d id %q, ours %d %q", op, wr.HTTPStatusCode(), wr.ServiceRequestID(), gr.HTTPStatusCode(), gr.ServiceRequestID())
	}
	var wd, gd *smithy.DeserializationError
	if errors.As(want, &wd) != errors.As(got, &gd) {
		t.Errorf("%s: deserialization error: SDK %v, ours %v", op, want, got)
	}
	if strings.Contains(got.Error(), testSecret) || strings.Contains(got.Error(), testToken) {
		t.Errorf("%s: credentials in the error: %v", op, got)
	}
}

func TestEndpointsAsSDK(t *testing.T) {
	regions := []string{"us-east-1", "eu-central-2", "ap-southeast-5", "cn-north-1", "us-gov-west-1", "us-iso-east-1",
		"us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1", "mars-north-1"}
	states := []struct {
		fips aws.FIPSEndpointState
		ds   aws.DualStackEndpointState
	}{
		{aws.FIPSEndpointStateUnset, aws.DualStackEndpointStateUnset},
		{aws.FIPSEndpointStateEnabled, aws.DualStackEndpointStateUnset},
		{aws.FIPSEndpointStateUnset, aws.DualStackEndpointStateEnabled},
		{aws.FIPSEndpointStateEnabled, aws.DualStackEndpointStateEnabled},
		{aws.FIPSEndpointStateDisabled, aws.DualStackEndpointStateDisabled},
	}
	for _, region := range regions {
		for _, st := range states {
			hc := &urlRecorder{}
			cfg := testConfig("")
			cfg.BaseEndpoint, cfg.Region, cfg.HTTPClient = nil, region, hc
			cfg.ConfigSources = []any{config.EnvConfig{UseFIPSEndpoint: st.fips, UseDualStackEndpoint: st.ds}}
			compareURLs(t, cfg, hc, region)
		}
	}
}

func TestBaseEndpointsAsSDK(t *testing.T) {
	for _, c := range []struct {
		name        string
		base        string
		env         map[string]string
		ignore      bool
		pluginFlag  string
		wantSSMHost string
	}{
		{name: "config", base: "https://vpce-1.ssm.us-west-2.vpce.amazonaws.com", wantSSMHost: "vpce-1.ssm.us-west-2.vpce.amazonaws.com"},
		{name: "path", base: "https://gateway.example/prefix/ssm", wantSSMHost: "gateway.example"},
		{name: "service env", env: map[string]string{"AWS_ENDPOINT_URL_SSM": "https://ssm.internal.example"}, wantSSMHost: "ssm.internal.example"},
		{name: "global env only", base: "https://all.example", env: map[string]string{"AWS_ENDPOINT_URL": "https://all.example"}, wantSSMHost: "all.example"},
		{name: "global and service env", base: "https://all.example",
			env: map[string]string{"AWS_ENDPOINT_URL": "https://all.example", "AWS_ENDPOINT_URL_SSM": "https://ssm.example"}, wantSSMHost: "ssm.example"},
		{name: "ignored", env: map[string]string{"AWS_ENDPOINT_URL_SSM": "https://ssm.example"}, ignore: true, wantSSMHost: "ssm.us-west-2.amazonaws.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			hc := &urlRecorder{}
			cfg := testConfig("")
			cfg.BaseEndpoint, cfg.HTTPClient = nil, hc
			if c.base != "" {
				cfg.BaseEndpoint = aws.String(c.base)
			}
			cfg.ConfigSources = []any{config.EnvConfig{IgnoreConfiguredEndpoints: aws.Bool(c.ignore)}}
			urls := compareURLs(t, cfg, hc, c.name)
			if urls[0] == "" || !strings.Contains(urls[0], "//"+c.wantSSMHost+"/") {
				t.Errorf("SSM URL %q, want host %s", urls[0], c.wantSSMHost)
			}
		})
	}
	// The plugin's --endpoint-url is an option function of the SDK's client and the second argument here.
	hc := &urlRecorder{}
	cfg := testConfig("")
	cfg.BaseEndpoint, cfg.HTTPClient = aws.String("https://config.example"), hc
	_, _ = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = aws.String("https://flag.example") }).
		ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
	_, _ = NewSSM(cfg, "https://flag.example").ResumeSession(context.Background(), &ssm.ResumeSessionInput{SessionId: aws.String("s")})
	if u := hc.take(); len(u) != 2 || u[0] != u[1] || u[0] != "https://flag.example/" {
		t.Errorf("--endpoint-url: %q", u)
	}
}

// compareURLs sends every operation through both sides and compares the URLs; it returns them (SSM's first).
func compareURLs(t *testing.T, cfg aws.Config, hc *urlRecorder, what string) []string {
	t.Helper()
	var urls []string
	for _, build := range []func(aws.Config) (ssmAPI, kmsAPI){sdkClients, ourClients} {
		s, k := build(cfg)
		_, errS := allOps[1].run(context.Background(), s, k)
		_, errK := allOps[3].run(context.Background(), s, k)
		got := hc.take()
		if errS != nil || errK != nil {
			// The rules refuse some combinations (FIPS in a partition without it): both sides must.
			got = append(got[:0:0], "error")
		}
		urls = append(urls, strings.Join(got, " "))
	}
	if urls[0] != urls[1] {
		t.Errorf("%s: SDK %q, ours %q", what, urls[0], urls[1])
	}
	return urls
}

// urlRecorder is an HTTP client that records the URLs asked for and answers {}.
type urlRecorder struct {
	mu   sync.Mutex
	urls []string
}

func (u *urlRecorder) Do(r *http.Request) (*http.Response, error) {
	u.mu.Lock()
	u.urls = append(u.urls, r.URL.String())
	u.mu.Unlock()
	return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte("{}"))), Request: r}, nil
}

func (u *urlRecorder) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := u.urls
	u.urls = nil
	return out
}
