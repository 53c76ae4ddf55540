package ssmwire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// AccessAPI is the part of the SSM API that just-in-time node access uses ([RequestAccess]), with the exact
// method signatures of *ssm.Client.
type AccessAPI interface {
	StartAccessRequest(ctx context.Context, params *ssm.StartAccessRequestInput, optFns ...func(*ssm.Options)) (*ssm.StartAccessRequestOutput, error)
	GetAccessToken(ctx context.Context, params *ssm.GetAccessTokenInput, optFns ...func(*ssm.Options)) (*ssm.GetAccessTokenOutput, error)
}

// Errors of [RequestAccess]. An [*AccessError] wraps one of them.
var (
	// ErrAccessRejected: an approver rejected the request.
	ErrAccessRejected = errors.New("ssmwire: access request rejected")
	// ErrAccessRevoked: the request was approved, then revoked.
	ErrAccessRevoked = errors.New("ssmwire: access request revoked")
	// ErrAccessExpired: nobody decided before the request expired, or the approved access window is over.
	ErrAccessExpired = errors.New("ssmwire: access request expired")
	// ErrAccessPending: the request is not decided yet ([AccessCredentials]).
	ErrAccessPending = errors.New("ssmwire: access request not approved yet")
	// ErrAccessTimeout: AccessConfig.Timeout passed while the request was still pending.
	ErrAccessTimeout = errors.New("ssmwire: timed out waiting for the access request's approval")
)

// AccessError is a just-in-time access request that did not end approved.
type AccessError struct {
	RequestID string
	Status    string // Rejected, Revoked, Expired, Pending (timeout), or what the service said
	Err       error  // one of ErrAccessRejected, ErrAccessRevoked, ErrAccessExpired, ErrAccessTimeout
}

func (e *AccessError) Error() string {
	return fmt.Sprintf("%v (request %s, status %s)", e.Err, e.RequestID, e.Status)
}

// Unwrap returns the sentinel.
func (e *AccessError) Unwrap() error { return e.Err }

// AccessConfig configures [RequestAccess]. A nil *AccessConfig means all defaults.
type AccessConfig struct {
	// Tags are attached to the access request.
	Tags []ssmtypes.Tag
	// PollInterval is the first wait between two GetAccessToken calls (default 2 s; the first call is
	// made at once); each wait is 1.5 times the previous one, up to MaxPollInterval (default 30 s).
	PollInterval, MaxPollInterval time.Duration
	// Timeout bounds the wait for a decision (default 0: until ctx is done, or the service expires the
	// request).
	Timeout time.Duration
	// Pending is called with the request id once the request is made, and again after each poll that found
	// it still pending, with the status and the time waited so far; programs print a waiting line from it.
	// Nil: nothing is called.
	Pending func(requestID string, waited time.Duration)
}

// RequestAccess asks for just-in-time node access to one managed node (instanceID: i-… or mi-…) with
// StartAccessRequest, then polls GetAccessToken with backoff until the request is approved, rejected,
// revoked or expired, the timeout passes, or ctx is done. Approved, it returns the request id and a
// credentials provider for the temporary credentials the approval carries: pass it as the Credentials of
// the aws.Config given to [NewFromAWSConfig] (StartSession, ResumeSession and the data channel must all be
// signed with them). When they expire, the provider asks GetAccessToken again, which answers while the
// approved access window lasts. Other endings return an [*AccessError]; errors of the calls are returned as
// [Classify] sees them.
func RequestAccess(ctx context.Context, api AccessAPI, instanceID, reason string, cfg *AccessConfig) (string, aws.CredentialsProvider, error) {
	var c AccessConfig
	if cfg != nil {
		c = *cfg
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.MaxPollInterval <= 0 {
		c.MaxPollInterval = 30 * time.Second
	}
	if c.MaxPollInterval < c.PollInterval {
		c.MaxPollInterval = c.PollInterval
	}
	if instanceID == "" {
		return "", nil, errors.New("ssmwire: access request: no target")
	}
	if reason == "" {
		return "", nil, errors.New("ssmwire: access request: the reason is required")
	}
	out, err := api.StartAccessRequest(ctx, &ssm.StartAccessRequestInput{
		Reason:  aws.String(reason),
		Targets: []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: []string{instanceID}}},
		Tags:    c.Tags,
	})
	if err != nil {
		return "", nil, accessCallError(err, instanceID)
	}
	id := aws.ToString(out.AccessRequestId)
	if id == "" {
		return "", nil, errors.New("ssmwire: StartAccessRequest returned no request id")
	}
	if c.Pending != nil {
		c.Pending(id, 0)
	}
	var deadline <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	start := time.Now()
	// The first poll is at once: an auto-approval policy decides as the request is made.
	wait, next := time.Duration(0), c.PollInterval
	for {
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return id, nil, fmt.Errorf("ssmwire: waiting for access request %s: %w", id, ctx.Err())
		case <-deadline:
			timer.Stop()
			return id, nil, &AccessError{RequestID: id, Status: string(ssmtypes.AccessRequestStatusPending), Err: ErrAccessTimeout}
		case <-timer.C:
		}
		p := &accessProvider{api: api, id: id, target: instanceID}
		creds, status, err := p.fetch(ctx)
		switch {
		case err != nil:
			return id, nil, err
		case status == ssmtypes.AccessRequestStatusApproved:
			p.creds = creds
			return id, aws.NewCredentialsCache(p), nil
		case status != ssmtypes.AccessRequestStatusPending:
			return id, nil, statusError(id, status)
		}
		if c.Pending != nil {
			c.Pending(id, time.Since(start))
		}
		wait, next = next, min(next*3/2, c.MaxPollInterval)
	}
}

