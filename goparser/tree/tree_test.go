package tree

import (
	"os/exec"
	"regexp"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/result"
)

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

// TestHeadInlined: head runs for every item, and the compiler's inlining
// budget is close; beyond it, goh2 took 3% longer a packet.
func TestHeadInlined(t *testing.T) {
	out, err := exec.Command("go", "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`: can inline head\b`).Match(out) {
		t.Fatalf("head is not inlined:\n%s", regexp.MustCompile(`(?m)^.*inline head.*$`).Find(out))
	}
}

// TestValues: each kind of Value becomes its item kind and value.
func TestValues(t *testing.T) {
	for _, c := range []struct {
		v    Value
		want result.Item
	}{
		{Int(-3), result.Item{Kind: result.ItemInt, Int: -3}},
		{Str("s"), result.Item{Kind: result.ItemString, Str: "s"}},
		{Bytes([]byte("b")), result.Item{Kind: result.ItemString, Bytes: []byte("b")}},
		{Bool(true), result.Item{Kind: result.ItemTrue}},
		{Bool(false), result.Item{Kind: result.ItemFalse}},
		{Float(0.5), result.Item{Kind: result.ItemFloat, Float: 0.5}},
		{At(result.RefSource, 7, []byte("ab")), result.Item{Kind: result.ItemRef, Int: 7<<1 | 1, Bytes: []byte("ab")}},
		{FromBytes, result.Item{}},
	} {
		var it result.Item
		head(&it, 0, 0, 0, &c.v, 0)
		if it.Kind != c.want.Kind || it.Int != c.want.Int || it.Float != c.want.Float || it.Str != c.want.Str ||
			string(it.Bytes) != string(c.want.Bytes) {
			t.Errorf("%+v: %+v, want %+v", c.v, it, c.want)
		}
	}
}
