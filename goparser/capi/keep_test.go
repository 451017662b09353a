package main

import (
	"bytes"
	"fmt"
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