// statusError is the AccessError of a final status other than Approved.
func statusError(id string, status ssmtypes.AccessRequestStatus) error {
	e := &AccessError{RequestID: id, Status: string(status)}
	switch status {
	case ssmtypes.AccessRequestStatusRejected:
		e.Err = ErrAccessRejected
	case ssmtypes.AccessRequestStatusRevoked:
		e.Err = ErrAccessRevoked
	case ssmtypes.AccessRequestStatusExpired:
		e.Err = ErrAccessExpired
	case ssmtypes.AccessRequestStatusPending:
		e.Err = ErrAccessPending
	default:
		return fmt.Errorf("ssmwire: access request %s: unknown status %q", id, status)
	}
	return e
}

func accessCallError(err error, target string) error {
	if e, ok := classify(err, target); ok {
		return e
	}
	return err
}

// accessProvider hands out the temporary credentials of an approved access request.
type accessProvider struct {
	api    AccessAPI
	id     string
	target string

	mu    sync.Mutex // guards creds (aws.CredentialsCache serialises Retrieve; the first fill races nothing)
	creds aws.Credentials
}

// Retrieve returns the approved credentials while they are valid, else asks GetAccessToken for new ones.
func (p *accessProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.creds.HasKeys() && !p.creds.Expired() {
		return p.creds, nil
	}
	creds, status, err := p.fetch(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	if status != ssmtypes.AccessRequestStatusApproved {
		return aws.Credentials{}, statusError(p.id, status)
	}
	p.creds = creds
	return creds, nil
}

// fetch calls GetAccessToken once.
func (p *accessProvider) fetch(ctx context.Context) (aws.Credentials, ssmtypes.AccessRequestStatus, error) {
	out, err := p.api.GetAccessToken(ctx, &ssm.GetAccessTokenInput{AccessRequestId: aws.String(p.id)})
	if err != nil {
		return aws.Credentials{}, "", accessCallError(err, p.target)
	}
	if out.AccessRequestStatus != ssmtypes.AccessRequestStatusApproved {
		return aws.Credentials{}, out.AccessRequestStatus, nil
	}
	cr := out.Credentials
	if cr == nil || aws.ToString(cr.AccessKeyId) == "" || aws.ToString(cr.SecretAccessKey) == "" {
		return aws.Credentials{}, "", fmt.Errorf("ssmwire: access request %s approved, but GetAccessToken returned no credentials", p.id)
	}
	c := aws.Credentials{
		AccessKeyID:     aws.ToString(cr.AccessKeyId),
		SecretAccessKey: aws.ToString(cr.SecretAccessKey),
		SessionToken:    aws.ToString(cr.SessionToken),
		Source:          "ssmwire just-in-time access " + p.id,
	}
	if cr.ExpirationTime != nil {
		c.CanExpire, c.Expires = true, *cr.ExpirationTime
	}
	return c, out.AccessRequestStatus, nil
}

// AccessCredentials returns a credentials provider for an access request approved earlier (by
// [RequestAccess] in another process, for example): it calls GetAccessToken once now and fails with an
// [*AccessError] unless the request is approved.
func AccessCredentials(ctx context.Context, api AccessAPI, requestID string) (aws.CredentialsProvider, error) {
	p := &accessProvider{api: api, id: requestID}
	creds, status, err := p.fetch(ctx)
	if err != nil {
		return nil, err
	}
	if status != ssmtypes.AccessRequestStatusApproved {
		return nil, statusError(requestID, status)
	}
	p.creds = creds
	return aws.NewCredentialsCache(p), nil
}
