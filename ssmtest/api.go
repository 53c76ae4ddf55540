package ssmtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// maxAPIBody bounds an API request body; real AWS APIs accept far less.
const maxAPIBody = 1 << 20

// apiError is an AWS JSON 1.1 error response.
type apiError struct {
	Status  int    // HTTP status; 0 means 400
	Code    string // the __type, e.g. "InvalidTarget"
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// apiRequest is what an operation handler sees.
type apiRequest struct {
	srv    *Server
	http   *http.Request
	body   []byte
	region string // from the SigV4 credential scope
	access string // access key ID
}

// decode unmarshals the JSON body into v, answering SerializationException on failure.
func (r *apiRequest) decode(v any) error {
	body := r.body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{Code: "SerializationException", Message: "could not parse request body: " + err.Error()}
	}
	return nil
}

type operation func(r *apiRequest) (any, error)

// operations maps X-Amz-Target values to their handlers.
func (s *Server) operations() map[string]operation {
	return map[string]operation{
		"AmazonSSM.StartSession":                            s.startSession,
		"AmazonSSM.ResumeSession":                           s.resumeSession,
		"AmazonSSM.TerminateSession":                        s.terminateSession,
		"AmazonSSM.DescribeInstanceInformation":             s.describeInstanceInformation,
		"AmazonSSM.ListTagsForResource":                     s.listTagsForResource,
		"AmazonSSM.DescribeSessions":                        s.describeSessions,
		"AmazonSSM.CreateDocument":                          s.createDocument,
		"AmazonSSM.GetDocument":                             s.getDocument,
		"AmazonEC2ContainerServiceV20141113.ExecuteCommand": s.executeCommand,
		"AmazonEC2ContainerServiceV20141113.DescribeTasks":  s.describeTasks,
		"AmazonSSM.StartAccessRequest":                      s.startAccessRequest,
		"AmazonSSM.GetAccessToken":                          s.getAccessToken,
		"AWSEC2InstanceConnectService.SendSSHPublicKey":     s.sendSSHPublicKey,
		"TrentService.GenerateDataKey":                      s.generateDataKey,
		"TrentService.Decrypt":                              s.decrypt,
		"TrentService.DescribeKey":                          s.describeKey,
	}
}

// serveAPI handles POST / with an X-Amz-Target header.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost {
		s.writeError(w, target, &apiError{Status: http.StatusMethodNotAllowed, Code: "UnknownOperationException", Message: "only POST is supported"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil {
		s.writeError(w, target, &apiError{Code: "SerializationException", Message: "reading body: " + err.Error()})
		return
	}
	if len(body) > maxAPIBody {
		s.writeError(w, target, &apiError{Status: http.StatusRequestEntityTooLarge, Code: "SerializationException", Message: "request body too large"})
		return
	}
	req := &apiRequest{srv: s, http: r, body: body}
	if err := s.authenticate(req); err != nil {
		s.writeError(w, target, err)
		return
	}
	op, ok := s.ops[target]
	if !ok {
		s.writeError(w, target, &apiError{Code: "UnknownOperationException", Message: fmt.Sprintf("unknown operation %q", target)})
		return
	}
	if _, name, _ := strings.Cut(target, "."); slices.Contains(s.opts.DenyActions, service(target)+":"+name) {
		s.writeError(w, target, &apiError{Code: "AccessDeniedException", Message: fmt.Sprintf(
			"User: arn:aws:iam::%s:user/ssmtest is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action",
			DefaultAccountID, service(target), name, service(target), name)})
		return
	}
	out, err := op(req)
	if err != nil {
		s.writeError(w, target, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, target, &apiError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: err.Error()})
		return
	}
	s.log.Debug("ssmtest: api", "target", target)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", wire.FormatID(wire.NewID()))
	w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, target string, err error) {
	s.stats.apiErrors.Add(1)
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: err.Error()}
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	s.log.Debug("ssmtest: api error", "target", target, "code", ae.Code, "message", ae.Message)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{ae.Code, ae.Message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", wire.FormatID(wire.NewID()))
	w.Header().Set("X-Amzn-ErrorType", ae.Code+":")
	w.WriteHeader(status)
	w.Write(b)
}

// service returns which service an X-Amz-Target addresses, for ARNs and scopes.
func service(target string) string {
	switch {
	case strings.HasPrefix(target, "AmazonSSM."):
		return "ssm"
	case strings.HasPrefix(target, "AmazonEC2ContainerService"):
		return "ecs"
	case strings.HasPrefix(target, "TrentService."):
		return "kms"
	case strings.HasPrefix(target, "AWSEC2InstanceConnectService."):
		return "ec2-instance-connect"
	}
	return ""
}

// denied refuses action ("ec2:DescribeInstances") when Options.DenyActions lists it, with AWS's message.
func (s *Server) denied(action string) *apiError {
	if !slices.Contains(s.opts.DenyActions, action) {
		return nil
	}
	return &apiError{Code: "AccessDeniedException", Message: fmt.Sprintf(
		"User: arn:aws:iam::%s:user/ssmtest is not authorized to perform: %s because no identity-based policy allows the %s action",
		DefaultAccountID, action, action)}
}
