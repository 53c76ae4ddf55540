// Package awsrpc makes the session-manager-plugin's AWS calls (SSM StartSession, ResumeSession and
// TerminateSession, KMS GenerateDataKey) as the SDK's clients would, without linking those clients.
//
// The plugin needs the calls rarely (a dropped websocket, the end of a session, a KMS-encrypted session), but
// linking aws-sdk-go-v2's SSM and KMS clients costs every start about 0.5 MB of code and 0.3 MiB of resident
// set (BENCHMARKS.md, "Issue 18, sixth pass"). These calls are the SDK's own pieces put together in its order:
// the endpoint comes from the service's own rules (ssm.NewDefaultEndpointResolverV2, kms's), with the base
// endpoint, FIPS and dual-stack settings read from the aws.Config as the clients read them; the request is
// AWS JSON 1.1 (docs/aws-json.md), signed with the SDK's SigV4 signer and the configuration's credentials,
// sent with its HTTP client (CA bundle, proxy) and retried by its retryer; and errors are the SDK's types
// (*smithy.OperationError around *awshttp.ResponseError around a smithy.APIError), so that callers and
// ssmwire.Classify see what they would see from the SDK. Tests hold each piece against the SDK's clients;
// docs/aws-json.md says what is left out (the retry quota, clock-skew correction, Retry-After).
//
// The methods have the SDK clients' signatures, so the values satisfy the session layer's interfaces;
// per-call option functions are refused, as nothing here could apply them.
package awsrpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ssmwire/ssmwire/internal/version"
)

// maxResponse bounds the response bodies read: the three operations answer in well under a kilobyte.
const maxResponse = 1 << 20

// userAgent names the caller in the requests' User-Agent header (not signed, as in the SDK).
var userAgent = "ssmwire-session-manager-plugin/" + version.Version

// service is one AWS service spoken to in AWS JSON 1.1.
type service struct {
	id          string // the SDK's service id: OperationError.ServiceID, AWS_ENDPOINT_URL_<ID>
	signingName string // SigV4 service name
	target      string // X-Amz-Target prefix
	// resolve returns the endpoint URL and its extra headers from the service's rules.
	resolve func(ctx context.Context, region string, fips, dualStack bool, base *string) (url.URL, http.Header, error)
}

// caller holds what every call of one service needs, fixed when it is built (as the SDK's client options).
type caller struct {
	svc       service
	region    string
	fips      bool
	dualStack bool
	base      *string // the base endpoint (an endpoint URL setting), nil for the service's own
	creds     aws.CredentialsProvider
	http      aws.HTTPClient
	retryer   aws.Retryer
	signer    *v4.Signer
	sleep     func(ctx context.Context, d time.Duration) error // between attempts; tests replace it
}

// newCaller reads from cfg what the SDK's NewFromConfig reads: region, credentials, HTTP client, retryer,
// the FIPS and dual-stack settings, and the base endpoint (aws.Config.BaseEndpoint, else the service's own
// setting in the environment or shared configuration). A non-empty endpoint overrides the base endpoint, as
// an option function setting BaseEndpoint would.
func newCaller(cfg aws.Config, svc service, endpoint string) *caller {
	c := &caller{svc: svc, region: cfg.Region, creds: cfg.Credentials, http: cfg.HTTPClient, signer: v4.NewSigner(),
		sleep: sleepCtx}
	if c.http == nil {
		c.http = awshttp.NewBuildableClient()
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard()
	}
	if cfg.RetryMaxAttempts > 0 {
		c.retryer = retry.AddWithMaxAttempts(c.retryer, cfg.RetryMaxAttempts)
	}
	ctx := context.Background()
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error)
		}); ok {
			if v, found, err := p.GetUseFIPSEndpoint(ctx); err != nil || found {
				c.fips = err == nil && v == aws.FIPSEndpointStateEnabled
				break
			}
		}
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error)
		}); ok {
			if v, found, err := p.GetUseDualStackEndpoint(ctx); err != nil || found {
				c.dualStack = err == nil && v == aws.DualStackEndpointStateEnabled
				break
			}
		}
	}
	c.base = baseEndpoint(ctx, cfg, svc.id)
	if endpoint != "" {
		c.base = aws.String(endpoint)
	}
	return c
}

