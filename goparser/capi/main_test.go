package main

import (
	"strings"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/h2"
	"github.com/gotcpdump/gotcpdump/goparser/result"
)

func TestPanicBecomesStatus(t *testing.T) {
	saved := h2Decode
	defer func() { h2Decode = saved }()
	h2Decode = func(*h2.Decoder, h2.Input, *result.Encoder) { panic("boom") }
	dst := make([]byte, 256)
	n, st := call(opH2, []int64{0}, "a 1\nb 2", []byte("x"), dst)
	if st != statusError || !strings.Contains(string(dst[:n]), "internal error (op 1): boom") {
		t.Fatalf("status %d, message %q", st, dst[:n])
	}
	// The library keeps working after the panic.
	h2Decode = saved
	if _, st := call(opH2, []int64{1}, "a 1\nb 2", []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), dst); st != statusOK {
		t.Fatalf("status %d after a recovered panic", st)
	}
}

func TestSmallBufferKeepsResult(t *testing.T) {
	reset()
	data := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	n, st := call(opH2, []int64{1}, "a 1\nb 2", data, make([]byte, 4))
	if st != statusNeedBuffer || n <= 4 {
		t.Fatalf("status %d, length %d", st, n)
	}
	full := make([]byte, n)
	if m, st := take(full); st != statusOK || m != n {
		t.Fatalf("take: status %d, %d of %d octets", st, m, n)
	}
	v, _, err := result.Decode(full)
	if err != nil || v.([]any)[4] != "Magic, SETTINGS" {
		t.Fatalf("result %v, %v", v, err)
	}
}

func TestBadCalls(t *testing.T) {
	dst := make([]byte, 128)
	for _, c := range []struct {
		op   int
		args []int64
		want string
	}{
		{42, nil, "unknown op 42"},
		{opH2, nil, "h2 needs 1 argument"},
		{opH2Options, []int64{1}, "h2 options need 6 arguments"},
	} {
		n, st := call(c.op, c.args, "", nil, dst)
		if st != statusError || !strings.Contains(string(dst[:n]), c.want) {
			t.Errorf("op %d: status %d, %q", c.op, st, dst[:n])
		}
	}
}
