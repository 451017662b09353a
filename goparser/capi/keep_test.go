package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// TestKeptResultsStore: every kept result comes back as it was put, by op,
// frame and ordinal, across chunk boundaries and for a result larger than
// a chunk; nothing else is found.
func TestKeptResultsStore(t *testing.T) {
	var k keptResults
	want := map[keptKey][]byte{}
	put := func(key keptKey, b []byte) {
		k.put(key, b)
		want[key] = b
	}
	for f := uint32(1); f <= 3000; f++ {
		put(keptKey{opTCPTW, f, 1}, bytes.Repeat([]byte{byte(f)}, 500+int(f%700)))
		if f%7 == 0 {
			put(keptKey{opH2, f, 2}, []byte(fmt.Sprint("second call of ", f)))
		}
	}
	put(keptKey{opH2, 5, 1}, bytes.Repeat([]byte("big"), keptChunk))
	put(keptKey{opTCPTW, 100000, 1}, []byte("far"))
	for key, b := range want {
		got, ok := k.get(key)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("%+v: got %d octets (%v), want %d", key, len(got), ok, len(b))
		}
	}
	for _, key := range []keptKey{{opTCPTW, 0, 1}, {opTCPTW, 3001, 1}, {opH2, 6, 1}, {opH2, 8, 2}, {opGRPCWeb, 1, 1}, {opTCPTW, 1 << 30, 1}, {maxKeptOp + 1, 1, 1}} {
		if _, ok := k.get(key); ok {
			t.Fatalf("%+v found, nothing was kept for it", key)
		}
	}
	if got, _ := k.get(keptKey{opTCPTW, 1, 1}); cap(got) != len(got) {
		t.Fatalf("a kept result can be appended to in place (cap %d, len %d)", cap(got), len(got))
	}
}

// TestKeptResultsSkipped: skip marks a frame of one op, whatever the
// ordinal, and nothing else; frames far apart grow the bits as needed.
func TestKeptResultsSkipped(t *testing.T) {
	var k keptResults
	skipped := []uint32{1, 63, 64, 65, 1000, 1 << 20}
	for _, f := range skipped {
		k.skip(keptKey{opH2, f, 1})
	}
	k.skip(keptKey{maxKeptOp + 1, 2, 1})
	for _, f := range skipped {
		if !k.skipped(keptKey{opH2, f, 1}) || !k.skipped(keptKey{opH2, f, 3}) {
			t.Errorf("frame %d: not skipped", f)
		}
		if k.skipped(keptKey{opTCPTW, f, 1}) {
			t.Errorf("frame %d skipped for another op", f)
		}
		if _, ok := k.get(keptKey{opH2, f, 1}); ok {
			t.Errorf("frame %d: a result found", f)
		}
	}
	for _, f := range []uint32{0, 2, 62, 66, 999, 1<<20 + 1, 1 << 30} {
		if k.skipped(keptKey{opH2, f, 1}) {
			t.Errorf("frame %d skipped", f)
		}
	}
	if k.skipped(keptKey{maxKeptOp + 1, 2, 1}) {
		t.Error("an op that keeps nothing skipped")
	}
}

// TestKeptResultsCompressed: a large result of repetition (what an HPACK
// bomb's frame decodes to) is kept in a few kilobytes and comes back
// whole, between results kept as they are; one that does not compress is
// kept as it is.
func TestKeptResultsCompressed(t *testing.T) {
	var k keptResults
	bomb := bytes.Repeat([]byte("\x05x-big\x00"+strings.Repeat("b", 4000)), 500) // 2 MB
	noise := make([]byte, 200<<10)
	rand.New(rand.NewSource(1)).Read(noise)
	small := []byte("a small result")
	k.put(keptKey{opH2, 1, 1}, small)
	k.put(keptKey{opH2, 2, 1}, bomb)
	k.put(keptKey{opH2, 3, 1}, noise)
	k.put(keptKey{opH2, 4, 1}, small)
	held := 0
	for _, c := range k.chunks {
		held += len(c)
	}
	if held > len(noise)+64<<10 {
		t.Errorf("%d octets held for results of %d", held, len(bomb)+len(noise)+2*len(small))
	}
	// In turn, the compressed one twice: a get decompresses into a
	// buffer that the next one reuses.
	for _, c := range []struct {
		frame uint32
		want  []byte
	}{{2, bomb}, {1, small}, {3, noise}, {2, bomb}, {4, small}} {
		got, ok := k.get(keptKey{opH2, c.frame, 1})
		if !ok || !bytes.Equal(got, c.want) || cap(got) != len(got) {
			t.Errorf("frame %d: %d octets (%v, cap %d), want %d", c.frame, len(got), ok, cap(got), len(c.want))
		}
	}
}

// TestKeptPayloads: a stream op's result is found only for the octets it
// was decoded from, at its own ordinal or, when a later pass's calls over
// the frame fall differently, at another; large results too, which are
// kept compressed behind the fingerprint.
func TestKeptPayloads(t *testing.T) {
	var k keptResults
	x, y := []byte("the whole segment"), []byte("a reassembled PDU")
	big := bytes.Repeat([]byte("items "), 2*compressAbove)
	k.putPayload(keptKey{opH2, 10, 1}, x, []byte("result of x"))
	k.putPayload(keptKey{opH2, 10, 2}, y, []byte("result of y"))
	k.putPayload(keptKey{opGRPCWeb, 11, 1}, x, big)
	// A PDU the decoder took in part: a later pass hands it as far as
	// the decoder took.
	k.putPayload(keptKey{opH2, 13, 1}, x[:9], []byte("result of a part"))
	for _, c := range []struct {
		key     keptKey
		payload []byte
		want    string
		wantOrd uint16
		kept    bool
	}{
		{keptKey{opH2, 10, 1}, x, "result of x", 1, true},
		{keptKey{opH2, 10, 2}, y, "result of y", 2, true},
		{keptKey{opH2, 10, 1}, y, "result of y", 2, true}, // the calls fell the other way
		{keptKey{opH2, 10, 3}, x, "result of x", 1, true},
		{keptKey{opH2, 10, 1}, []byte("the whole segmenT"), "", 0, true},
		{keptKey{opH2, 12, 1}, x, "", 0, false},
		{keptKey{opGRPCWeb, 11, 1}, x, string(big), 1, true},
		{keptKey{opGRPCWeb, 11, 1}, y, "", 0, true},
		{keptKey{opH2, 13, 1}, x[:9], "result of a part", 1, true},
		{keptKey{opH2, 13, 1}, x, "result of a part", 1, true},
		{keptKey{opH2, 13, 1}, x[:8], "", 0, true},
	} {
		b, found, kept := k.getPayload(c.key, c.payload)
		if string(b) != c.want || kept != c.kept || (b != nil && found.ord != c.wantOrd) {
			t.Errorf("%+v with %q: got %d octets from ordinal %d (kept %v), want %d from %d (kept %v)",
				c.key, c.payload, len(b), found.ord, kept, len(c.want), c.wantOrd, c.kept)
		}
	}
	if n := k.chunks[len(k.chunks)-1]; len(n) > len(big)/10 {
		t.Errorf("the large result takes %d octets: not compressed", len(n))
	}
}
