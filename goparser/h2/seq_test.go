package h2

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// seqSegments returns four segments of one HEADERS frame each from the
// client: the first adds "x-id: 0" to its HPACK table, the second
// "x-id: 1", the third refers to that entry, and the fourth adds and
// refers to "x-id: 3".
func seqSegments(c *peer) [4][]byte {
	get := func(stream uint32, id string) []byte {
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, EndHeaders: true, EndStream: true,
			BlockFragment: c.block(":method", "GET", ":path", "/", ":scheme", "http", ":authority", "h", "x-id", id)}))
		return c.take()
	}
	return [4][]byte{get(1, "0"), get(3, "1"), get(5, "1"), get(7, "3")}
}

// TestSequenceNumbers: with TCP's sequence numbers a gap that leaves the
// next segment at a frame boundary is still a gap (the HPACK table is
// then the peer's no longer, so a failure is not the peer's error), and
// octets from before the ones expected next (a segment out of order) are
// not decoded again.
func TestSequenceNumbers(t *testing.T) {
	const isn = 0xfffffff0 // the sequence numbers wrap around in the middle
	type step struct {
		seg    int // which of the segments
		hasSeq bool
		// what the result must have
		headers int    // HEADERS frames decoded
		expert  string // an expert info, "" for none in particular
	}
	for _, tc := range []struct {
		name  string
		steps []step
		blame bool // an error is blamed on the client
	}{
		{"in order", []step{{0, true, 1, ""}, {1, true, 1, ""}, {2, true, 1, ""}, {3, true, 1, ""}}, false},
		// Segment 1 lost: segment 2's reference to "x-id: 1" fails,
		// as the lost block's entry was never seen.
		{"gap at a boundary", []step{{0, true, 1, ""}, {2, true, 1, ""}, {3, true, 1, ""}}, false},
		// Without sequence numbers the gap cannot be seen at a frame
		// boundary: the failure is taken for the client's.
		{"gap at a boundary, no sequence numbers", []step{{0, false, 1, ""}, {2, false, 1, "goh2.compression_error"}}, true},
		// Segment 2 came before segment 1: 1, late, is not decoded
		// (its entry, added to the table, would shift the others).
		{"out of order", []step{{0, true, 1, ""}, {2, true, 1, ""}, {1, true, 0, "goh2.out_of_order"}, {3, true, 1, ""}}, false},
		{"retransmission", []step{{0, true, 1, ""}, {1, true, 1, ""}, {1, true, 0, "goh2.out_of_order"}, {2, true, 1, ""}, {3, true, 1, ""}}, false},
		// Sequence numbers from a Lua call on: what came before them is
		// not held against the first.
		{"sequence numbers begin", []step{{0, false, 1, ""}, {1, true, 1, ""}, {2, true, 1, ""}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, c, _ := started(t)
			segs := seqSegments(c)
			var offs [4]uint32
			for i := 1; i < len(segs); i++ {
				offs[i] = offs[i-1] + uint32(len(segs[i-1]))
			}
			var all []string
			for _, s := range tc.steps {
				in := Input{Src: client, Dst: server, Data: segs[s.seg], Seq: isn + offs[s.seg], HasSeq: s.hasSeq}
				o := decodeInput(t, d, in)
				if n := strings.Count(o.info, "HEADERS["); n != s.headers {
					t.Errorf("segment %d: %d HEADERS decoded, want %d (%q)", s.seg, n, s.headers, o.info)
				}
				if s.expert != "" && !o.hasExpert(s.expert, "") {
					t.Errorf("segment %d: no %s among %q", s.seg, s.expert, o.experts())
				}
				if o.consumed != len(segs[s.seg]) || o.need != 0 {
					t.Errorf("segment %d: consumed %d, need %d", s.seg, o.consumed, o.need)
				}
				all = append(all, o.experts()...)
			}
			blamed := false
			for _, x := range all {
				if strings.Contains(x, "compression_error") || strings.Contains(x, "header.invalid") || strings.Contains(x, "protocol_error") {
					blamed = true
				}
			}
			if blamed != tc.blame {
				t.Errorf("an error blamed on the client: %v, want %v (%q)", blamed, tc.blame, all)
			}
		})
	}
}

// TestSequenceWithReassembly: when the decoder asks for the rest of a
// frame, the reassembled frame comes at the sequence number where it
// began, which is no gap; a segment after that continues.
func TestSequenceWithReassembly(t *testing.T) {
	d, c, _ := started(t)
	segs := seqSegments(c)
	a, b, z := segs[0], segs[1], segs[2]
	const isn = 1000
	// a, then the first 5 octets of b: the decoder asks for the rest.
	first := append(append([]byte(nil), a...), b[:5]...)
	o := decodeInput(t, d, Input{Src: client, Dst: server, Data: first, Seq: isn, HasSeq: true})
	if o.consumed != len(a) || o.need == 0 {
		t.Fatalf("consumed %d, need %d; want %d and a request for more", o.consumed, o.need, len(a))
	}
	// TCP's reassembled PDU starts where the decoder stopped.
	o = decodeInput(t, d, Input{Src: client, Dst: server, Data: b, Seq: isn + uint32(len(a)), HasSeq: true})
	if o.info != "HEADERS[3]: GET /" || len(o.experts()) != 0 {
		t.Fatalf("reassembled frame: %q, experts %q", o.info, o.experts())
	}
	o = decodeInput(t, d, Input{Src: client, Dst: server, Data: z, Seq: isn + uint32(len(a)+len(b)), HasSeq: true})
	if o.info != "HEADERS[5]: GET /" || len(o.experts()) != 0 {
		t.Fatalf("next segment: %q, experts %q", o.info, o.experts())
	}
}

// TestSequenceOnAReusedTuple: a new connection on the 4-tuple of one
// whose client direction was out of step (so the preface finds the old
// conn) starts its sequence numbers afresh, whether its preface came with
// one (the C conversation dissector) or without (the Lua heuristic).
func TestSequenceOnAReusedTuple(t *testing.T) {
	for _, luaPreface := range []bool{false, true} {
		d := New(Options{})
		c, s := newPeer(), newPeer()
		c.buf.WriteString(http2.ClientPreface)
		must(c.fr.WriteSettings())
		p := c.take()
		decodeInput(t, d, Input{Src: client, Dst: server, Data: p, Seq: 1, HasSeq: true})
		must(s.fr.WriteSettings())
		must(s.fr.WriteSettingsAck())
		sp := s.take()
		decodeInput(t, d, Input{Src: server, Dst: client, Data: sp, Seq: 1, HasSeq: true})
		// A gap in the client's direction, into the middle of a frame.
		decodeInput(t, d, Input{Src: client, Dst: server, Data: bytes.Repeat([]byte{0xff}, 1000), Seq: 5000, HasSeq: true})

		c2, s2 := newPeer(), newPeer()
		c2.buf.WriteString(http2.ClientPreface)
		must(c2.fr.WriteSettings())
		o := decodeInput(t, d, Input{Src: client, Dst: server, Data: c2.take(), Seq: 1, HasSeq: !luaPreface, Heuristic: luaPreface})
		if o.info != "Magic, SETTINGS" {
			t.Errorf("preface via Lua %v: %q", luaPreface, o.info)
		}
		must(s2.fr.WriteSettings())
		if o := decodeInput(t, d, Input{Src: server, Dst: client, Data: s2.take(), Seq: 1, HasSeq: true}); o.info != "SETTINGS" {
			t.Errorf("preface via Lua %v: the server's SETTINGS: %q", luaPreface, o.info)
		}
	}
}
