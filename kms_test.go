package ssmwire_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/protocol"
	"github.com/ssmwire/ssmwire/session"
	"github.com/ssmwire/ssmwire/shell"
	"github.com/ssmwire/ssmwire/ssmtest"
)

const testKeyID = "alias/ssmwire-test"

// newKMSServer starts a server whose agent requires KMS encryption for every non-Port session.
func newKMSServer(t testing.TB) *ssmtest.Server {
	return newServer(t, &ssmtest.Options{KMSKeyID: testKeyID})
}

func TestKMSEncryptedShell(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	c := newClient(t, srv, nil)

	in, inw := io.Pipe()
	var out testkit.Buffer
	done := make(chan error, 1)
	go func() { done <- c.Shell(testkit.Context(t), target, &shell.Config{Stdin: in, Stdout: &out}) }()

	// The quotes keep the terminal's echo of the command line from matching the output.
	io.WriteString(inw, "echo en''crypted\n")
	io.WriteString(inw, "exit\n")
	err := <-done
	inw.Close() // the abandoned stdin pump (see package shell) returns at its next Read
	if err != nil {
		t.Fatalf("Shell: %v (output %q)", err, out.String())
	}
	if !strings.Contains(out.String(), "encrypted\r\n") {
		t.Errorf("output %q lacks the command's output", out.String())
	}
	st := srv.Stats()
	if st.DataKeys != 1 || st.Decrypts != 1 {
		t.Errorf("KMS calls: %d GenerateDataKey, %d Decrypt; want 1 each", st.DataKeys, st.Decrypts)
	}
	waitGoroutines(t, false)
}

func TestKMSEncryptedCommand(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	c := newClient(t, srv, nil)

	var stdout, stderr bytes.Buffer
	err := c.Run(testkit.Context(t), target, ssmwire.Command{
		Document: ssmtest.DocRunCommand,
		Command:  "echo out; echo err >&2; exit 3",
		Stdout:   &stdout,
		Stderr:   &stderr,
	})
	var ee *ssmwire.ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("Run = %v, want exit status 3", err)
	}
	if stdout.String() != "out\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if st := srv.Stats(); st.DataKeys != 1 {
		t.Errorf("GenerateDataKey calls = %d, want 1", st.DataKeys)
	}
	waitGoroutines(t, false)
}

// TestKMSHandshakeReportsEncryption opens an encrypted session by hand and checks what Ready reports.
func TestKMSHandshakeReportsEncryption(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	c := newClient(t, srv, nil)
	ctx := testkit.Context(t)

	s := startCommand(t, c, "echo hi")
	hs, err := s.Ready(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !hs.Encrypted || !hs.Handshaked || hs.SessionType != ssmtest.SessionTypeNonInteractiveCommands {
		t.Errorf("handshake %+v, want an encrypted NonInteractiveCommands session", hs)
	}
	if !strings.Contains(hs.CustomerMessage, "KMS") {
		t.Errorf("customer message %q does not mention KMS", hs.CustomerMessage)
	}
	b, err := io.ReadAll(s.Channel())
	if err != nil || string(b) != "hi\n" {
		t.Errorf("output %q, %v", b, err)
	}
	s.Close()
}

func TestKMSTamperedCiphertext(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	tamper := &tamperDial{}
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.Session = &session.Config{Dial: tamper.dial} })

	var stdout bytes.Buffer
	err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "echo secret", Stdout: &stdout})
	t.Logf("Run: %v", err)
	if !errors.Is(err, session.ErrDecrypt) {
		t.Fatalf("Run = %v, want ErrDecrypt", err)
	}
	if !tamper.flipped() {
		t.Fatal("no encrypted output was tampered with")
	}
	if stdout.Len() != 0 {
		t.Errorf("tampered output reached the caller: %q", stdout.String())
	}
	waitEnded(t, srv, srv.SessionIDs()[0]) // the library terminated the session it could no longer trust
	waitGoroutines(t, false)
}

func TestKMSWrongKey(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.KMS = wrongKeyKMS{cfg.KMS} })

	err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "echo secret"})
	t.Logf("Run: %v", err)
	if !errors.Is(err, session.ErrHandshake) || !strings.Contains(err.Error(), "challenge") {
		t.Fatalf("Run = %v, want a handshake error about the encryption challenge", err)
	}
	waitEnded(t, srv, srv.SessionIDs()[0])
	waitGoroutines(t, false)
}

func TestKMSGenerateDataKeyFails(t *testing.T) {
	checkGoroutines(t)
	srv := newKMSServer(t)
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.KMS = failingKMS{} })

	err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "echo secret"})
	t.Logf("Run: %v", err)
	if !errors.Is(err, session.ErrHandshake) || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("Run = %v, want a handshake error carrying the KMS error", err)
	}
	waitEnded(t, srv, srv.SessionIDs()[0])
	waitGoroutines(t, false)
}

func TestKMSWithoutClientIsRefused(t *testing.T) {
	srv := newKMSServer(t)
	c := newClient(t, srv, func(cfg *ssmwire.Config) { cfg.KMS = nil })
	err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "true"})
	t.Logf("Run: %v", err)
	if !errors.Is(err, session.ErrHandshake) {
		t.Fatalf("Run = %v, want ErrHandshake", err)
	}
}

// wrongKeyKMS returns a real data key's ciphertext with a different plaintext, as a KMS that lied would: the
// agent decrypts the real key, so the two ends disagree.
type wrongKeyKMS struct{ session.KMSClient }

func (w wrongKeyKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	out, err := w.KMSClient.GenerateDataKey(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	wrong := bytes.Clone(out.Plaintext)
	for i := range wrong {
		wrong[i] ^= 0x5a
	}
	out.Plaintext = wrong
	return out, nil
}

type failingKMS struct{}

func (failingKMS) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	return nil, errors.New("AccessDeniedException: not authorized to use key")
}

// tamperDial dials the real websocket and flips one byte inside the first encrypted Output payload the agent
// sends, recomputing the digest so that only the AEAD tag can notice.
type tamperDial struct {
	mu   sync.Mutex
	done bool
}

func (d *tamperDial) flipped() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

func (d *tamperDial) dial(ctx context.Context, url string, header http.Header) (session.Transport, error) {
	tr, err := session.DialWebsocket(ctx, url, header)
	if err != nil {
		return nil, err
	}
	return &tamperTransport{Transport: tr, d: d}, nil
}

type tamperTransport struct {
	session.Transport
	d *tamperDial
}

func (t *tamperTransport) ReadFrame(buf []byte) ([]byte, error) {
	b, err := t.Transport.ReadFrame(buf)
	if err != nil {
		return b, err
	}
	var m protocol.Message
	if protocol.Parse(b, &m) != nil || m.MessageType != protocol.TypeOutputStreamData || m.PayloadType != protocol.PayloadOutput {
		return b, nil
	}
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	if t.d.done || len(m.Payload) <= 12 {
		return b, nil
	}
	t.d.done = true
	m.Payload = bytes.Clone(m.Payload)
	m.Payload[12] ^= 0x01 // the first ciphertext byte, after the 12-byte nonce
	return m.AppendMarshal(nil)
}
