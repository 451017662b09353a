package tree

import "testing"

func TestEscapeControls(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"plain text, ünïcode":            "plain text, ünïcode",
		"line one\nline two":             `line one\nline two`,
		"tab\there\r\n":                  `tab\there\r\n`,
		"nul\x00, escape \x1b, del \x7f": `nul\x00, escape \x1b, del \x7f`,
	} {
		if got := escapeControls(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = escapeControls("no controls here") }); n != 0 {
		t.Errorf("%v allocations without controls", n)
	}
}
