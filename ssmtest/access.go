package ssmtest

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Statuses of a just-in-time node access request, as GetAccessToken reports them.
const (
	AccessPending  = "Pending"
	AccessApproved = "Approved"
	AccessRejected = "Rejected"
	AccessRevoked  = "Revoked"
	AccessExpired  = "Expired"
)

// AccessCredentialLifetime is how long the temporary credentials of an approved request are valid.
const AccessCredentialLifetime = time.Hour

// AccessRequest is a just-in-time node access request made with StartAccessRequest.
type AccessRequest struct {
	ID      string
	Target  string // the instance id
	Reason  string
	Created time.Time // on the server's clock (Options.Now)
	Status  string    // AccessPending, AccessApproved...
	Polls   int       // GetAccessToken calls so far
}

// jitCred is the temporary credential pair of an approved request.
type jitCred struct {
	secret, token string
	target        string
	request       string
	expires       time.Time
}

// accessState holds the requests and the credentials handed out.
type accessState struct {
	mu       sync.Mutex
	requests map[string]*AccessRequest // guarded by mu
	order    []string                  // guarded by mu; request ids in creation order
	creds    map[string]*jitCred       // guarded by mu; by access key id
	byReq    map[string]string         // guarded by mu; request id → access key id
}

// startAccessRequest is AmazonSSM.StartAccessRequest.
func (s *Server) startAccessRequest(r *apiRequest) (any, error) {
	var in struct {
		Reason  *string
		Targets []struct {
			Key    string
			Values []string
		}
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.Reason == nil {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'reason' failed to satisfy constraint: Member must not be null"}
	}
	if n := len(*in.Reason); n < 1 || n > 256 {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value at 'reason' failed to satisfy constraint: Member must have length between 1 and 256"}
	}
	if len(in.Targets) != 1 || in.Targets[0].Key != "InstanceIds" || len(in.Targets[0].Values) != 1 {
		return nil, &apiError{Code: "ValidationException", Message: "Targets must name exactly one node: [{Key: InstanceIds, Values: [<id>]}]"}
	}
	target := in.Targets[0].Values[0]
	inst := s.instance(target)
	if inst == nil {
		return nil, &apiError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Node %s not found.", target)}
	}
	if !inst.AccessRequired {
		return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("No just-in-time node access approval policy applies to %s.", target)}
	}
	req := &AccessRequest{ID: "oi-" + strings.ToLower(rand.Text()[:12]), Target: target, Reason: *in.Reason, Created: s.now(), Status: AccessPending}
	s.access.mu.Lock()
	if s.access.requests == nil {
		s.access.requests = make(map[string]*AccessRequest)
	}
	s.access.requests[req.ID] = req
	s.access.order = append(s.access.order, req.ID)
	s.access.mu.Unlock()
	return struct{ AccessRequestId string }{req.ID}, nil
}

// getAccessToken is AmazonSSM.GetAccessToken.
func (s *Server) getAccessToken(r *apiRequest) (any, error) {
	var in struct{ AccessRequestId string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.AccessRequestId == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'accessRequestId' failed to satisfy constraint: Member must not be null"}
	}
	s.access.mu.Lock()
	req := s.access.requests[in.AccessRequestId]
	if req == nil {
		s.access.mu.Unlock()
		return nil, &apiError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Access request %s not found.", in.AccessRequestId)}
	}
	req.Polls++
	snapshot := *req
	s.access.mu.Unlock()
	if snapshot.Status == AccessPending && s.opts.AccessDecision != nil {
		if st := s.opts.AccessDecision(snapshot); st != "" && st != AccessPending {
			if err := s.DecideAccess(snapshot.ID, st); err != nil {
				return nil, err
			}
		}
	}
	type credentials struct {
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		ExpirationTime  float64
	}
	var out struct {
		AccessRequestStatus string
		Credentials         *credentials `json:",omitempty"`
	}
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	out.AccessRequestStatus = req.Status
	if req.Status == AccessApproved {
		id := s.access.byReq[req.ID]
		c := s.access.creds[id]
		if !s.now().Before(c.expires) {
			// The access window is over: the request is spent.
			req.Status = AccessExpired
			out.AccessRequestStatus = AccessExpired
			return out, nil
		}
		out.Credentials = &credentials{id, c.secret, c.token, float64(c.expires.UnixMilli()) / 1000}
	}
	return out, nil
}

