package shell

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunks is a reader that returns one chunk per Read, so that a test decides where reads split the input.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

func TestEscapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		input []string // one Read each
		sent  string   // what reaches the remote side
		ended bool     // "~." was seen
		helps int      // "~?" seen this many times
	}{
		{"plain", []string{"ls -l\r"}, "ls -l\r", false, 0},
		{"end at session start", []string{"~."}, "", true, 0},
		{"end after CR", []string{"echo hi\r~.ignored"}, "echo hi\r", true, 0},
		{"end after LF", []string{"a\n~."}, "a\n", true, 0},
		{"end split across reads", []string{"x\r~", ".", "never"}, "x\r", true, 0},
		{"end split after the newline", []string{"x\r", "~", "."}, "x\r", true, 0},
		{"tilde mid-line is data", []string{"cd ~.; ls ~/x\r"}, "cd ~.; ls ~/x\r", false, 0},
		{"double tilde sends one", []string{"~~."}, "~.", false, 0},
		{"double tilde split", []string{"~", "~", "."}, "~.", false, 0},
		{"other char after tilde passes both", []string{"~x\r"}, "~x\r", false, 0},
		{"tilde then newline", []string{"~\r~."}, "~\r", true, 0},
		{"help", []string{"~?"}, "", false, 1},
		{"help then end", []string{"~?~."}, "", true, 1},
		{"help split", []string{"ab\r~", "?cd"}, "ab\rcd", false, 1},
		{"control keys pass", []string{"\x03\x1a\x1c\x04"}, "\x03\x1a\x1c\x04", false, 0},
		{"held tilde flushed at end of input", []string{"a\r~"}, "a\r~", false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := chunks(append([]string(nil), tc.input...))
			var help bytes.Buffer
			ended := 0
			r := newEscapeReader(&in, &help, func() { ended++ })
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.sent {
				t.Errorf("sent %q, want %q", got, tc.sent)
			}
			if (ended == 1) != tc.ended || ended > 1 {
				t.Errorf("end called %d times, want ended=%v", ended, tc.ended)
			}
			if n := strings.Count(help.String(), "Supported escape sequences"); n != tc.helps {
				t.Errorf("help printed %d times, want %d", n, tc.helps)
			}
			// "~." ends the line it was typed on, so the local prompt starts on a fresh one.
			if tc.ended != strings.HasSuffix(help.String(), EscapeEndEcho) {
				t.Errorf("stderr after the escapes: %q", help.String())
			}
		})
	}
}

// TestEscapesOneByteReads feeds every case a byte at a time: the state machine must not depend on reads.
func TestEscapesOneByteReads(t *testing.T) {
	in := "ls\r~?pwd\r~~x\r~x~.\r~."
	var help bytes.Buffer
	ended := false
	got, err := io.ReadAll(newEscapeReader(iotest.OneByteReader(strings.NewReader(in)), &help, func() { ended = true }))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ls\rpwd\r~x\r~x~.\r"; string(got) != want || !ended || help.Len() == 0 {
		t.Errorf("sent %q ended %v help %d; want %q, true, >0", got, ended, help.Len(), want)
	}
}
