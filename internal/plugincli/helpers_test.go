package plugincli

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// newServer starts an ssmtest server and points the AWS SDK's environment at it, so the plugin's lazily
// built clients (TerminateSession, ResumeSession) reach it.
func newServer(t *testing.T) *ssmtest.Server { return newServerWith(t, &ssmtest.Options{}) }

func newServerWith(t *testing.T, opts *ssmtest.Options) *ssmtest.Server {
	t.Helper()
	opts.NoPacing = true
	srv := ssmtest.NewServer(opts)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return srv
}

// startSession calls StartSession and returns the session id and the response JSON as the AWS CLI passes it.
func startSession(t testing.TB, srv *ssmtest.Server, doc string, params map[string][]string) (id, response string) {
	t.Helper()
	client := ssm.NewFromConfig(srv.AWSConfig())
	in := &ssm.StartSessionInput{Target: aws.String(ssmtest.DefaultInstanceID), Parameters: params}
	if doc != "" {
		in.DocumentName = aws.String(doc)
	}
	out, err := client.StartSession(testkit.Context(t), in)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	b, _ := json.Marshal(map[string]string{
		"SessionId": *out.SessionId, "TokenValue": *out.TokenValue, "StreamUrl": *out.StreamUrl,
	})
	return *out.SessionId, string(b)
}

// cliArgs is the six-argument command line of the AWS CLI.
func cliArgs(srv *ssmtest.Server, response string) []string {
	return []string{response, "us-east-1", "StartSession", "", `{"Target": "` + ssmtest.DefaultInstanceID + `"}`, srv.URL}
}

// result is what one Main run produced.
type result struct {
	code           int
	stdout, stderr string
}

// fakeEnv is an environment a test can inspect.
type fakeEnv struct {
	mu    sync.Mutex
	vars  map[string]string
	unset []string
}

func (e *fakeEnv) env() Env {
	return Env{
		Lookup: func(k string) (string, bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			v, ok := e.vars[k]
			return v, ok
		},
		Unset: func(k string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			delete(e.vars, k)
			e.unset = append(e.unset, k)
			return nil
		},
	}
}

// runMain runs Main to the end with the given stdin (nil: empty).
func runMain(t testing.TB, args []string, stdin io.Reader, env Env) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(testkit.Context(t), args, stdin, &stdout, &stderr, env)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// blockingReader is a stdin that returns nothing until closed, then io.EOF.
type blockingReader struct {
	r *io.PipeReader
	w *io.PipeWriter
}

func newBlockingReader(t testing.TB) *blockingReader {
	r, w := io.Pipe()
	t.Cleanup(func() { w.Close() })
	return &blockingReader{r: r, w: w}
}

func (b *blockingReader) Read(p []byte) (int, error) { return b.r.Read(p) }
