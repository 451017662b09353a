package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/h2"
	"github.com/gotcpdump/gotcpdump/goparser/result"
)

func TestPanicBecomesStatus(t *testing.T) {
	saved := h2Decode
	defer func() { h2Decode = saved }()
	h2Decode = func(*h2.Decoder, h2.Input, *result.Encoder) h2.Status { panic("boom") }
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
		{opFetch, []int64{opH2, 1}, "fetch needs 3 arguments"},
	} {
		n, st := call(c.op, c.args, "", nil, dst)
		if st != statusError || !strings.Contains(string(dst[:n]), c.want) {
			t.Errorf("op %d: status %d, %q", c.op, st, dst[:n])
		}
	}
}

// TestKeptResults: results of claimed data are kept per frame and
// ordinal and fetched as they were, after the decoder has moved on; data
// that is not HTTP/2 is not kept; a reset forgets everything.
func TestKeptResults(t *testing.T) {
	reset()
	dst := make([]byte, 4096)
	preface := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	n, st := call(opH2, []int64{1, 0, 1, 0, 7, 1}, "a 1\nb 2", preface, dst)
	if st != statusOK {
		t.Fatalf("status %d", st)
	}
	first := append([]byte(nil), dst[:n]...)
	// A later frame moves the connection on.
	if _, st := call(opH2, []int64{1, 0, 1, 0, 8, 1}, "a 1\nb 2", []byte("\x00\x00\x00\x04\x01\x00\x00\x00\x00"), dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	if _, st := call(opH2, []int64{1, 0, 1, 0, 9, 1}, "c 1\nd 2", []byte("GET / HTTP/1.1\r\n\r\n"), dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	other := bytes.Clone(preface)
	other[len(other)-1] = 1
	for _, c := range []struct {
		args    []int64
		payload []byte
		want    int
	}{
		{[]int64{opH2, 7, 1}, preface, statusOK},
		{[]int64{opH2, 7, 2}, preface, statusOK},           // another ordinal, the same octets
		{[]int64{opH2, 7, 1}, other, statusNotFound},       // the same length, other octets
		{[]int64{opH2, 7, 1}, preface[1:], statusNotFound}, // fewer octets
		{[]int64{opH2, 7, 1}, nil, statusNotFound},         // none
		{[]int64{opH2, 9, 1}, preface, statusNotFound},     // not HTTP/2: not kept
		{[]int64{opTCPTW, 7, 1}, preface, statusNotFound},  // another protocol
	} {
		m, st := call(opFetch, c.args, "", c.payload, dst)
		if st != c.want {
			t.Errorf("fetch %v of %d octets: status %d, want %d", c.args, len(c.payload), st, c.want)
		}
		if st == statusOK && string(dst[:m]) != string(first) {
			t.Errorf("fetch %v: the result differs from the first pass's", c.args)
		}
	}
	// A payload taken in part (a frame header cut by its end): a later
	// pass hands the PDU as far as the decoder took it.
	part := append(bytes.Clone(preface), 0, 0, 8)
	reset()
	if _, st := call(opH2, []int64{1, 0, 1, 0, 10, 1}, "a 1\nb 2", part, dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	if _, st := call(opFetch, []int64{opH2, 10, 1}, "", preface, dst); st != statusOK {
		t.Errorf("fetch of the octets taken from a payload taken in part: status %d", st)
	}
	gp_reset()
	if _, st := call(opFetch, []int64{opH2, 7, 1}, "", preface, dst); st != statusNotFound {
		t.Errorf("after a reset: status %d", st)
	}

	// With "no later pass" nothing is kept, and a fetch for such a frame
	// is an error, not "not ours"; a frame that was not HTTP/2 stays
	// "not ours".
	if _, st := call(opH2, []int64{1, 0, 1, 0, 7, 1, 1}, "a 1\nb 2", preface, dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	if _, st := call(opH2, []int64{1, 0, 1, 0, 9, 1, 1}, "c 1\nd 2", []byte("GET / HTTP/1.1\r\n\r\n"), dst); st != statusOK {
		t.Fatalf("status %d", st)
	}
	if len(state.kept.chunks) != 0 {
		t.Errorf("%d chunks kept with no later pass to come", len(state.kept.chunks))
	}
	m, st := call(opFetch, []int64{opH2, 7, 1}, "", nil, dst)
	if st != statusError || !strings.Contains(string(dst[:m]), "frame 7 was not kept") {
		t.Errorf("fetch of a frame not kept: status %d, %q", st, dst[:m])
	}
	for _, args := range [][]int64{{opH2, 9, 1}, {opH2, 8, 1}, {opTCPTW, 7, 1}} {
		if _, st := call(opFetch, args, "", nil, dst); st != statusNotFound {
			t.Errorf("fetch %v: status %d, want %d", args, st, statusNotFound)
		}
	}
}

// TestKeyString: a key is the caller's memory, which C reuses; the string
// must not change with it, must cost no allocation once seen, and the
// interned keys stay bounded.
func TestKeyString(t *testing.T) {
	reset()
	defer reset()
	buf := []byte("127.0.0.1 40000\n127.0.0.1 80")
	k := keyString(buf)
	buf[0] = 'X'
	if k != "127.0.0.1 40000\n127.0.0.1 80" {
		t.Fatalf("the key changed with the caller's buffer: %q", k)
	}
	buf[0] = '1'
	if n := testing.AllocsPerRun(100, func() { _ = keyString(buf) }); n != 0 {
		t.Errorf("a key seen before: %v allocations, want 0", n)
	}
	if keyString(nil) != "" {
		t.Error("an empty key is not empty")
	}
	keyString(make([]byte, maxKeyLen+1))
	if len(state.keys) != 1 {
		t.Errorf("%d keys interned, want only the short one", len(state.keys))
	}
	for i := range 3 * maxKeys {
		keyString([]byte(strconv.Itoa(i)))
		if len(state.keys) > maxKeys {
			t.Fatalf("%d keys interned after %d, want at most %d", len(state.keys), i+1, maxKeys)
		}
	}
}

// TestNullPointers: gp_call turns its pointers into slices before call's
// recover; a null pointer with a length must not panic there, which
// would take Wireshark down.
func TestNullPointers(t *testing.T) {
	reset()
	defer reset()
	out := make([]byte, 256)
	n, st := rawCall(opH2, nil, 7, nil, 20, nil, 100, out)
	if st != statusError || !strings.Contains(string(out[:n]), "h2 needs 1 argument") {
		t.Errorf("null arguments, key and data: status %d, %q", st, out[:n])
	}
	if _, st := rawCall(opH2, nil, 0, nil, 0, nil, 0, nil); st != statusError {
		t.Errorf("no output buffer: status %d", st)
	}
}

// TestUnencodableResultTakesOctets: a packet whose result cannot be
// encoded after the decoder took it (its HPACK tables moved on) is
// taken all the same, with the error, not failed: Wireshark would offer
// the octets again and they would be decoded twice.
func TestUnencodableResultTakesOctets(t *testing.T) {
	reset()
	saved := h2Decode
	defer func() { h2Decode = saved }()
	h2Decode = func(d *h2.Decoder, in h2.Input, e *result.Encoder) h2.Status {
		st := d.Decode(in, e)
		for range result.MaxDepth + 1 {
			e.BeginArray()
		}
		return st
	}
	data := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
	dst := make([]byte, 4096)
	n, st := call(opH2, []int64{1}, "a 1\nb 2", data, dst)
	if st != statusOK {
		t.Fatalf("status %d: %q", st, dst[:n])
	}
	v, rest, err := result.Decode(dst[:n])
	if err != nil || len(rest) != 0 {
		t.Fatalf("result: %v, %d octets left", err, len(rest))
	}
	r := v.([]any)
	experts := r[5].([]any)
	if r[0] != int64(h2.StatusOK) || r[1] != int64(len(data)) || r[2] != int64(0) || len(r[3].([]any)) != 0 || len(experts) != 1 ||
		!strings.Contains(experts[0].([]any)[1].(string), "nesting too deep; this packet's frames are decoded but not shown") {
		t.Fatalf("result %v", r)
	}
}
