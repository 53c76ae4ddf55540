package session_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/session"
)

func TestCheckStreamURL(t *testing.T) {
	const path = "/v1/data-channel/user-0123456789abcdef0?stream=input"
	emulator := []string{"http://127.0.0.1:4566"}
	for _, tc := range []struct {
		url     string
		trusted []string
		ok      bool
	}{
		// AWS Session Manager endpoints.
		{"wss://ssmmessages.us-east-1.amazonaws.com" + path, nil, true},
		{"wss://ssmmessages.eu-central-2.amazonaws.com:443" + path, nil, true},
		{"wss://ssmmessages-fips.us-east-1.amazonaws.com" + path, nil, true},
		{"wss://ssmmessages.us-gov-west-1.amazonaws.com" + path, nil, true},
		{"wss://ssmmessages-fips.us-gov-east-1.amazonaws.com" + path, nil, true},
		{"wss://ssmmessages.cn-north-1.amazonaws.com.cn" + path, nil, true},
		{"wss://ssmmessages.us-iso-east-1.c2s.ic.gov" + path, nil, true},
		{"wss://ssmmessages.us-isob-east-1.sc2s.sgov.gov" + path, nil, true},
		{"wss://ssmmessages.eusc-de-east-1.amazonaws.eu" + path, nil, true},
		{"wss://ssmmessages.us-east-1.api.aws" + path, nil, true},
		{"wss://ssmmessages-fips.us-east-1.api.aws" + path, nil, true},
		{"wss://ssmmessages.cn-northwest-1.api.amazonwebservices.com.cn" + path, nil, true},
		{"wss://vpce-0123456789abcdef0-abcdefgh.ssmmessages.us-east-1.vpce.amazonaws.com" + path, nil, true},
		{"wss://vpce-0123456789abcdef0-abcdefgh-us-east-1a.ssmmessages.us-east-1.vpce.amazonaws.com" + path, nil, true},
		{"wss://vpce-0abc-xyz.ssmmessages.cn-north-1.vpce.amazonaws.com.cn" + path, nil, true},
		{"WSS://SSMMESSAGES.US-EAST-1.AMAZONAWS.COM" + path, nil, true}, // DNS names have no case
		{"wss://ssmmessages.us-east-1.amazonaws.com", nil, true},

		// AWS hosts, but not this way.
		{"ws://ssmmessages.us-east-1.amazonaws.com" + path, nil, false},                 // only wss for AWS
		{"wss://ssmmessages.us-east-1.amazonaws.com:8443" + path, nil, false},           // other port
		{"wss://ssmmessages.us-east-1.amazonaws.com." + path, nil, false},               // trailing dot
		{"wss://ssmmessages.us-east-1.amazonaws.com.:443" + path, nil, false},           // trailing dot and port
		{"wss://ssmmessages.cn-north-1.amazonaws.com" + path, nil, false},               // region of another partition
		{"wss://ssmmessages.us-east-1.amazonaws.com.cn" + path, nil, false},             // same, the other way round
		{"wss://ssm.us-east-1.amazonaws.com" + path, nil, false},                        // another service
		{"wss://ssmmessages.amazonaws.com" + path, nil, false},                          // no region
		{"wss://ssmmessages.us-east-1.vpce.amazonaws.com" + path, nil, false},           // VPC endpoint without a name
		{"wss://a.b.ssmmessages.us-east-1.vpce.amazonaws.com" + path, nil, false},       // two labels before it
		{"wss://vpce-1.ssmmessages.us-east-1.vpce.api.aws" + path, nil, false},          // VPC endpoints are not dual-stack names
		{"wss://ssmmessages.us_east_1.amazonaws.com" + path, nil, false},                // not a region
		{"https://ssmmessages.us-east-1.amazonaws.com" + path, nil, false},              // not a websocket scheme
		{"http://ssmmessages.us-east-1.amazonaws.com" + path, nil, false},               // not a websocket scheme
		{"wss://ssmmessages.us-east-1.amazonaws.com%2eevil.example" + path, nil, false}, // percent-encoded dot

		// Tricks.
		{"wss://ssmmessages.us-east-1.amazonaws.com@evil.example" + path, nil, false},
		{"wss://user:pass@ssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com.evil.example" + path, nil, false},
		{"wss://evilssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com-evil.example" + path, nil, false},
		{"wss://evil.example/ssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://evil.example?ssmmessages.us-east-1.amazonaws.com", nil, false},
		{"wss://evil.example#@ssmmessages.us-east-1.amazonaws.com", nil, false},
		{"wss://evil.example\\@ssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com\\.evil.example" + path, nil, false},
		{"wss:\\\\ssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://%73smmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com\x00.evil.example" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com .evil.example" + path, nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com\t" + path, nil, false},
		{"wss://52.94.1.1" + path, nil, false},
		{"wss://[2600:1f18::1]" + path, nil, false},
		{"wss://[::ffff:127.0.0.1]:4566" + path, nil, false},
		{"wss://0x7f000001" + path, nil, false},
		{"wss://" + path, nil, false},
		{"wss:///v1/data-channel/x", nil, false},
		{"wss:ssmmessages.us-east-1.amazonaws.com" + path, nil, false}, // opaque
		{"//ssmmessages.us-east-1.amazonaws.com" + path, nil, false},   // no scheme
		{"ssmmessages.us-east-1.amazonaws.com" + path, nil, false},
		{"", nil, false},
		{"wss://ssmmessages.us-east-1.amazonaws.com:443:443" + path, nil, false},

		// Endpoints the user named.
		{"ws://127.0.0.1:4566" + path, emulator, true},
		{"wss://127.0.0.1:4566" + path, emulator, true},
		{"ws://127.0.0.1:4567" + path, emulator, false},                     // another port
		{"ws://127.0.0.2:4566" + path, emulator, false},                     // another host
		{"ws://127.0.0.1" + path, emulator, false},                          // default port 80
		{"ws://localhost:4566" + path, emulator, false},                     // another name for it is another host
		{"ws://user@127.0.0.1:4566" + path, emulator, false},                // userinfo, even there
		{"ws://[::ffff:127.0.0.1]:4566" + path, emulator, true},             // the same address
		{"ws://[::1]:8080" + path, []string{"http://[::1]:8080/"}, true},    // IPv6 literal
		{"ws://[::1]:8080" + path, []string{"http://[0:0::1]:8080/"}, true}, // same address, other spelling
		{"ws://Emulator.Local:80" + path, []string{"http://emulator.local"}, true},
		{"wss://emulator.local" + path, []string{"https://emulator.local/"}, true},
		{"wss://emulator.local" + path, []string{"http://emulator.local/"}, false}, // 443 is not 80
		{"ws://emulator.local" + path, []string{"https://emulator.local:80"}, true},
		{"ws://emulator.local" + path, []string{"not a url", "", "https://"}, false},
		{"ws://emulator.local" + path, []string{"https://x@emulator.local"}, false},
		{"ws://emulator.local" + path, []string{"ftp://emulator.local:80"}, false},
		{"ws://emulator.local.evil.example" + path, []string{"http://emulator.local"}, false},
		{"ws://ssmmessages.us-east-1.amazonaws.com" + path, []string{"https://ssm.us-east-1.amazonaws.com"}, false},         // an AWS endpoint adds nothing
		{"ws://ssmmessages.us-east-1.amazonaws.com" + path, []string{"https://ssmmessages.us-east-1.amazonaws.com"}, false}, // not even ws for AWS's own
		{"wss://evil.amazonaws.com" + path, []string{"https://evil.amazonaws.com"}, false},
		{"wss://ecs.us-east-1.amazonaws.com" + path, []string{"https://ecs.us-east-1.amazonaws.com"}, false}, // aws ecs execute-command's argument
	} {
		err := session.CheckStreamURL(tc.url, tc.trusted...)
		if (err == nil) != tc.ok {
			t.Errorf("CheckStreamURL(%q, %q) = %v, want ok=%v", tc.url, tc.trusted, err, tc.ok)
		}
		if err != nil && !errors.Is(err, session.ErrUntrustedStreamURL) {
			t.Errorf("CheckStreamURL(%q): %v does not wrap ErrUntrustedStreamURL", tc.url, err)
		}
		if err != nil && strings.Contains(err.Error(), "stream=input") {
			t.Errorf("CheckStreamURL(%q): the error repeats the URL's query: %v", tc.url, err)
		}
	}
}

