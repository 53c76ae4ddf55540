package ssmtest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// sessionResponse is the body of StartSession and ResumeSession.
type sessionResponse struct {
	SessionId  string
	StreamUrl  string
	TokenValue string
}

func (s *Server) startSession(r *apiRequest) (any, error) {
	var in struct {
		Target       string
		DocumentName string
		Parameters   map[string][]string
		Reason       string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.Target == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'target' failed to satisfy constraint: Member must not be null"}
	}
	if s.faults.takeThrottle() {
		return nil, &apiError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	if err := s.checkTarget(in.Target); err != nil {
		return nil, err
	}
	if err := s.checkAccess(r, in.Target); err != nil {
		return nil, err
	}
	name := in.DocumentName
	if name == "" {
		name = DocShell
	}
	doc, ok := s.document(name)
	if !ok {
		return nil, &apiError{Code: "InvalidDocument", Message: fmt.Sprintf("Document with name %s does not exist.", name)}
	}
	props, err := doc.resolve(name, in.Parameters)
	if err != nil {
		return nil, err
	}
	ss, err := s.newSession(r.region, in.Target, name, doc.SessionType, props)
	if err != nil {
		return nil, err
	}
	return sessionResponse{ss.id, ss.streamURL(), ss.token}, nil
}

// checkTarget accepts known, online managed instances and well-formed ECS targets
// ("ecs:<cluster>_<task>_<runtime>").
func (s *Server) checkTarget(target string) error {
	if rest, ok := strings.CutPrefix(target, "ecs:"); ok {
		if parts := strings.Split(rest, "_"); len(parts) != 3 || slices.Contains(parts, "") {
			return &apiError{Code: "InvalidTarget", Message: fmt.Sprintf("Target %s is not valid: want ecs:<cluster>_<task>_<runtime-id>.", target)}
		}
		return nil
	}
	if !strings.HasPrefix(target, "i-") && !strings.HasPrefix(target, "mi-") {
		return &apiError{Code: "InvalidTarget", Message: fmt.Sprintf("Target %s is not valid.", target)}
	}
	in := s.instance(target)
	if in == nil || in.PingStatus != "Online" {
		return &apiError{Code: "TargetNotConnected", Message: fmt.Sprintf("%s is not connected.", target)}
	}
	return nil
}

func (s *Server) instance(id string) *Instance {
	for i := range s.opts.Instances {
		if s.opts.Instances[i].ID == id {
			return &s.opts.Instances[i]
		}
	}
	return nil
}

func (s *Server) resumeSession(r *apiRequest) (any, error) {
	var in struct{ SessionId string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.SessionId == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'sessionId' failed to satisfy constraint: Member must not be null"}
	}
	ss := s.lookup(in.SessionId)
	if ss == nil {
		return nil, &apiError{Code: "DoesNotExistException", Message: fmt.Sprintf("Session %s does not exist.", in.SessionId)}
	}
	tok, err := ss.resume()
	if err != nil {
		return nil, err
	}
	return sessionResponse{ss.id, ss.streamURL(), tok}, nil
}

func (s *Server) terminateSession(r *apiRequest) (any, error) {
	var in struct{ SessionId string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.SessionId == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'sessionId' failed to satisfy constraint: Member must not be null"}
	}
	// Like AWS, terminating an unknown or already ended session succeeds.
	if ss := s.lookup(in.SessionId); ss != nil {
		ss.terminate()
	}
	return struct{ SessionId string }{in.SessionId}, nil
}

func (s *Server) describeSessions(r *apiRequest) (any, error) {
	var in struct{ State string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.State != "Active" && in.State != "History" {
		return nil, &apiError{Code: "ValidationException", Message: "State must be Active or History."}
	}
	type sessionOut struct {
		SessionId    string
		Target       string
		Status       string
		StartDate    float64
		DocumentName string `json:",omitempty"`
		Owner        string
	}
	out := struct{ Sessions []sessionOut }{Sessions: []sessionOut{}}
	for _, id := range s.SessionIDs() {
		info := s.Session(id)
		if info.Ended != (in.State == "History") {
			continue
		}
		status := "Connected"
		if info.Ended {
			status = "Terminated"
		}
		out.Sessions = append(out.Sessions, sessionOut{info.SessionID, info.Target, status,
			float64(info.StartedAt.UnixMilli()) / 1000, info.DocumentName,
			"arn:aws:iam::" + DefaultAccountID + ":user/ssmtest"})
	}
	return out, nil
}

type filter struct {
	Key    string
	Values []string
}

func (s *Server) describeInstanceInformation(r *apiRequest) (any, error) {
	var in struct {
		Filters                       []filter
		InstanceInformationFilterList []struct {
			Key      string   `json:"key"`
			ValueSet []string `json:"valueSet"`
		}
		MaxResults int
		NextToken  string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	filters := in.Filters
	for _, f := range in.InstanceInformationFilterList {
		filters = append(filters, filter{f.Key, f.ValueSet})
	}
	type info struct {
		InstanceId        string
		PingStatus        string
		LastPingDateTime  float64
		AgentVersion      string
		IsLatestVersion   bool
		PlatformType      string
		PlatformName      string
		PlatformVersion   string
		ResourceType      string
		IPAddress         string
		ComputerName      string
		AssociationStatus string
	}
	out := struct{ InstanceInformationList []info }{InstanceInformationList: []info{}}
	now := float64(time.Now().Unix())
	for _, inst := range s.opts.Instances {
		ok, err := matches(&inst, filters, s.opts.AgentVersion)
		if err != nil {
			return nil, err
		}
		if ok {
			out.InstanceInformationList = append(out.InstanceInformationList, info{
				inst.ID, inst.PingStatus, now, s.opts.AgentVersion, true, inst.PlatformType,
				inst.PlatformName, inst.PlatformVersion, inst.ResourceType, inst.IPAddress,
				inst.ComputerName, "Success"})
		}
	}
	return out, nil
}

// matches applies DescribeInstanceInformation filters: every filter must match one of
// its values.
func matches(in *Instance, filters []filter, agentVersion string) (bool, error) {
	for _, f := range filters {
		if len(f.Values) == 0 {
			return false, &apiError{Code: "InvalidInstanceInformationFilterValue", Message: fmt.Sprintf("Filter %s has no values.", f.Key)}
		}
		var have []string
		switch {
		case f.Key == "InstanceIds":
			have = []string{in.ID}
		case f.Key == "PingStatus":
			have = []string{in.PingStatus}
		case f.Key == "PlatformTypes":
			have = []string{in.PlatformType}
		case f.Key == "ResourceType":
			have = []string{in.ResourceType}
		case f.Key == "AgentVersion":
			have = []string{agentVersion}
		case f.Key == "tag-key":
			for k := range in.Tags {
				have = append(have, k)
			}
		case strings.HasPrefix(f.Key, "tag:"):
			v, ok := in.Tags[strings.TrimPrefix(f.Key, "tag:")]
			if !ok {
				return false, nil
			}
			have = []string{v}
		case f.Key == "AssociationStatus":
			have = []string{"Success"}
		default:
			return false, &apiError{Code: "InvalidFilterKey", Message: fmt.Sprintf("The filter key %s is not valid.", f.Key)}
		}
		if !slices.ContainsFunc(f.Values, func(v string) bool { return slices.Contains(have, v) }) {
			return false, nil
		}
	}
	return true, nil
}

func (s *Server) listTagsForResource(r *apiRequest) (any, error) {
	var in struct{ ResourceType, ResourceId string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.ResourceType != "ManagedInstance" {
		return nil, &apiError{Code: "InvalidResourceType", Message: fmt.Sprintf("ssmtest only knows tags of ManagedInstance resources, not %q.", in.ResourceType)}
	}
	// As AWS documents, ManagedInstance means hybrid nodes (mi-…); an EC2 instance's tags are EC2's.
	inst := s.instance(in.ResourceId)
	if inst == nil || !strings.HasPrefix(in.ResourceId, "mi-") {
		return nil, &apiError{Code: "InvalidResourceId", Message: fmt.Sprintf("The resource ID %q is not valid. Verify the ID and try again.", in.ResourceId)}
	}
	type tag struct{ Key, Value string }
	out := struct{ TagList []tag }{TagList: []tag{}}
	for k, v := range inst.Tags {
		out.TagList = append(out.TagList, tag{k, v})
	}
	slices.SortFunc(out.TagList, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}
