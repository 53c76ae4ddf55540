package plugincli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// A StartSession response whose stream URL is not a Session Manager endpoint (nor the endpoint the AWS CLI
// named) is refused with a clear message and exit status 1, the token is not printed, and nothing is dialled.
func TestPluginRefusesForgedStreamURL(t *testing.T) {
	srv := newServer(t)
	lis := testkit.CountAccepts(t)
	for _, u := range []string{
		"ws://" + lis.Addr() + "/v1/data-channel/sess-1?stream=input",
		"wss://ssmmessages.us-east-1.amazonaws.com@" + lis.Addr() + "/v1/data-channel/sess-1?stream=input",
		"wss://ssmmessages.us-east-1.amazonaws.com." + lis.Addr() + "/v1/data-channel/sess-1",
	} {
		resp, _ := json.Marshal(map[string]string{"SessionId": "sess-1", "StreamUrl": u, "TokenValue": secretToken})
		r := runMain(t, cliArgs(srv, string(resp)), strings.NewReader(""), (&fakeEnv{}).env())
		if r.code != 1 || !strings.Contains(r.stderr, "Cannot perform start session: session: open sess-1: session: untrusted stream URL") {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want 1 and the refusal", u, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout+r.stderr, secretToken) {
			t.Errorf("%s: the token appears in the output", u)
		}
	}
	if n := lis.AcceptedBefore(t); n != 0 {
		t.Fatalf("%d connections reached the forged stream URL's host", n)
	}
	if st := srv.Stats(); st.Upgrades != (ssmtest.UpgradeStats{}) {
		t.Errorf("the emulator saw upgrades: %+v", st.Upgrades)
	}
}
