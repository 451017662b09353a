package tcptw

import (
	"bytes"
	"math"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestSampleMedianAfterCap: beyond sampleCap values the reservoir still
// represents all of them, not the first sampleCap. 4,200 connections of
// under 1 ms, then 6,000 of 30 ms: the median is 30 ms.
func TestSampleMedianAfterCap(t *testing.T) {
	var s sample
	for range 4200 {
		s.add(0.0004)
	}
	for range 6000 {
		s.add(0.030)
	}
	if m := s.median(); m != 0.030 {
		t.Fatalf("median %.4f, want 0.030", m)
	}
	if len(s.vals) != sampleCap {
		t.Fatalf("%d values kept, want %d", len(s.vals), sampleCap)
	}
	// The share of late values kept is about their share of all values.
	late := 0
	for _, v := range s.vals {
		if v == 0.030 {
			late++
		}
	}
	if f := float64(late) / sampleCap; math.Abs(f-6000.0/10200) > 0.03 {
		t.Fatalf("%.3f of the reservoir from the last 6,000 of 10,200 values", f)
	}
	// Deterministic: the same values give the same reservoir.
	var s2 sample
	for range 4200 {
		s2.add(0.0004)
	}
	for range 6000 {
		s2.add(0.030)
	}
	for i := range s.vals {
		if s.vals[i] != s2.vals[i] {
			t.Fatal("two runs over the same values keep different samples")
		}
	}
}

// TestClientIdleSampleBounded: the client's idle sample keeps
// clientIdleCap values however many connections the client closes, and
// its median stays that of the values seen.
func TestClientIdleSampleBounded(t *testing.T) {
	var s sample
	for i := range 10000 {
		s.addUpTo(1+float64(i%3)/10, clientIdleCap) // 1.0, 1.1, 1.2 s
	}
	if s.n != 10000 || len(s.vals) != clientIdleCap || cap(s.vals) != clientIdleCap {
		t.Errorf("n %d, %d values (capacity %d), want 10000 and %d", s.n, len(s.vals), cap(s.vals), clientIdleCap)
	}
	if m := s.median(); m < 1 || m > 1.2 {
		t.Errorf("median %.3f", m)
	}
}

// TestMergedPairsKeepASample: a server's clients merged for its finding
// keep no more values than one pair may, and still represent them all,
// with the totals of all. 300 clients of 40 connections each, of which
// the first 100 lived 1 ms and the others 30 ms.
func TestMergedPairsKeepASample(t *testing.T) {
	var ps []*pair
	for i := range 300 {
		p := &pair{}
		for range 40 {
			if i < 100 {
				p.lifetimes.add(0.001)
			} else {
				p.lifetimes.add(0.030)
			}
			p.clientIdle.addUpTo(0.5, clientIdleCap)
		}
		ps = append(ps, p)
	}
	m := mergePairs(ps)
	if len(m.lifetimes.vals) != sampleCap || len(m.clientIdle.vals) != clientIdleCap {
		t.Fatalf("%d and %d values kept, want at most %d and %d", len(m.lifetimes.vals), len(m.clientIdle.vals), sampleCap, clientIdleCap)
	}
	if m.lifetimes.n != 12000 || math.Abs(m.lifetimes.sum-(4000*0.001+8000*0.030)) > 1e-9 {
		t.Fatalf("totals n %d sum %f", m.lifetimes.n, m.lifetimes.sum)
	}
	if med := m.lifetimes.median(); med != 0.030 {
		t.Fatalf("median %.3f, want 0.030", med)
	}
	short := 0
	for _, v := range m.lifetimes.vals {
		if v == 0.001 {
			short++
		}
	}
	if f := float64(short) / sampleCap; math.Abs(f-1.0/3) > 0.03 {
		t.Fatalf("%.3f of the merged sample from the first third of the connections", f)
	}
}

// TestRequestLabelsNotUTF8: a request line or User-Agent with octets that
// are not UTF-8, over HTTP/1.1 whole or cut, and over HTTP/2, gives labels
// with U+FFFD, which the report's text, its JSON and Wireshark's tree
// show as they are.
func TestRequestLabelsNotUTF8(t *testing.T) {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":path", Value: "/p\xe9"}, {Name: "user-agent", Value: "a\xffb"}} {
		enc.WriteField(f)
	}
	h2 := h2Frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true})
	}, true)
	for _, c := range []struct {
		name      string
		payload   []byte
		label, ua string
	}{
		{"HTTP/1.1", []byte("GET /p\xe9 HTTP/1.1\r\nHost: h\r\nUser-Agent: a\xffb\r\n\r\n"), "GET /p\ufffd", "a\ufffdb"},
		{"HTTP/1.1 cut", []byte("GET /p\xe9 HTTP/1.1\r\nHost: h\r\n"), "GET /p\ufffd", ""},
		{"HTTP/2", h2, "GET /p\ufffd", "a\ufffdb"},
	} {
		r := reqTracker{}
		r.clientPayload(c.payload, false)
		if r.label != c.label || r.ua != c.ua {
			t.Errorf("%s: label %q, User-Agent %q; want %q, %q", c.name, r.label, r.ua, c.label, c.ua)
		}
	}
}
