package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// forgingProxy is an SSM endpoint in front of srv that answers StartSession with streamURL instead of the
// real stream URL, as a forged response would. The tokens it passed on are added to tokens.
func forgingProxy(t *testing.T, srv *ssmtest.Server, streamURL string, tokens *tokenList) string {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(target)
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Header.Get("X-Amz-Target") != "AmazonSSM.StartSession" || resp.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			return err
		}
		out["StreamUrl"] = streamURL
		if tok, ok := out["TokenValue"].(string); ok {
			tokens.add(tok)
		}
		b, _ = json.Marshal(out)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	proxy := httptest.NewServer(p)
	t.Cleanup(proxy.Close)
	return proxy.URL
}

// ssmwire refuses a stream URL that is neither a Session Manager endpoint nor the endpoint the user named,
// with a clear message and a non-zero exit, without printing the token, and without dialling it.
func TestForgedStreamURLRefused(t *testing.T) {
	h := newHarness(t, nil)
	lis := testkit.CountAccepts(t)
	for _, forged := range []string{
		"ws://" + lis.Addr() + "/v1/data-channel/forged?stream=input",
		"wss://ssmmessages.us-east-1.amazonaws.com@" + lis.Addr() + "/v1/data-channel/forged?stream=input",
	} {
		var tokens tokenList
		endpoint := forgingProxy(t, h.srv, forged, &tokens)
		r := h.runAt(t, endpoint, "exec", ssmtest.DefaultInstanceID, "--", "echo never")
		if r.code == 0 || !strings.Contains(r.stderr, "session: untrusted stream URL") {
			t.Errorf("%s: code %d stdout %q stderr %q; want a non-zero exit and the refusal", forged, r.code, r.stdout, r.stderr)
		}
		toks := tokens.get()
		if len(toks) != 1 {
			t.Fatalf("%d StartSession calls went through the proxy, want 1", len(toks))
		}
		if strings.Contains(r.stdout+r.stderr, toks[0]) {
			t.Errorf("%s: the token appears in the output", forged)
		}
	}
	for _, id := range h.srv.SessionIDs() {
		if h.srv.Session(id).AgentStarted {
			t.Errorf("session %s attached", id)
		}
	}
	if n := lis.AcceptedBefore(t); n != 0 {
		t.Fatalf("%d connections reached the forged stream URL's host", n)
	}
}

// tokenList collects tokens from the proxy's goroutines.
type tokenList struct {
	mu   sync.Mutex
	list []string
}

func (l *tokenList) add(tok string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, tok)
}

func (l *tokenList) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}
