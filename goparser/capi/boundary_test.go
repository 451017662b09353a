package main

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// BenchmarkBoundary measures one gp_call as Wireshark makes it through
// the shim: from a C thread that Go did not start, with the data, key and
// result buffer in C memory, and the result kept for later passes.
// ns/op and allocs/op are per call. bench/twbench runs it (make bench-tw)
// and adds the same calls made from Lua through the shim.
//
//   - cgo: a fetch of a frame nothing was kept for: crossing into Go and
//     back, with the least work.
//   - h2: the first request of h2c_go.pcap, its response HEADERS and its
//     DATA, each round on a new stream of one connection.
//   - tcptw: the 10 frames of the first connection of
//     tw_client_closes.pcap (a GET /healthz closed by the client), each
//     round a new connection from the next client port, 100 a second.
func BenchmarkBoundary(b *testing.B) {
	b.Run("cgo", func(b *testing.B) {
		benchCalls(b, []benchCall{{op: opFetch, args: []int64{opTCPTW, 0, 1}, frameArg: 1, secArg: -1}})
	})
	b.Run("h2", func(b *testing.B) {
		benchCalls(b, h2Calls(b))
	})
	b.Run("tcptw", func(b *testing.B) {
		benchCalls(b, tcptwCalls(b))
	})
}

func benchCalls(b *testing.B, calls []benchCall) {
	reset()
	defer reset()
	b.ReportAllocs()
	b.ResetTimer()
	if err := benchLoop(calls, b.N); err != nil {
		b.Fatal(err)
	}
}

type segment struct {
	key     string
	payload []byte
	frame   []byte
	seg     tcpdecode.Segment
}

func segments(b *testing.B, name string, max int) []segment {
	frames, lt, err := testpcaps.Frames(name, max)
	if err != nil {
		b.Fatal(err)
	}
	dec := tcpdecode.New()
	out := make([]segment, len(frames))
	for i, f := range frames {
		var s tcpdecode.Segment
		if err := dec.Decode(lt, f, &s); err != nil {
			b.Fatalf("%s frame %d: %v", name, i+1, err)
		}
		ep := func(a netip.AddrPort) string { return a.Addr().String() + " " + strconv.Itoa(int(a.Port())) }
		out[i] = segment{key: ep(s.Src) + "\n" + ep(s.Dst), payload: append([]byte(nil), s.Payload...), frame: f, seg: s}
	}
	return out
}

func h2Calls(b *testing.B) []benchCall {
	segs := segments(b, "h2c_go.pcap", 13)
	h2call := func(s segment) benchCall {
		return benchCall{op: opH2, args: []int64{0, 0, 1_700_000_000, 0, 0, 1}, frameArg: 4, secArg: -1, key: s.key, data: s.payload}
	}
	// Preface and SETTINGS of both sides, before the loop (frames 4, 6,
	// 8 and 13); then the request (10), its response HEADERS (11) and
	// DATA (12) on stream 1, renumbered each round.
	reset()
	for _, n := range []int{4, 6, 8, 13} {
		c := h2call(segs[n-1])
		if _, st := call(c.op, c.args, c.key, c.data, make([]byte, 1<<16)); st != statusOK {
			b.Fatalf("frame %d: status %d", n, st)
		}
	}
	var calls []benchCall
	for _, n := range []int{10, 11, 12} {
		c := h2call(segs[n-1])
		for off := 0; off+9 <= len(c.data); off += 9 + int(c.data[off])<<16 | int(c.data[off+1])<<8 | int(c.data[off+2]) {
			if binary.BigEndian.Uint32(c.data[off+5:])&0x7fffffff == 1 {
				c.patches = append(c.patches, benchPatch{off: off + 5, kind: patchStream})
			}
		}
		if len(c.patches) == 0 {
			b.Fatalf("frame %d has no frame on stream 1", n)
		}
		calls = append(calls, c)
	}
	return calls
}

func tcptwCalls(b *testing.B) []benchCall {
	segs := segments(b, "tw_client_closes.pcap", 10)
	client := segs[0].seg.Src
	var calls []benchCall
	for _, s := range segs {
		// As tcptw.lua calls it: the frame and the TCP ports.
		c := benchCall{op: opTCPTW, args: []int64{1_700_000_000, 0, 0, 1, int64(s.seg.Src.Port()), int64(s.seg.Dst.Port())},
			frameArg: 2, secArg: 0, data: s.frame}
		// The client's port, in the frame's TCP header (Ethernet, then
		// IPv4) and in the arguments.
		portOff, portArg := 14+int(s.frame[14]&0x0f)*4, 4
		if s.seg.Dst == client {
			portOff, portArg = portOff+2, 5
		}
		if binary.BigEndian.Uint16(s.frame[portOff:]) != client.Port() {
			b.Fatal("the client's port is not where it should be")
		}
		c.patches = append(c.patches, benchPatch{off: portOff, kind: patchPort}, benchPatch{off: portArg, kind: patchPortArg})
		calls = append(calls, c)
	}
	return calls
}
