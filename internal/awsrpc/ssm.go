package awsrpc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
)

// lookupEnv reads the environment, as the SDK's clients do for AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<ID>.
var lookupEnv = os.LookupEnv

// errOptions refuses per-call option functions, which only the SDK's clients could apply.
var errOptions = errors.New("awsrpc: per-call options are not supported")

var ssmService = service{id: "SSM", signingName: "ssm", target: "AmazonSSM",
	resolve: func(ctx context.Context, region string, fips, dualStack bool, base *string) (url.URL, http.Header, error) {
		p := ssm.EndpointParameters{UseFIPS: &fips, UseDualStack: &dualStack, Endpoint: base}
		if region != "" {
			p.Region = &region
		}
		ep, err := ssm.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, p)
		return ep.URI, ep.Headers, err
	}}

// SSM makes SSM's session calls: StartSession, ResumeSession and TerminateSession. It satisfies
// ssmwire.SSMAPI (and so session.SSMAPI).
type SSM struct{ c *caller }

// NewSSM returns SSM calls configured from cfg as ssm.NewFromConfig would configure its client; a non-empty
// endpoint is the base endpoint (the AWS CLI's --endpoint-url), as ssm.Options.BaseEndpoint.
func NewSSM(cfg aws.Config, endpoint string) *SSM { return &SSM{newCaller(cfg, ssmService, endpoint)} }

type sessionIDBody struct {
	SessionId *string `json:",omitempty"`
}

type startSessionIn struct {
	DocumentName *string             `json:",omitempty"`
	Parameters   map[string][]string `json:",omitempty"`
	Reason       *string             `json:",omitempty"`
	Target       *string             `json:",omitempty"`
}

// sessionBody is the answer of StartSession and ResumeSession.
type sessionBody struct {
	SessionId  *string `json:",omitempty"`
	StreamUrl  *string `json:",omitempty"`
	TokenValue *string `json:",omitempty"`
}

// StartSession is ssm.Client.StartSession.
func (s *SSM) StartSession(ctx context.Context, in *ssm.StartSessionInput, optFns ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	if len(optFns) > 0 {
		return nil, errOptions
	}
	if in == nil {
		in = &ssm.StartSessionInput{}
	}
	if in.Target == nil {
		return nil, s.c.opError("StartSession", missing("StartSessionInput", "Target"))
	}
	var out sessionBody
	body := startSessionIn{DocumentName: in.DocumentName, Parameters: in.Parameters, Reason: in.Reason, Target: in.Target}
	if err := s.c.call(ctx, "StartSession", body, &out); err != nil {
		return nil, err
	}
	return &ssm.StartSessionOutput{SessionId: out.SessionId, StreamUrl: out.StreamUrl, TokenValue: out.TokenValue}, nil
}

// ResumeSession is ssm.Client.ResumeSession.
func (s *SSM) ResumeSession(ctx context.Context, in *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	if len(optFns) > 0 {
		return nil, errOptions
	}
	if in == nil {
		in = &ssm.ResumeSessionInput{}
	}
	if in.SessionId == nil {
		return nil, s.c.opError("ResumeSession", missing("ResumeSessionInput", "SessionId"))
	}
	var out sessionBody
	if err := s.c.call(ctx, "ResumeSession", sessionIDBody{in.SessionId}, &out); err != nil {
		return nil, err
	}
	return &ssm.ResumeSessionOutput{SessionId: out.SessionId, StreamUrl: out.StreamUrl, TokenValue: out.TokenValue}, nil
}

// TerminateSession is ssm.Client.TerminateSession.
func (s *SSM) TerminateSession(ctx context.Context, in *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	if len(optFns) > 0 {
		return nil, errOptions
	}
	if in == nil {
		in = &ssm.TerminateSessionInput{}
	}
	if in.SessionId == nil {
		return nil, s.c.opError("TerminateSession", missing("TerminateSessionInput", "SessionId"))
	}
	var out sessionIDBody
	if err := s.c.call(ctx, "TerminateSession", sessionIDBody{in.SessionId}, &out); err != nil {
		return nil, err
	}
	return &ssm.TerminateSessionOutput{SessionId: out.SessionId}, nil
}

// missing is the SDK's validation error for a required member left nil.
func missing(shape, field string) error {
	e := smithy.InvalidParamsError{Context: shape}
	e.Add(smithy.NewErrParamRequired(field))
	return &e
}
