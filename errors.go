package ssmwire

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// Kinds of [APIError]: the failures a newcomer meets first, each with one thing to do about it. An APIError
// wraps its kind, so errors.Is(err, ErrAccessDenied) works on anything [Classify] returned.
var (
	// ErrNoCredentials: the SDK's credential chain found nothing (environment, shared files, SSO, instance or
	// container role).
	ErrNoCredentials = errors.New("ssmwire: no AWS credentials found")
	// ErrSSOExpired: the credentials come from an SSO login whose cached token is expired, missing or refused.
	ErrSSOExpired = errors.New("ssmwire: the SSO session has expired")
	// ErrAccessDenied: the identity may not call the operation (IAM or a service control policy said no).
	ErrAccessDenied = errors.New("ssmwire: access denied")
	// ErrTargetNotConnected: StartSession's target has no agent connected to the service.
	ErrTargetNotConnected = errors.New("ssmwire: target not connected")
	// ErrThrottled: the service throttled the call, and the SDK's retries did not get through.
	ErrThrottled = errors.New("ssmwire: request throttled")
)

// APIError is a failed AWS call classified by [Classify]: Kind is one of the sentinels above, Err the SDK's
// error. Programs print [APIError.Advice]; code decides with errors.Is on the kind.
type APIError struct {
	Kind      error
	Service   string // the SDK's service id, e.g. "SSM", "KMS", "ECS"; "" when unknown
	Operation string // e.g. "StartSession"; "" when unknown
	Target    string // the session target, when the call had one
	Err       error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.Error())
	if e.Operation != "" {
		fmt.Fprintf(&b, " (%s", e.Operation)
		if e.Target != "" {
			fmt.Fprintf(&b, " on %s", e.Target)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the kind and the SDK's error, so that errors.Is and errors.As see both.
func (e *APIError) Unwrap() []error { return []error{e.Kind, e.Err} }

// Action returns the IAM action of the failed call, such as "ssm:StartSession", or "" when unknown.
func (e *APIError) Action() string {
	if e.Service == "" || e.Operation == "" {
		return ""
	}
	if p, ok := iamPrefixes[e.Service]; ok {
		return p + ":" + e.Operation
	}
	return strings.ToLower(strings.ReplaceAll(e.Service, " ", "")) + ":" + e.Operation
}

// iamPrefixes are the IAM action prefixes of services whose SDK service id does not spell them.
var iamPrefixes = map[string]string{
	"EC2 Instance Connect": "ec2-instance-connect",
}

// throttleCodes are the error codes AWS services use for throttling.
var throttleCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true,
	"TooManyRequestsException": true, "RequestLimitExceeded": true, "RequestThrottled": true,
	"RequestThrottledException": true, "SlowDown": true,
}

// accessDeniedCodes are the error codes of an IAM refusal: JSON services, S3-style, and EC2's.
var accessDeniedCodes = map[string]bool{
	"AccessDeniedException": true, "AccessDenied": true, "UnauthorizedOperation": true,
}

// ssoCodes are the SSO and SSO-OIDC error codes that mean "log in again".
var ssoCodes = map[string]bool{
	"UnauthorizedException": true, "InvalidGrantException": true, "ExpiredTokenException": true,
}

// ssoMessages are texts of the SSO credential and token providers that mean "log in again"; the token
// provider of sso-session profiles returns plain wrapped errors, not types.
var ssoMessages = []string{
	"the SSO session has expired or is invalid",
	"refresh cached SSO token failed",
	"failed to read cached SSO token file",
	"cached SSO token is expired",
	"the SSO session has expired",
}

// noCredentialMessages are texts of the SDK's default credential chain when every source came up empty.
var noCredentialMessages = []string{
	"no EC2 IMDS role found",
	"failed to retrieve credentials",
	"failed to refresh cached credentials",
	"static credentials are empty",
}

// Classify recognises the first-run failures among the errors of AWS calls and returns them as an
// [*APIError] wrapping err; any other error (and nil) is returned unchanged, as is an error Classify already
// classified. Library calls that start sessions classify their errors themselves; programs call Classify on
// errors of their own API calls (listing instances, ECS ExecuteCommand) before printing.
func Classify(err error) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	if e, ok := classify(err, ""); ok {
		return e
	}
	return err
}

// classify returns err as an *APIError, with the session target when the failed call had one, and whether
// it recognised err.
func classify(err error, target string) (*APIError, bool) {
	if err == nil {
		return nil, false
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	e := &APIError{Target: target, Err: err}
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		e.Service, e.Operation = oe.ServiceID, oe.OperationName
	}
	msg := err.Error()
	var apiErr smithy.APIError
	hasAPI := errors.As(err, &apiErr)
	var empty *credentials.StaticCredentialsEmptyError
	switch {
	case hasAPI && ssoCodes[apiErr.ErrorCode()] && strings.Contains(strings.ToLower(msg), "sso"), containsAny(msg, ssoMessages):
		e.Kind = ErrSSOExpired
	case errors.As(err, &empty), !hasAPI && containsAny(msg, noCredentialMessages):
		e.Kind = ErrNoCredentials
	case hasAPI && accessDeniedCodes[apiErr.ErrorCode()]:
		e.Kind = ErrAccessDenied
	case hasAPI && apiErr.ErrorCode() == "TargetNotConnected":
		e.Kind = ErrTargetNotConnected
	case hasAPI && throttleCodes[apiErr.ErrorCode()]:
		e.Kind = ErrThrottled
	default:
		return nil, false
	}
	return e, true
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