// AccessRequests returns the just-in-time access requests made so far, in order.
func (s *Server) AccessRequests() []AccessRequest {
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	out := make([]AccessRequest, 0, len(s.access.order))
	for _, id := range s.access.order {
		out = append(out, *s.access.requests[id])
	}
	return out
}

// DecideAccess sets the status of an access request, as an approver (AccessApproved, AccessRejected), an
// administrator (AccessRevoked) or time (AccessExpired) would. Approving issues temporary credentials valid
// for [AccessCredentialLifetime] that StartSession accepts for the request's target; revoking or expiring
// an approved request withdraws them.
func (s *Server) DecideAccess(id, status string) error {
	if !slices.Contains([]string{AccessApproved, AccessRejected, AccessRevoked, AccessExpired}, status) {
		return fmt.Errorf("ssmtest: DecideAccess: status %q", status)
	}
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	req := s.access.requests[id]
	if req == nil {
		return &apiError{Code: "ResourceNotFoundException", Message: fmt.Sprintf("Access request %s not found.", id)}
	}
	req.Status = status
	if status != AccessApproved {
		if key, ok := s.access.byReq[id]; ok {
			delete(s.access.creds, key)
		}
		return nil
	}
	if s.access.creds == nil {
		s.access.creds = make(map[string]*jitCred)
		s.access.byReq = make(map[string]string)
	}
	key := "ASIA" + rand.Text()[:16]
	s.access.creds[key] = &jitCred{secret: rand.Text(), token: rand.Text() + rand.Text(), target: req.Target, request: id,
		expires: s.now().Add(AccessCredentialLifetime)}
	s.access.byReq[id] = key
	return nil
}

// jitSecret returns the secret of temporary access credentials, if access is one.
func (s *Server) jitSecret(access string) (string, bool) {
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	c, ok := s.access.creds[access]
	if !ok {
		return "", false
	}
	return c.secret, true
}

// checkJIT refuses calls made with temporary access credentials that are expired or carry the wrong
// session token.
func (s *Server) checkJIT(access, token string) error {
	s.access.mu.Lock()
	defer s.access.mu.Unlock()
	c, ok := s.access.creds[access]
	if !ok {
		return nil
	}
	if token != c.token {
		return &apiError{Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
	}
	if !s.now().Before(c.expires) {
		return &apiError{Code: "ExpiredTokenException", Message: "The security token included in the request is expired"}
	}
	return nil
}

// checkAccess refuses StartSession on a target that requires just-in-time access unless the call is signed
// with the credentials of an approved request for that target; such credentials start sessions on their
// target only.
func (s *Server) checkAccess(r *apiRequest, target string) error {
	s.access.mu.Lock()
	c := s.access.creds[r.access]
	s.access.mu.Unlock()
	inst := s.instance(target)
	needs := inst != nil && inst.AccessRequired
	switch {
	case c != nil && c.target != target:
		return &apiError{Code: "AccessDeniedException", Message: fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/SSM-JustInTimeAccess/%s is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:%s:%s:instance/%s", DefaultAccountID, c.request, r.region, DefaultAccountID, target)}
	case needs && c == nil:
		return &apiError{Code: "AccessDeniedException", Message: fmt.Sprintf("User: arn:aws:iam::%s:user/ssmtest is not authorized to perform: ssm:StartSession on resource: arn:aws:ec2:%s:%s:instance/%s because no identity-based policy allows the ssm:StartSession action", DefaultAccountID, r.region, DefaultAccountID, target)}
	}
	return nil
}