func FuzzCheckStreamURL(f *testing.F) {
	for _, s := range []string{
		"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s?stream=input",
		"wss://ssmmessages.us-east-1.amazonaws.com@evil.example/",
		"ws://127.0.0.1:4566/x", "wss://[::1]:1/", "wss://%41", "wss:\\\\x", "",
		"wss://vpce-1.ssmmessages.us-east-1.vpce.amazonaws.com.cn/",
	} {
		f.Add(s, "http://127.0.0.1:4566")
	}
	f.Fuzz(func(t *testing.T, raw, trusted string) {
		err := session.CheckStreamURL(raw, trusted)
		if err != nil && !errors.Is(err, session.ErrUntrustedStreamURL) {
			t.Fatalf("%v does not wrap ErrUntrustedStreamURL", err)
		}
		if err != nil {
			return
		}
		// Whatever is accepted is a websocket URL to a named host, with no user information or backslash.
		u, perr := url.Parse(raw)
		if perr != nil || u.User != nil || u.Hostname() == "" || strings.ContainsAny(raw, "\\ \t\r\n") ||
			(!strings.EqualFold(u.Scheme, "wss") && !strings.EqualFold(u.Scheme, "ws")) {
			t.Fatalf("accepted %q (trusted %q)", raw, trusted)
		}
	})
}

