//go:build unix

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// StartSSHD runs a real OpenSSH sshd on 127.0.0.1 at a random port, with
// fresh host and client keys, public-key authentication only, and no PAM
// (unless the account's password is locked, which sshd refuses without it). It
// returns the port, the user to log in as (the current user: sshd can only
// switch users when it runs as root), and the options an ssh or scp client
// needs to log in without prompts:
//
//	ssh := exec.Command("ssh", append(args, "-p", strconv.Itoa(port), user+"@127.0.0.1", "echo ok")...)
//
// The options carry no port, so that they also suit a ProxyCommand whose
// target is not 127.0.0.1. The server is stopped when the test ends.
func StartSSHD(t testing.TB) (port int, login string, clientArgs []string) {
	t.Helper()
	return StartSSHDWith(t, SSHDOptions{})
}

// SSHDOptions changes the server StartSSHDWith starts.
type SSHDOptions struct {
	// AuthorizedKeysCommand, when set, is the only source of authorized keys: sshd runs it (an absolute
	// path and its arguments; %u is the user logging in) and reads the keys from its output, as an EC2
	// instance with EC2 Instance Connect runs eic_run_authorized_keys. No client key is made then, and
	// clientArgs name no identity. The program must be owned by root and writable by nobody else (sshd
	// checks), e.g. "/usr/bin/curl -sf URL/%u".
	AuthorizedKeysCommand string
}

// StartSSHDWith is StartSSHD with options.
func StartSSHDWith(t testing.TB, opts SSHDOptions) (port int, login string, clientArgs []string) {
	t.Helper()
	sshd := requireFile(t, "sshd", "/usr/sbin/sshd")
	keygen := RequireProgram(t, "ssh-keygen")
	RequireProgram(t, "ssh")

	u, err := user.Current()
	if err != nil {
		t.Fatalf("e2e: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// Privilege separation needs this directory when sshd runs as root.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("e2e: sshd: %v", err)
		}
	}

	// Without PAM, sshd refuses a user whose password field is locked
	// ("!..."), even for public-key logins; root often is. PAM only checks
	// that the account has not expired, so use it then.
	usePAM := "no"
	if passwordLocked(u.Username) {
		usePAM = "yes"
	}

	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	clientKey := filepath.Join(dir, "id_ed25519")
	keys := []string{hostKey, clientKey}
	if opts.AuthorizedKeysCommand != "" {
		keys = keys[:1]
	}
	for _, k := range keys {
		out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "ssmwire-e2e", "-f", k).CombinedOutput()
		if err != nil {
			t.Fatalf("e2e: ssh-keygen: %v\n%s", err, out)
		}
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	keysConf := "AuthorizedKeysFile " + authKeys + "\n"
	if opts.AuthorizedKeysCommand != "" {
		keysConf = fmt.Sprintf("AuthorizedKeysFile none\nAuthorizedKeysCommand %s\nAuthorizedKeysCommandUser %s\n", opts.AuthorizedKeysCommand, u.Username)
	} else {
		pub, err := os.ReadFile(clientKey + ".pub")
		if err != nil {
			t.Fatalf("e2e: sshd: %v", err)
		}
		if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
			t.Fatalf("e2e: sshd: %v", err)
		}
	}

	port = startServer(t, "sshd", func(port int) error {
		config := filepath.Join(dir, "sshd_config."+strconv.Itoa(port))
		conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
%sPubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM %s
StrictModes no
PermitRootLogin prohibit-password
AllowUsers %s
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
LogLevel INFO
Subsystem sftp internal-sftp
`, port, hostKey, filepath.Join(dir, "sshd."+strconv.Itoa(port)+".pid"), keysConf, usePAM, u.Username)
		if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
			return err
		}
		// -D: stay in the foreground; -e: log to stderr (captured).
		p, err := startProcess(t, "sshd", exec.Command(sshd, "-D", "-e", "-f", config), syscall.SIGTERM)
		if err != nil {
			return err
		}
		return p.waitReady(func() bool { return canDial(port) })
	})

	clientArgs = []string{
		"-F", os.DevNull,
		"-i", clientKey,
		"-o", "IdentitiesOnly=yes",
	}
	if opts.AuthorizedKeysCommand != "" {
		clientArgs = []string{"-F", os.DevNull}
	}
	clientArgs = append(clientArgs,
		"-o", "UserKnownHostsFile="+os.DevNull,
		"-o", "StrictHostKeyChecking=no",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
	)
	return port, u.Username, clientArgs
}

// passwordLocked reports whether name's password in /etc/shadow is locked
// ("!" prefix). Only root can read the file; for others it reports false,
// which is right: sshd not running as root cannot use PAM anyway.
func passwordLocked(name string) bool {
	b, err := os.ReadFile("/etc/shadow")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) >= 2 && f[0] == name {
			return strings.HasPrefix(f[1], "!")
		}
	}
	return false
}
