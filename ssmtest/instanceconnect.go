package ssmtest

import (
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// InstanceConnectKeyLifetime is how long a key pushed with SendSSHPublicKey stays usable, as on AWS.
const InstanceConnectKeyLifetime = 60 * time.Second

// instanceConnectPath is where the server serves the keys pushed for an instance's user, as an instance's
// metadata service serves /latest/meta-data/managed-ssh-keys/active-keys/<user>/ to sshd's
// AuthorizedKeysCommand: GET /eic/<instance id>/<user>.
const instanceConnectPath = "/eic/"

// The API's input constraints (EC2 Instance Connect API reference, SendSSHPublicKey).
var (
	eicInstanceID = regexp.MustCompile(`^i-[a-f0-9]+$`)
	eicOSUser     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9@._-]{0,30}[A-Za-z0-9$_-]?$`)
	eicAZ         = regexp.MustCompile(`^(\w+-){2,3}\d+\w+$`)
)

// pushedKey is one key pushed with SendSSHPublicKey.
type pushedKey struct {
	line string // "type base64"
	at   time.Time
}

// eicKeys holds the pushed keys by "instance/user".
type eicKeys struct {
	mu   sync.Mutex
	keys map[string][]pushedKey // guarded by mu
}

// sendSSHPublicKey is AWSEC2InstanceConnectService.SendSSHPublicKey.
func (s *Server) sendSSHPublicKey(r *apiRequest) (any, error) {
	var in struct {
		InstanceId       *string
		InstanceOSUser   *string
		SSHPublicKey     *string
		AvailabilityZone *string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	for name, v := range map[string]*string{"instanceId": in.InstanceId, "instanceOSUser": in.InstanceOSUser, "sSHPublicKey": in.SSHPublicKey} {
		if v == nil {
			return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)}
		}
	}
	id, user, key := *in.InstanceId, *in.InstanceOSUser, *in.SSHPublicKey
	switch {
	case len(id) < 10 || len(id) > 32 || !eicInstanceID.MatchString(id):
		return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'instanceId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^i-[a-f0-9]+$", id)}
	case len(user) > 32 || !eicOSUser.MatchString(user):
		return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("1 validation error detected: Value '%s' at 'instanceOSUser' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Za-z_][A-Za-z0-9\\@\\._-]{0,30}[A-Za-z0-9\\$_-]?$", user)}
	case len(key) < 80 || len(key) > 4096:
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value at 'sSHPublicKey' failed to satisfy constraint: Member must have length between 80 and 4096"}
	case in.AvailabilityZone != nil && !eicAZ.MatchString(*in.AvailabilityZone):
		return nil, &apiError{Code: "ValidationException", Message: "1 validation error detected: Value at 'availabilityZone' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(\\w+-){2,3}\\d+\\w+$"}
	}
	if s.faults.takeThrottle() {
		return nil, &apiError{Code: "ThrottlingException", Message: "Rate exceeded"}
	}
	line, err := eicCheckKey(key)
	if err != nil {
		return nil, err
	}
	if s.instance(id) == nil {
		return nil, &apiError{Code: "EC2InstanceNotFoundException", Message: fmt.Sprintf("Instance %s not found", id)}
	}
	now := s.now()
	s.eic.mu.Lock()
	if s.eic.keys == nil {
		s.eic.keys = make(map[string][]pushedKey)
	}
	k := id + "/" + user
	s.eic.keys[k] = append(liveKeys(s.eic.keys[k], now), pushedKey{line: line, at: now})
	s.eic.mu.Unlock()
	return struct {
		RequestId string
		Success   bool
	}{wire.FormatID(wire.NewID()), true}, nil
}

// eicCheckKey accepts what the API accepts: an OpenSSH ssh-rsa (2048 bits or more) or ssh-ed25519 public
// key, with or without a comment.
func eicCheckKey(key string) (string, error) {
	f := strings.Fields(key)
	if len(f) < 2 {
		return "", &apiError{Code: "InvalidArgsException", Message: "Invalid key: the key must be an OpenSSH public key"}
	}
	b, err := base64.StdEncoding.DecodeString(f[1])
	if err != nil {
		return "", &apiError{Code: "InvalidArgsException", Message: "Invalid key: the key body is not base64"}
	}
	pub, err := ssh.ParsePublicKey(b)
	if err != nil || pub.Type() != f[0] {
		return "", &apiError{Code: "InvalidArgsException", Message: "Invalid key: the key could not be parsed"}
	}
	switch pub.Type() {
	case ssh.KeyAlgoED25519:
	case ssh.KeyAlgoRSA:
		if ck, ok := pub.(ssh.CryptoPublicKey); !ok || rsaBits(ck) < 2048 {
			return "", &apiError{Code: "InvalidArgsException", Message: "Invalid key: RSA keys must be at least 2048 bits"}
		}
	default:
		return "", &apiError{Code: "InvalidArgsException", Message: fmt.Sprintf("Unsupported key type %s: supported types are ssh-rsa and ssh-ed25519", pub.Type())}
	}
	return f[0] + " " + f[1], nil
}

// liveKeys returns the keys pushed less than InstanceConnectKeyLifetime before now.
func liveKeys(keys []pushedKey, now time.Time) []pushedKey {
	var live []pushedKey
	for _, k := range keys {
		if now.Sub(k.at) < InstanceConnectKeyLifetime {
			live = append(live, k)
		}
	}
	return live
}

// InstanceConnectKeys returns the keys pushed for user on instance that are still usable, oldest first.
func (s *Server) InstanceConnectKeys(instance, user string) []string {
	now := s.now()
	s.eic.mu.Lock()
	defer s.eic.mu.Unlock()
	var out []string
	for _, k := range liveKeys(s.eic.keys[instance+"/"+user], now) {
		out = append(out, k.line)
	}
	return out
}

// InstanceConnectURL returns the URL at which the usable keys pushed for user on instance are served, one
// per line (text/plain; empty when there are none), as an instance's metadata service serves them: for
// sshd's AuthorizedKeysCommand, e.g. "/usr/bin/curl -sf <URL with %u for the user>". user may be "%u".
func (s *Server) InstanceConnectURL(instance, user string) string {
	return s.URL + instanceConnectPath + instance + "/" + user
}

// serveInstanceConnect answers GET /eic/<instance>/<user>.
func (s *Server) serveInstanceConnect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	id, user, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, instanceConnectPath), "/")
	if !ok || s.instance(id) == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	for _, k := range s.InstanceConnectKeys(id, user) {
		fmt.Fprintln(w, k)
	}
}

func rsaBits(k ssh.CryptoPublicKey) int {
	if pk, ok := k.CryptoPublicKey().(*rsa.PublicKey); ok {
		return pk.N.BitLen()
	}
	return 0
}