// A refused stream URL is refused before anything is dialled: the host named in it sees no connection.
func TestOpenDialsNothingForAnUntrustedStreamURL(t *testing.T) {
	lis := testkit.CountAccepts(t)
	for _, u := range []string{
		"ws://" + lis.Addr() + "/v1/data-channel/s-1?stream=input",
		"wss://ssmmessages.us-east-1.amazonaws.com@" + lis.Addr() + "/v1/data-channel/s-1?stream=input",
		"ws://" + lis.Addr() + "/v1/data-channel/s-1?stream=input&X-Amz-Signature=00",
	} {
		_, err := session.Open(context.Background(), session.Info{SessionID: "s-1", StreamURL: u, TokenValue: "secret-token-value"},
			&session.Config{TrustedEndpoints: []string{"http://127.0.0.1:1", "https://ssm.us-east-1.amazonaws.com"}})
		if !errors.Is(err, session.ErrUntrustedStreamURL) {
			t.Errorf("Open(%q) = %v, want ErrUntrustedStreamURL", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token-value") {
			t.Errorf("the token appears in %v", err)
		}
	}
	if n := lis.AcceptedBefore(t); n != 0 {
		t.Fatalf("%d connections reached the untrusted host", n)
	}
	// The same listener named as the endpoint is dialled (the counter does count).
	s, err := session.Open(context.Background(), session.Info{SessionID: "s-1", StreamURL: "ws://" + lis.Addr() + "/v1/data-channel/s-1", TokenValue: "t"},
		&session.Config{TrustedEndpoints: []string{"http://" + lis.Addr()}})
	if err == nil {
		s.Close()
	}
	if n := lis.AcceptedBefore(t); n != 2 { // the trusted dial and the first probe
		t.Fatalf("%d connections before the second probe, want 2", n)
	}
}
