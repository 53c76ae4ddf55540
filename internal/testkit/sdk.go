package testkit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// APIErrorServer starts an HTTP server on 127.0.0.1 that answers every AWS JSON 1.1 call (SSM, KMS) with the
// error code and message, as AWS answers a refused call (HTTP 400, X-Amzn-ErrorType and a body with __type
// and message). Point a client at its URL to make every call fail that way. It is closed at cleanup.
func APIErrorServer(t testing.TB, code, message string) *httptest.Server {
	t.Helper()
	body, err := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, message})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", code)
		w.WriteHeader(http.StatusBadRequest)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// CaptureStderr points os.Stderr at a file while f runs and returns what was written there: the AWS SDK's
// default logger writes to the process's stderr, not to the writer a command was given, and a test that
// checks nothing reaches the user's terminal reads it here. It changes a process-wide variable, so the
// test must not run in parallel with others.
func CaptureStderr(t testing.TB, f func()) string {
	t.Helper()
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	old := os.Stderr
	os.Stderr = file
	defer func() { os.Stderr = old }()
	f()
	b, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
