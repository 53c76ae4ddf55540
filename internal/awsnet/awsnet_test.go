package awsnet

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// env is a Lookup over a map.
func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const pemCert = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIQIRi6zePL6mKjOipn+dNuaTAKBggqhkjOPQQDAjASMRAw
DgYDVQQKEwdBY21lIENvMB4XDTE3MTAyMDE5NDMwNloXDTE4MTAyMDE5NDMwNlow
EjEQMA4GA1UEChMHQWNtZSBDbzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABD0d
7VNhbWvZLWPuj/RtHFjvtJBEwOkhbN/BnnE8rnZR8+sbwnc/KhCk3FhnpHZnQz7B
5aETbbIgmuvewdjvSBSjYzBhMA4GA1UdDwEB/wQEAwICpDATBgNVHSUEDDAKBggr
BgEFBQcDATAPBgNVHRMBAf8EBTADAQH/MCkGA1UdEQQiMCCCDmxvY2FsaG9zdDo1
NDUzgg4xMjcuMC4wLjE6NTQ1MzAKBggqhkjOPQQDAgNIADBFAiEA2zpJEPQyz6/l
Wf86aX6PepsntZv2GYlA5UpabfT2EZICICpJ5h/iI+i341gBmLiAFQOyTDT+/wQc
6MF9+Yw1Yy0t
-----END CERTIFICATE-----
`

// TestCABundle: AWS_CA_BUNDLE wins over the profile's ca_bundle (as in the SDK), a profile's bundle is read
// from AWS_CONFIG_FILE of the lookup, a missing profile is no error here, and a bad bundle is a
// CABundleError naming the file and where it was named.
func TestCABundle(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	bad := filepath.Join(dir, "bad.pem")
	cfg := filepath.Join(dir, "config")
	for f, b := range map[string]string{good: pemCert, bad: "nothing\n", cfg: "[profile corp]\nca_bundle = " + bad + "\n"} {
		if err := os.WriteFile(f, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	b, err := CABundle(ctx, env(map[string]string{"AWS_CA_BUNDLE": good, "AWS_CONFIG_FILE": cfg}), "corp", Files{})
	if err != nil || string(b) != pemCert {
		t.Errorf("AWS_CA_BUNDLE over the profile: %q, %v", b, err)
	}
	_, err = CABundle(ctx, env(map[string]string{"AWS_CONFIG_FILE": cfg}), "corp", Files{})
	var be *CABundleError
	if !errors.As(err, &be) || be.File != bad || be.Source != `the ca_bundle of profile "corp"` || !errors.Is(err, errNoCertificate) {
		t.Errorf("the profile's bad bundle: %v", err)
	}
	_, err = CABundle(ctx, env(map[string]string{"AWS_PROFILE": "corp"}), "", Files{Config: []string{cfg}})
	if !errors.As(err, &be) {
		t.Errorf("AWS_PROFILE's bad bundle: %v", err)
	}
	if b, err := CABundle(ctx, env(map[string]string{"AWS_CONFIG_FILE": cfg}), "nobody", Files{}); b != nil || err != nil {
		t.Errorf("a missing profile: %q, %v; want nothing", b, err)
	}
}

// TestProxy: Go's rules over the given environment: upper case first, https and http apart, NO_PROXY, never
// loopback; ProxyFrom names the variable the proxy came from.
func TestProxy(t *testing.T) {
	for _, tc := range []struct {
		env        map[string]string
		url        string
		want, from string
	}{
		{map[string]string{"HTTPS_PROXY": "http://a:1", "https_proxy": "http://b:1"}, "https://ssm.example:443/", "http://a:1", "HTTPS_PROXY"},
		{map[string]string{"https_proxy": "https://b:1"}, "https://ssm.example:443/", "https://b:1", "https_proxy"},
		{map[string]string{"HTTPS_PROXY": "", "https_proxy": "https://b:1"}, "https://ssm.example:443/", "https://b:1", "https_proxy"},
		{map[string]string{"HTTP_PROXY": "http://c:1"}, "https://ssm.example:443/", "", ""},
		{map[string]string{"HTTP_PROXY": "http://c:1"}, "http://ssm.example:80/", "http://c:1", "HTTP_PROXY"},
		{map[string]string{"http_proxy": "http://c:1", "HTTPS_PROXY": "http://a:1"}, "http://ssm.example:80/", "http://c:1", "http_proxy"},
		{map[string]string{"HTTPS_PROXY": "http://a:1", "NO_PROXY": ".example"}, "https://ssm.example:443/", "", ""},
		{map[string]string{"HTTPS_PROXY": "http://a:1", "no_proxy": "ssm.example"}, "https://ssm.example:443/", "", ""},
		{map[string]string{"HTTPS_PROXY": "http://a:1"}, "https://127.0.0.1:443/", "", ""},
	} {
		u, _ := url.Parse(tc.url)
		got, err := Proxy(env(tc.env))(&http.Request{URL: u})
		if err != nil || (got == nil) != (tc.want == "") || (got != nil && got.String() != tc.want) {
			t.Errorf("%v for %s: %v, %v; want %q", tc.env, tc.url, got, err, tc.want)
		}
		got, from, err := ProxyFrom(env(tc.env))(u)
		if err != nil || (got == nil) != (tc.want == "") || (got != nil && got.String() != tc.want) || from != tc.from {
			t.Errorf("ProxyFrom: %v for %s: %v from %q, %v; want %q from %q", tc.env, tc.url, got, from, err, tc.want, tc.from)
		}
	}
}
