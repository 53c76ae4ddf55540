package bench

import "testing"

func TestParseSmaps(t *testing.T) {
	const smaps = `00400000-00995000 r-xp 00000000 fe:00 99 /opt/my plugin
Size:               5716 kB
Rss:                5396 kB
Anonymous:             0 kB
00f41000-00fa3000 rw-p 00b41000 fe:00 99 /opt/my plugin
Rss:                 332 kB
Anonymous:            88 kB
c000000000-c000800000 rw-p 00000000 00:00 0
Rss:                8192 kB
Anonymous:          8192 kB
7ffd1000-7ffd3000 rw-p 00000000 00:00 0                          [stack]
Rss:                  20 kB
Anonymous:            20 kB
7ffd5000-7ffd7000 r-xp 00000000 00:00 0                          [vdso]
Rss:                   8 kB
Anonymous:             0 kB
`
	got := parseSmaps([]byte(smaps), "/opt/my plugin")
	want := rssParts{Binary: (5396 + 332 - 88) << 10, Anon: (88 + 8192 + 20) << 10, Other: 8 << 10}
	if got != want {
		t.Errorf("parseSmaps = %+v, want %+v", got, want)
	}
	if got := parseSmaps([]byte(smaps), ""); got.Binary != 0 || got.Anon != want.Anon {
		t.Errorf("without the executable's path: %+v", got)
	}
}
