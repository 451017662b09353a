package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// TestTcptwBatch: frames deferred into GP_OP_TCPTW_BATCH leave the same
// kept verdicts as the same frames given to GP_OP_TCPTW one by one, in
// batches of any size, so that later passes render the same results; a
// truncated batch is an error, and the frames before the cut still count.
func TestTcptwBatch(t *testing.T) {
	frames, lt, err := testpcaps.Frames("tw_tuple_reuse.pcap", 0)
	if err != nil {
		t.Fatal(err)
	}
	dec := tcpdecode.New()
	type rec struct {
		sec, nsec int64
		sport     uint16
		dport     uint16
		data      []byte
	}
	var recs []rec
	for i, fr := range frames {
		var s tcpdecode.Segment
		if err := dec.Decode(lt, fr, &s); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec{1_700_000_000 + int64(i/50), int64(i%50) * 20_000_000, s.Src.Port(), s.Dst.Port(), fr})
	}
	dst := make([]byte, 1<<16)
	fetchAll := func() [][]byte {
		var out [][]byte
		for i := range recs {
			n, st := call(opFetch, []int64{opTCPTW, int64(i + 1), 1, 1}, "", nil, dst)
			if st != statusOK {
				t.Fatalf("fetch frame %d: status %d: %s", i+1, st, dst[:n])
			}
			out = append(out, append([]byte(nil), dst[:n]...))
		}
		return out
	}

	reset()
	for i, r := range recs {
		if n, st := call(opTCPTW, []int64{r.sec, r.nsec, int64(i + 1), 1, int64(r.sport), int64(r.dport), 0}, "", r.data, dst); st != statusOK {
			t.Fatalf("frame %d: status %d: %s", i+1, st, dst[:n])
		}
	}
	want := fetchAll()

	batch := func(from, to int) []byte {
		var b []byte
		for i := from; i < to; i++ {
			r := recs[i]
			h := make([]byte, batchHeader)
			binary.LittleEndian.PutUint64(h, uint64(r.sec))
			binary.LittleEndian.PutUint32(h[8:], uint32(r.nsec))
			binary.LittleEndian.PutUint32(h[12:], uint32(i+1))
			binary.LittleEndian.PutUint16(h[16:], r.sport)
			binary.LittleEndian.PutUint16(h[18:], r.dport)
			binary.LittleEndian.PutUint32(h[20:], uint32(len(r.data)))
			b = append(append(b, h...), r.data...)
		}
		return b
	}
	for _, size := range []int{1, 7, len(recs)} {
		reset()
		for from := 0; from < len(recs); from += size {
			to := min(from+size, len(recs))
			n, st := call(opTWBatch, nil, "", batch(from, to), dst)
			v, _, _ := result.Decode(dst[:n])
			if st != statusOK || v != int64(to-from) {
				t.Fatalf("batch of %d: status %d, result %v", to-from, st, v)
			}
		}
		got := fetchAll()
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("batches of %d: frame %d renders differently from the frame given alone", size, i+1)
			}
		}
	}

	// With "no later pass", one by one or in a batch, the engine moves on
	// as before but nothing is kept, and a fetch is an error, not "not
	// ours".
	reset()
	half := len(recs) / 2
	for i, r := range recs[:half] {
		if n, st := call(opTCPTW, []int64{r.sec, r.nsec, int64(i + 1), 1, int64(r.sport), int64(r.dport), 0, 1}, "", r.data, dst); st != statusOK {
			t.Fatalf("frame %d: status %d: %s", i+1, st, dst[:n])
		}
	}
	if _, st := call(opTWBatch, []int64{1}, "", batch(half, len(recs)), dst); st != statusOK {
		t.Fatalf("batch: status %d", st)
	}
	if len(state.kept.chunks) != 0 {
		t.Errorf("%d chunks kept with no later pass to come", len(state.kept.chunks))
	}
	for _, f := range []int64{1, int64(len(recs))} {
		if _, st := call(opFetch, []int64{opTCPTW, f, 1, 1}, "", nil, dst); st != statusError {
			t.Errorf("fetch of frame %d, not kept: status %d, want an error", f, st)
		}
	}
	last := recs[len(recs)-1]
	n, st := call(opTCPTW, []int64{last.sec + 1, 0, int64(len(recs) + 1), 1, int64(last.sport), int64(last.dport), 1, 1}, "", last.data, dst)
	next := append([]byte(nil), dst[:n]...)
	reset()
	for i, r := range recs {
		call(opTCPTW, []int64{r.sec, r.nsec, int64(i + 1), 1, int64(r.sport), int64(r.dport), 0}, "", r.data, dst)
	}
	m := make([]byte, len(dst))
	k, st2 := call(opTCPTW, []int64{last.sec + 1, 0, int64(len(recs) + 1), 1, int64(last.sport), int64(last.dport), 1}, "", last.data, m)
	if st != statusOK || st2 != statusOK || !bytes.Equal(next, m[:k]) {
		t.Errorf("the engine's next frame after frames not kept differs from that after frames kept")
	}

	reset()
	b := batch(0, 3)
	if _, st := call(opTWBatch, nil, "", b[:len(b)-1], dst); st != statusError {
		t.Fatalf("truncated batch: status %d", st)
	}
	if _, st := call(opFetch, []int64{opTCPTW, 2, 1}, "", nil, dst); st != statusOK {
		t.Fatalf("frame 2 of a truncated batch: status %d", st)
	}
	if _, st := call(opFetch, []int64{opTCPTW, 3, 1}, "", nil, dst); st != statusNotFound {
		t.Fatalf("frame 3, cut: status %d", st)
	}
}
