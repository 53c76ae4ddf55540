package ssmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Documents an account creates with CreateDocument: the server keeps Session documents (schema 1.0, as the
// Session Manager documents are written) and starts sessions with them; GetDocument returns any document
// the server knows (the shell document as the account's Session Manager preferences, naming Options.KMSKeyID).
// Names follow AWS's rules: 3 to 128 of [a-zA-Z0-9_.-], and no prefix AWS reserves.

var documentName = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{3,128}$`)

// createdDocument is a document made with CreateDocument.
type createdDocument struct {
	doc     Document
	content string
	created time.Time
}

// sessionContent is the JSON of a Session document.
type sessionContent struct {
	SchemaVersion string                      `json:"schemaVersion"`
	Description   string                      `json:"description"`
	SessionType   string                      `json:"sessionType"`
	Parameters    map[string]contentParameter `json:"parameters"`
	Properties    map[string]any              `json:"properties"`
}

type contentParameter struct {
	Type        string `json:"type"`
	Description string `json:"description"`
	Default     any    `json:"default"`
}

// document returns the document called name: one created through the API, else a built-in or configured one.
func (s *Server) document(name string) (Document, bool) {
	s.docMu.Lock()
	c, ok := s.created[name]
	s.docMu.Unlock()
	if ok {
		return c.doc, true
	}
	d, ok := s.opts.Documents[name]
	return d, ok
}

func (s *Server) createDocument(r *apiRequest) (any, error) {
	var in struct {
		Name, Content, DocumentType, DocumentFormat string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if !documentName.MatchString(in.Name) {
		return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$", in.Name)}
	}
	lower := strings.ToLower(in.Name)
	for _, p := range []string{"aws", "amazon", "amzn"} {
		if strings.HasPrefix(lower, p) {
			return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("Document name %s is not valid: names may not start with %s.", in.Name, in.Name[:len(p)])}
		}
	}
	if in.Content == "" {
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null"}
	}
	if in.DocumentFormat != "" && in.DocumentFormat != "JSON" {
		return nil, &apiError{Code: "InvalidDocumentContent", Message: "ssmtest reads JSON documents only."}
	}
	if in.DocumentType != "Session" {
		return nil, &apiError{Code: "InvalidDocumentType", Message: fmt.Sprintf("ssmtest keeps Session documents only, not %q.", in.DocumentType)}
	}
	var c sessionContent
	if err := json.Unmarshal([]byte(in.Content), &c); err != nil {
		return nil, &apiError{Code: "InvalidDocumentContent", Message: "JSON not well-formed: " + err.Error()}
	}
	if c.SchemaVersion != "1.0" {
		return nil, &apiError{Code: "InvalidDocumentSchemaVersion", Message: fmt.Sprintf("Session documents use schema version 1.0, not %q.", c.SchemaVersion)}
	}
	switch c.SessionType {
	case SessionTypeStandardStream, SessionTypeInteractiveCommands, SessionTypeNonInteractiveCommands, SessionTypePort:
	default:
		return nil, &apiError{Code: "InvalidDocumentContent", Message: fmt.Sprintf("sessionType %q is not valid.", c.SessionType)}
	}
	doc := Document{SessionType: c.SessionType, Properties: c.Properties}
	for name, p := range c.Parameters {
		if p.Type != "String" && p.Type != "StringList" {
			return nil, &apiError{Code: "InvalidDocumentContent", Message: fmt.Sprintf("Parameter %s has type %q, want String or StringList.", name, p.Type)}
		}
		param := Parameter{Name: name, Required: p.Default == nil}
		if p.Default != nil {
			param.Default = fmt.Sprint(p.Default)
		}
		doc.Parameters = append(doc.Parameters, param)
	}
	s.docMu.Lock()
	defer s.docMu.Unlock()
	_, builtin := s.opts.Documents[in.Name]
	if _, ok := s.created[in.Name]; ok || builtin {
		return nil, &apiError{Code: "DocumentAlreadyExists", Message: fmt.Sprintf("Document with the same name %s already exists.", in.Name)}
	}
	if s.created == nil {
		s.created = make(map[string]createdDocument)
	}
	now := time.Now()
	s.created[in.Name] = createdDocument{doc: doc, content: in.Content, created: now}
	return struct{ DocumentDescription any }{documentDescription(in.Name, in.DocumentType, now)}, nil
}

func documentDescription(name, typ string, t time.Time) map[string]any {
	return map[string]any{
		"Name": name, "DocumentType": typ, "DocumentFormat": "JSON", "Status": "Active",
		"DocumentVersion": "1", "LatestVersion": "1", "DefaultVersion": "1", "SchemaVersion": "1.0",
		"Owner": DefaultAccountID, "CreatedDate": float64(t.UnixMilli()) / 1000,
	}
}

func (s *Server) getDocument(r *apiRequest) (any, error) {
	var in struct{ Name string }
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	s.docMu.Lock()
	c, ok := s.created[in.Name]
	s.docMu.Unlock()
	content := c.content
	if !ok {
		d, ok := s.opts.Documents[in.Name]
		if !ok {
			return nil, &apiError{Code: "InvalidDocument", Message: fmt.Sprintf("Document with name %s does not exist.", in.Name)}
		}
		content = d.content()
		if in.Name == DocShell {
			content = preferencesContent(s.opts.KMSKeyID)
		}
	}
	return map[string]any{
		"Name": in.Name, "Content": content, "DocumentType": "Session", "DocumentFormat": "JSON",
		"Status": "Active", "DocumentVersion": "1",
	}, nil
}

// content renders a configured or built-in document as the JSON AWS would hold.
func (d Document) content() string {
	c := sessionContent{SchemaVersion: "1.0", SessionType: d.SessionType, Properties: d.Properties,
		Parameters: map[string]contentParameter{}}
	for _, p := range d.Parameters {
		cp := contentParameter{Type: "String"}
		if !p.Required {
			cp.Default = p.Default
		}
		c.Parameters[p.Name] = cp
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	return string(b)
}