// call sends one operation, retrying as the configuration's retryer decides, and decodes the answer into out.
func (c *caller) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return c.opError(op, fmt.Errorf("serialization failed: %w", err))
	}
	u, hdr, err := c.svc.resolve(ctx, c.region, c.fips, c.dualStack, c.base)
	if err != nil {
		return c.opError(op, fmt.Errorf("failed to resolve service endpoint, %w", err))
	}
	// The SDK's retry loop (aws/retry.Attempt), without its retry quota, clock skew correction and
	// Retry-After handling.
	max := c.retryer.MaxAttempts()
	for attempt := 1; ; attempt++ {
		err = c.attempt(ctx, op, u, hdr, body, out)
		if err == nil {
			return nil
		}
		if !c.retryer.IsErrorRetryable(err) {
			break
		}
		if max > 0 && attempt >= max {
			err = &retry.MaxAttemptsError{Attempt: attempt, Err: err}
			break
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			err = derr
			break
		}
		if serr := c.sleep(ctx, delay); serr != nil {
			err = &aws.RequestCanceledError{Err: serr}
			break
		}
	}
	return c.opError(op, err)
}

// attempt sends the request once.
func (c *caller) attempt(ctx context.Context, op string, u url.URL, hdr http.Header, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("failed to build request: %w", err)
	}
	req.URL.Path = smithyhttp.JoinPath(u.Path, "/")
	req.URL.RawPath = ""
	for k, v := range hdr {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", c.svc.target+"."+op)
	req.Header.Set("User-Agent", userAgent)
	if c.creds == nil {
		return errors.New("failed to sign request: no credentials in the AWS configuration")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("failed to sign request: failed to retrieve credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), c.svc.signingName, c.region, time.Now().UTC()); err != nil {
		return fmt.Errorf("failed to sign request: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		err = &smithyhttp.RequestSendError{Err: err}
		if ctx.Err() != nil {
			err = &smithy.CanceledError{Err: err} // never retried, as in the SDK
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return c.responseError(resp, &smithy.DeserializationError{Err: fmt.Errorf("failed to read response body, %w", err)})
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return c.responseError(resp, apiError(resp.Header, data))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return c.responseError(resp, &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", err)})
	}
	return nil
}

// responseError wraps err as the SDK does every failure after a response: with the status and request id.
func (c *caller) responseError(resp *http.Response, err error) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: err},
		RequestID:     resp.Header.Get("X-Amzn-Requestid"),
	}
}

func (c *caller) opError(op string, err error) error {
	return &smithy.OperationError{ServiceID: c.svc.id, OperationName: op, Err: err}
}

// apiError reads an AWS JSON error answer as the SDK's deserialisers do: the code from the X-Amzn-ErrorType
// header, else the body's __type, else its code, without namespace or suffix ("aws.ssm#DoesNotExistException:
// http://..." is DoesNotExistException); the message from the body's message (any case). A body that is not
// JSON is a *smithy.DeserializationError, as in the SDK.
func apiError(h http.Header, data []byte) error {
	var info struct {
		Type    string `json:"__type"`
		Message string
		Code    any
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &info); err != nil {
			return &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", err), Snapshot: data[:min(len(data), 1024)]}
		}
	}
	code, msg := "UnknownError", "UnknownError"
	typ := h.Get("X-Amzn-ErrorType")
	if typ == "" {
		typ = info.Type
	}
	if s, ok := info.Code.(string); ok && typ == "" {
		typ = s
	}
	if typ != "" {
		code = sanitizeCode(typ)
	}
	if info.Message != "" {
		msg = info.Message
	}
	return &smithy.GenericAPIError{Code: code, Message: msg}
}

func sanitizeCode(s string) string {
	s, _, _ = strings.Cut(s, ":")
	if _, after, ok := strings.Cut(s, "#"); ok {
		s = after
	}
	return s
}

// baseEndpoint is the SDK clients' base endpoint: aws.Config.BaseEndpoint, replaced by the service's own
// setting (AWS_ENDPOINT_URL_<ID>, a services section of the shared configuration) unless only the global
// AWS_ENDPOINT_URL is set, and none when the configuration says to ignore configured endpoints.
func baseEndpoint(ctx context.Context, cfg aws.Config, id string) *string {
	base := cfg.BaseEndpoint
	_, global := lookupEnv("AWS_ENDPOINT_URL")
	_, own := lookupEnv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(id, " ", "_")))
	if global && !own {
		return base
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error)
		}); ok {
			if v, found, _ := p.GetIgnoreConfiguredEndpoints(ctx); found {
				if v {
					return base
				}
				break
			}
		}
	}
	for _, src := range cfg.ConfigSources {
		if p, ok := src.(interface {
			GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
		}); ok {
			v, found, err := p.GetServiceBaseEndpoint(ctx, id)
			if err != nil {
				return base
			}
			if found {
				return aws.String(v)
			}
		}
	}
	return base
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
