package h2

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gotcpdump/gotcpdump/goparser/result"
)

func TestPrefaceSettingsAndInfo(t *testing.T) {
	d := New(Options{})
	c, s := newPeer(), newPeer()
	c.buf.WriteString(http2.ClientPreface)
	must(c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
	must(c.fr.WriteWindowUpdate(0, 1<<30))
	o := decodeOnce(t, d, client, server, c.take(), true)
	if o.status != StatusOK || o.info != "Magic, SETTINGS, WINDOW_UPDATE" {
		t.Fatalf("got %v %q", o.status, o.info)
	}
	if got := o.values("goh2.magic"); len(got) != 1 || got[0] != http2.ClientPreface {
		t.Fatalf("magic %v", got)
	}
	if got := o.values("goh2.flow.conn_window"); len(got) != 1 || got[0] != int64(initialWindow+1<<30) {
		t.Fatalf("server's connection window after the update: %v", got)
	}
	must(s.fr.WriteSettingsAck())
	o = decodeOnce(t, d, server, client, s.take(), false)
	if o.info != "SETTINGS ACK" {
		t.Fatalf("info %q", o.info)
	}
	if got := o.values("goh2.settings.acked"); len(got) != 1 || got[0] != "INITIAL_WINDOW_SIZE=1048576" {
		t.Fatalf("acked %v", got)
	}
}

func TestInfoColumn(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "POST", ":path", "/pkg.Svc/Method", ":scheme", "http", ":authority", "x"), EndHeaders: true}))
	must(c.fr.WriteData(1, true, []byte("body")))
	if o := decodeOnce(t, d, client, server, c.take(), false); o.info != "HEADERS[1]: POST /pkg.Svc/Method, DATA[1]" {
		t.Fatalf("info %q", o.info)
	}
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "200"), EndHeaders: true}))
	must(s.fr.WriteRSTStream(3, http2.ErrCodeCancel))
	must(s.fr.WriteGoAway(1, http2.ErrCodeNo, nil))
	must(s.fr.WritePing(true, [8]byte{1}))
	o := decodeOnce(t, d, server, client, s.take(), false)
	if o.info != "HEADERS[1]: 200, RST_STREAM[3] CANCEL, GOAWAY NO_ERROR, PING ACK" {
		t.Fatalf("info %q", o.info)
	}
	if !o.hasExpert("goh2.rst_stream.error_code", "RST_STREAM[3] CANCEL") || !o.hasExpert("goh2.goaway.graceful", "GOAWAY NO_ERROR") {
		t.Fatalf("experts %q", o.experts())
	}
	if got := o.values("goh2.status"); len(got) != 1 || got[0] != int64(200) {
		t.Fatalf(":status %v", got)
	}
}

// TestProtocolErrors checks that frames a Go peer refuses get an expert
// info naming the RFC 9113 section, and that decoding goes on.
func TestProtocolErrors(t *testing.T) {
	ping8 := make([]byte, 8)
	tests := []struct {
		name   string
		frame  func(c *peer) []byte
		expert string
		want   string
	}{
		{"DATA on stream 0", func(*peer) []byte { return raw(http2.FrameData, 0, 0, []byte("x")) },
			"goh2.protocol_error", "DATA frame with stream ID 0 (RFC 9113 §6.1)"},
		{"HEADERS on stream 0", func(*peer) []byte { return raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 0, []byte{0x82}) },
			"goh2.protocol_error", "§6.2"},
		{"SETTINGS on stream 1", func(*peer) []byte { return raw(http2.FrameSettings, 0, 1, nil) },
			"goh2.protocol_error", "SETTINGS frame on stream 1; it must use stream 0 (RFC 9113 §6.5)"},
		{"PING on stream 1", func(*peer) []byte { return raw(http2.FramePing, 0, 1, ping8) },
			"goh2.protocol_error", "PING frame on stream 1; it must use stream 0 (RFC 9113 §6.7)"},
		{"PING of 7 octets", func(*peer) []byte { return raw(http2.FramePing, 0, 0, ping8[:7]) },
			"goh2.frame_size_error", "PING payload of 7 octets; it must be 8 (RFC 9113 §6.7)"},
		{"ENABLE_PUSH 2", func(*peer) []byte { return raw(http2.FrameSettings, 0, 0, []byte{0, 2, 0, 0, 0, 2}) },
			"goh2.protocol_error", "ENABLE_PUSH 2 is invalid"},
		{"MAX_FRAME_SIZE too small", func(*peer) []byte { return raw(http2.FrameSettings, 0, 0, []byte{0, 5, 0, 0, 0x10, 0}) },
			"goh2.protocol_error", "MAX_FRAME_SIZE 4096 is invalid"},
		{"INITIAL_WINDOW_SIZE above 2^31-1", func(*peer) []byte {
			return raw(http2.FrameSettings, 0, 0, []byte{0, 4, 0x80, 0, 0, 0})
		}, "goh2.flow.error", "FLOW_CONTROL_ERROR: INITIAL_WINDOW_SIZE 2147483648 is invalid (RFC 9113 §6.5.2)"},
		{"WINDOW_UPDATE of 0", func(*peer) []byte { return raw(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 0, 0}) },
			"goh2.protocol_error", "§6.9"},
		{"CONTINUATION without a header block", func(*peer) []byte {
			return raw(http2.FrameContinuation, http2.FlagContinuationEndHeaders, 1, []byte{0x82})
		}, "goh2.protocol_error", "unexpected CONTINUATION for stream 1 (RFC 9113 §6.10)"},
		{"frame above SETTINGS_MAX_FRAME_SIZE", func(*peer) []byte {
			return raw(http2.FrameData, 0, 1, make([]byte, 16385))
		}, "goh2.frame_size_error", "frame length 16385 exceeds the receiver's SETTINGS_MAX_FRAME_SIZE 16384 (RFC 9113 §4.2)"},
		{"uppercase header name", func(c *peer) []byte {
			return raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, c.block(":method", "GET", ":path", "/", "X-Upper", "1"))
		}, "goh2.header.invalid", `header name "X-Upper" has uppercase characters (RFC 9113 §8.2.1)`},
		{"pseudo-header after a regular one", func(c *peer) []byte {
			return raw(http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1, c.block(":method", "GET", "accept", "*/*", ":path", "/"))
		}, "goh2.header.invalid", "pseudo-header :path after a regular header field (RFC 9113 §8.3)"},
		{"GOAWAY with an error", func(c *peer) []byte {
			must(c.fr.WriteGoAway(7, http2.ErrCodeEnhanceYourCalm, []byte("too many")))
			return c.take()
		}, "goh2.goaway.error_code", `GOAWAY ENHANCE_YOUR_CALM, last stream 7: "too many"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, c, _ := started(t)
			bad := tt.frame(c)
			must(c.fr.WritePing(false, [8]byte{9}))
			good := c.take()
			o := decodeOnce(t, d, client, server, append(bad, good...), false)
			if !o.hasExpert(tt.expert, tt.want) {
				t.Fatalf("no %s expert with %q; got %q", tt.expert, tt.want, o.experts())
			}
			if o.consumed != len(bad)+len(good) || !strings.HasSuffix(o.info, "PING") {
				t.Fatalf("decoding did not go on after the bad frame: consumed %d of %d, info %q", o.consumed, len(bad)+len(good), o.info)
			}
		})
	}
}

func TestValidTrafficHasNoErrors(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "GET", ":path", "/", ":scheme", "http", ":authority", "a", "accept", "*/*"), EndHeaders: true, EndStream: true}))
	o := decodeOnce(t, d, client, server, c.take(), false)
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "200", "content-type", "text/plain"), EndHeaders: true}))
	must(s.fr.WriteData(1, true, []byte("ok")))
	o2 := decodeOnce(t, d, server, client, s.take(), false)
	for _, x := range append(o.experts(), o2.experts()...) {
		t.Errorf("unexpected expert: %s", x)
	}
}

func TestFlowControl(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "POST", ":path", "/up"), EndHeaders: true}))
	decodeOnce(t, d, client, server, c.take(), false)
	chunk := make([]byte, 16384)
	for i := 0; i < 3; i++ {
		must(c.fr.WriteData(1, false, chunk))
	}
	o := decodeOnce(t, d, client, server, c.take(), false)
	if got := o.values("goh2.flow.stream_window"); len(got) != 3 || got[2] != int64(65535-3*16384) {
		t.Fatalf("stream windows %v", got)
	}
	// 16383 more octets exactly exhaust both windows: the sender is blocked.
	must(c.fr.WriteData(1, false, chunk[:16383]))
	o = decodeOnce(t, d, client, server, c.take(), false)
	if !o.hasExpert("goh2.flow.blocked", "connection window exhausted") || !o.hasExpert("goh2.flow.blocked", "stream 1 window exhausted") {
		t.Fatalf("experts %q", o.experts())
	}
	// Padding counts against the window too.
	must(c.fr.WriteDataPadded(1, false, nil, make([]byte, 4)))
	o = decodeOnce(t, d, client, server, c.take(), false)
	if !o.hasExpert("goh2.flow.error", "DATA of 5 octets exceeds the connection window by 5 (RFC 9113 §6.9.1)") {
		t.Fatalf("experts %q", o.experts())
	}
	must(s.fr.WriteWindowUpdate(0, 100))
	must(s.fr.WriteWindowUpdate(1, 50))
	o = decodeOnce(t, d, server, client, s.take(), false)
	if got := o.values("goh2.flow.conn_window"); len(got) != 2 || got[0] != int64(95) {
		t.Fatalf("connection windows %v", got)
	}
	if got := o.values("goh2.flow.stream_window"); len(got) != 1 || got[0] != int64(45) {
		t.Fatalf("stream window %v", got)
	}
}

// TestInitialWindowAppliedOnAck: SETTINGS_INITIAL_WINDOW_SIZE changes the
// peer's stream windows, open ones included, once acknowledged.
func TestInitialWindowAppliedOnAck(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "POST", ":path", "/"), EndHeaders: true}))
	decodeOnce(t, d, client, server, c.take(), false)
	must(s.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1000}))
	decodeOnce(t, d, server, client, s.take(), false)
	must(c.fr.WriteData(1, false, make([]byte, 10)))
	if o := decodeOnce(t, d, client, server, c.take(), false); o.values("goh2.flow.stream_window")[0] != int64(65525) {
		t.Fatalf("window before the ACK: %v", o.values("goh2.flow.stream_window"))
	}
	must(c.fr.WriteSettingsAck())
	o := decodeOnce(t, d, client, server, c.take(), false)
	if got := o.values("goh2.flow.open_streams"); len(got) != 1 || got[0] != int64(1) {
		t.Fatalf("adjusted streams %v", got)
	}
	must(c.fr.WriteData(1, false, make([]byte, 10)))
	if o := decodeOnce(t, d, client, server, c.take(), false); o.values("goh2.flow.stream_window")[0] != int64(1000-20) {
		t.Fatalf("window after the ACK: %v", o.values("goh2.flow.stream_window"))
	}
}

// TestHeaderTableSizeAppliedOnAck: a larger dynamic table may be used only
// after the SETTINGS that allows it is acknowledged.
func TestHeaderTableSizeAppliedOnAck(t *testing.T) {
	for _, acked := range []bool{false, true} {
		d, c, s := started(t)
		must(c.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192}))
		decodeOnce(t, d, client, server, c.take(), false)
		if acked {
			must(s.fr.WriteSettingsAck())
		}
		s.enc.SetMaxDynamicTableSizeLimit(8192)
		s.enc.SetMaxDynamicTableSize(8192)
		must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "200"), EndHeaders: true}))
		o := decodeOnce(t, d, server, client, s.take(), false)
		failed := o.hasExpert("goh2.compression_error", "dynamic table size update too large")
		if failed == acked {
			t.Errorf("acked=%v: size update refused=%v; experts %q", acked, failed, o.experts())
		}
	}
}

func TestContinuationAcrossPackets(t *testing.T) {
	d, c, _ := started(t)
	big := strings.Repeat("v", 20000)
	block := c.block(":method", "GET", ":path", "/big", "x-big", big, "x-after", "1")
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block[:16000], EndStream: true}))
	o1 := decodeOnce(t, d, client, server, c.take(), false)
	must(c.fr.WriteContinuation(1, true, block[16000:]))
	o2 := decodeOnce(t, d, client, server, c.take(), false)
	if o1.info != "HEADERS[1]" || o2.info != "CONTINUATION[1]: GET /big" {
		t.Fatalf("info %q / %q", o1.info, o2.info)
	}
	n1, n2 := o1.values("goh2.header.name"), o2.values("goh2.header.name")
	if len(n1) != 2 || len(n2) != 2 || n2[0] != "x-big" || n2[1] != "x-after" {
		t.Fatalf("fields per frame: %v / %v", n1, n2)
	}
	if got := o2.values("goh2.header.block_frames"); len(got) != 1 || got[0] != int64(2) {
		t.Fatalf("block frames %v", got)
	}
	if len(o2.experts()) != 0 {
		t.Fatalf("experts %q", o2.experts())
	}
}

func TestDesegmentation(t *testing.T) {
	d, c, _ := started(t)
	must(c.fr.WritePing(false, [8]byte{}))
	must(c.fr.WriteData(1, false, make([]byte, 100)))
	b := c.take()
	// The PING and 4 octets of the DATA frame header.
	o := decodeOnce(t, d, client, server, b[:17+4], false)
	if o.consumed != 17 || o.need != NeedOneMoreSegment || o.info != "PING" {
		t.Fatalf("got consumed %d need %d info %q", o.consumed, o.need, o.info)
	}
	// The header, but not all of the payload.
	o = decodeOnce(t, d, client, server, b[17:17+50], false)
	if o.consumed != 0 || o.need != 109-50 || len(o.pdus) != 0 {
		t.Fatalf("got consumed %d need %d", o.consumed, o.need)
	}
	o = decodeOnce(t, d, client, server, b[17:], false)
	if o.consumed != 109 || o.need != 0 || o.info != "DATA[1]" {
		t.Fatalf("got consumed %d need %d info %q", o.consumed, o.need, o.info)
	}
}

// TestMidConnection starts decoding after the dynamic table was built:
// unseen entries show as unknown with a note, and the rest decodes.
func TestMidConnection(t *testing.T) {
	c := newPeer()
	// Not captured: a block that puts two entries into the table.
	c.block("x-trace", "abc", "x-tenant", "acme")
	// Captured: a block that refers to both and adds a literal.
	block := c.block(":method", "GET", "x-trace", "abc", "x-tenant", "acme", "x-new", "1")
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: block, EndHeaders: true}))
	d := New(Options{})
	o := decodeOnce(t, d, client, server, c.take(), true)
	if o.status != StatusOK {
		t.Fatal("mid-connection HEADERS not claimed")
	}
	names := o.values("goh2.header.name")
	want := []any{":method", "unknown (index 63)", "unknown (index 62)", "x-new"}
	if len(names) != len(want) {
		t.Fatalf("names %v", names)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("names %v, want %v", names, want)
		}
	}
	// Each unknown field is marked; the frame gets one note, not one a field.
	if idx := o.values("goh2.header.unknown_index"); fmt.Sprint(idx) != "[63 62]" {
		t.Fatalf("unknown_index values %v, want [63 62]", idx)
	}
	notes := 0
	for _, e := range o.experts() {
		if strings.HasPrefix(e, "goh2.hpack.unknown_index: ") {
			notes++
		}
	}
	if notes != 1 || o.hasExpert("goh2.compression_error", "") {
		t.Fatalf("experts %q, want one goh2.hpack.unknown_index", o.experts())
	}
	// The table stays in step: the next block's reference to x-new resolves.
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, BlockFragment: c.block(":method", "GET", "x-new", "1"), EndHeaders: true}))
	o = decodeOnce(t, d, client, server, c.take(), false)
	if names := o.values("goh2.header.name"); len(names) != 2 || names[1] != "x-new" {
		t.Fatalf("names %v", names)
	}
}

func TestNewConnectionOnReusedTuple(t *testing.T) {
	d, c, _ := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block("x-a", "1"), EndHeaders: true}))
	decodeOnce(t, d, client, server, c.take(), false)
	// Same 4-tuple, new connection: a new preface and a fresh HPACK context.
	c2 := newPeer()
	c2.buf.WriteString(http2.ClientPreface)
	must(c2.fr.WriteSettings())
	must(c2.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c2.block("x-a", "1"), EndHeaders: true}))
	o := decodeOnce(t, d, client, server, c2.take(), false)
	if len(o.experts()) != 0 || o.values("goh2.header.name")[0] != "x-a" {
		t.Fatalf("experts %q names %v", o.experts(), o.values("goh2.header.name"))
	}
}

func TestHeuristic(t *testing.T) {
	p := newPeer()
	must(p.fr.WriteSettings())
	must(p.fr.WriteWindowUpdate(0, 1000))
	frames := p.take()
	positive := map[string][]byte{
		"preface":         []byte(http2.ClientPreface),
		"preface prefix":  []byte(http2.ClientPreface[:16]),
		"frames":          frames,
		"frame then part": append(frames, 0, 0, 40, 0, 0, 0, 0, 0, 1),
	}
	for name, b := range positive {
		if !LooksLikeHTTP2(b) {
			t.Errorf("%s not recognised", name)
		}
	}
	negative := map[string][]byte{
		"HTTP/1.1 request":  []byte("GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n"),
		"HTTP/1.1 response": []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
		"TLS ClientHello":   {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x11, 0x22},
		"TLS app data":      {0x17, 0x03, 0x03, 0x00, 0x20, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00},
		"SSH banner":        []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
		"empty":             nil,
		"zeros":             make([]byte, 64),
		"lone partial DATA": {0, 0x10, 0, 0, 0, 0, 0, 0, 1, 'a'},
		"empty DATA":        {0, 0, 0, 0, 0, 0, 0, 0, 0x86},
		"one DATA":          {0, 0, 2, 0, 0, 0, 0, 0, 5, 'h', 'i'},
		"CONTINUATION":      {0, 0, 1, 9, 4, 0, 0, 0, 1, 0x82},
		"frame and 8 bytes": {0, 0, 0, 4, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8},
	}
	for name, b := range negative {
		if LooksLikeHTTP2(b) {
			t.Errorf("%s claimed as HTTP/2", name)
		}
	}
	rng := rand.New(rand.NewSource(1))
	claimed := 0
	const n = 200000
	for i := 0; i < n; i++ {
		b := make([]byte, 1+rng.Intn(1500))
		rng.Read(b)
		if LooksLikeHTTP2(b) {
			claimed++
		}
	}
	if claimed != 0 {
		t.Errorf("%d of %d random payloads claimed", claimed, n)
	}
	// The decision is remembered: after enough misses a direction is left
	// alone, unless a new connection on the tuple starts with the preface.
	d := New(Options{})
	for i := 0; i < heuristicTries; i++ {
		decodeOnce(t, d, client, server, []byte("GET / HTTP/1.1\r\n\r\n"), true)
	}
	if o := decodeOnce(t, d, client, server, frames, true); o.status != StatusNotMine {
		t.Fatal("direction claimed after the heuristic gave up on it")
	}
	if o := decodeOnce(t, d, server, client, frames, true); o.status != StatusOK {
		t.Fatal("the other direction was given up with the first")
	}
	d = New(Options{})
	for i := 0; i < heuristicTries; i++ {
		decodeOnce(t, d, client, server, []byte("GET / HTTP/1.1\r\n\r\n"), true)
	}
	if o := decodeOnce(t, d, client, server, []byte(http2.ClientPreface), true); o.status != StatusOK {
		t.Fatal("a preface on a tuple given up on was not claimed")
	}
}

func TestLimits(t *testing.T) {
	d := New(Options{MaxStreams: 2, MaxHeaderListSize: 100})
	c := newPeer()
	c.buf.WriteString(http2.ClientPreface)
	for id := uint32(1); id <= 5; id += 2 {
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block(":path", "/"+strings.Repeat("p", 80), "x-long", strings.Repeat("v", 100)), EndHeaders: true}))
	}
	o := decodeOnce(t, d, client, server, c.take(), true)
	if !o.hasExpert("goh2.limit", "more than 2 streams") || !o.hasExpert("goh2.limit", "exceeds the decoder limit 100") {
		t.Fatalf("experts %q", o.experts())
	}
	if len(d.conns) != 1 || len(d.conns[Input{Src: client, Dst: server}.connKey()].streams) > 2 {
		t.Fatal("stream limit not enforced")
	}
	// A field longer than the limit is decoded for the table all the same:
	// the next block refers to entries that the first added.
	d = New(Options{MaxHeaderListSize: 100})
	c = newPeer()
	c.buf.WriteString(http2.ClientPreface)
	for id := uint32(1); id <= 3; id += 2 {
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.block("x-long", strings.Repeat("v", 300), "x-small", "abc"), EndHeaders: true}))
	}
	o = decodeOnce(t, d, client, server, c.take(), true)
	for _, x := range o.experts() {
		if !strings.HasPrefix(x, "goh2.limit:") {
			t.Fatalf("experts %q", o.experts())
		}
	}
	if n := len(o.values("goh2.header.value")); n != 0 || len(o.experts()) != 2 {
		t.Fatalf("%d values shown, experts %q: want none (each list over the limit), and the limit's note on each block", n, o.experts())
	}
	// A string past the decoder's own string limit (at least 1 MiB) is
	// refused at its length, not buffered, as the limit's doing: a literal
	// that claims 2^40 octets, then 2 MiB of CONTINUATION frames.
	d = New(Options{})
	c = newPeer()
	c.buf.WriteString(http2.ClientPreface)
	huge := []byte{0x00, 0x03, 'x', '-', 'h', 0x7f} // literal, new name "x-h", value length 127+…
	huge = append(huge, 0x81, 0x80, 0x80, 0x80, 0x80, 0x20)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: huge}))
	for range 128 {
		must(c.fr.WriteContinuation(1, false, make([]byte, 16384)))
	}
	o = decodeOnce(t, d, client, server, c.take(), true)
	if !o.hasExpert("goh2.limit", "past a decoder limit") || o.hasExpert("goh2.compression_error", "") {
		t.Fatalf("experts %q", o.experts())
	}
	// A peer allowed a table larger than goh2.max_table uses it: what the
	// decoder then cannot follow is the limit's doing, not the peer's.
	d = New(Options{MaxTableSize: 100})
	c, s := newPeer(), newPeer()
	c.buf.WriteString(http2.ClientPreface)
	must(c.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192}))
	decodeOnce(t, d, client, server, c.take(), true)
	must(s.fr.WriteSettings())
	must(s.fr.WriteSettingsAck())
	s.enc.SetMaxDynamicTableSizeLimit(8192)
	s.enc.SetMaxDynamicTableSize(8192)
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "200", "x-a", strings.Repeat("a", 200)), EndHeaders: true}))
	o = decodeOnce(t, d, server, client, s.take(), false)
	if !o.hasExpert("goh2.limit", "HEADER_TABLE_SIZE 8192") || !o.hasExpert("goh2.limit", "HPACK: ") || o.hasExpert("goh2.compression_error", "") {
		t.Fatalf("experts %q", o.experts())
	}
	d = New(Options{MaxConns: 10})
	for i := 0; i < 100; i++ {
		decodeOnce(t, d, client, strings.Repeat("s", i), []byte(http2.ClientPreface), true)
	}
	if len(d.conns) > 10 {
		t.Fatalf("%d connections tracked, limit 10", len(d.conns))
	}
}

func TestUnsyncedDirection(t *testing.T) {
	d, _, _ := started(t)
	_ = d
	d2 := New(Options{})
	c := newPeer()
	must(c.fr.WritePing(false, [8]byte{}))
	decodeOnce(t, d2, client, server, c.take(), true)
	// The other direction starts inside a frame: not claimed as frames.
	o := decodeOnce(t, d2, server, client, []byte("tail of a DATA frame that began before the capture"), false)
	if o.consumed != len("tail of a DATA frame that began before the capture") || !o.hasExpert("goh2.unsynced", "before the first frame boundary") {
		t.Fatalf("consumed %d experts %q", o.consumed, o.experts())
	}
}

func FuzzDecode(f *testing.F) {
	p := newPeer()
	p.buf.WriteString(http2.ClientPreface)
	must(p.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 100}))
	must(p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: p.block(":method", "GET"), EndHeaders: true, PadLength: 3}))
	f.Add(p.take(), []byte{}, uint8(7))
	f.Add([]byte(http2.ClientPreface), []byte{0, 0, 0, 4, 1, 0, 0, 0, 0}, uint8(1))
	// Real traffic: the start of each direction of the test captures.
	for _, name := range []string{"h2c_go.pcap", "nghttp2_push_padding.pcap", "grpc_h2c_gzip.pcap"} {
		c, s := captureStreams(f, name, 8192)
		f.Add(c, s, uint8(len(c)%251))
	}
	f.Fuzz(func(t *testing.T, a, b []byte, split uint8) {
		d := New(Options{MaxStreams: 16, MaxConns: 4})
		// Feed each direction in two pieces, as TCP segments would arrive,
		// honouring the decoder's consumed/need answers.
		feed := func(from, to string, data []byte) {
			cut := int(split) % (len(data) + 1)
			pending := append([]byte(nil), data[:cut]...)
			for _, next := range [][]byte{data[cut:], nil} {
				o := decodeOnce(t, d, from, to, pending, true)
				if o.status == StatusNotMine {
					return
				}
				pending = append(pending[o.consumed:], next...)
			}
		}
		feed(client, server, a)
		feed(server, client, b)
		var e1, e2 = newResultPair()
		d1, d2 := New(Options{}), New(Options{})
		d1.Decode(Input{Src: client, Dst: server, Data: a, Heuristic: true}, e1)
		d2.Decode(Input{Src: client, Dst: server, Data: a, Heuristic: true}, e2)
		b1, _ := e1.Bytes()
		b2, _ := e2.Bytes()
		if string(b1) != string(b2) {
			t.Fatal("results are not deterministic")
		}
	})
}

var _ = hpack.HeaderField{}

// TestItemRanges checks, over exact bytes, where each field of a padded
// HEADERS frame with priority, a PUSH_PROMISE and an unknown frame lies.
func TestItemRanges(t *testing.T) {
	d, c, s := started(t)
	frag := c.block(":method", "GET", ":path", "/")
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: frag, EndHeaders: true, PadLength: 4,
		Priority: http2.PriorityParam{StreamDep: 1, Exclusive: true, Weight: 15}}))
	b := c.take()
	unknown := raw(0x42, 0x3, 3, []byte("xyz"))
	o := decodeOnce(t, d, client, server, append(b, unknown...), false)
	type rng struct{ off, n int }
	want := map[string]rng{
		"goh2.length":                     {0, 3},
		"goh2.type":                       {3, 1},
		"goh2.flags":                      {4, 1},
		"goh2.streamid":                   {5, 4},
		"goh2.padding":                    {9, 1},
		"goh2.exclusive":                  {10, 4},
		"goh2.stream_dependency":          {10, 4},
		"goh2.headers.weight":             {14, 1},
		"goh2.headers":                    {15, len(frag)},
		"goh2.headers.padding":            {15 + len(frag), 4},
		"goh2.unknown":                    {len(b) + 9, 3},
		"goh2.flags.unused":               {4, 1},
		"goh2.flags.priority":             {4, 1},
		"goh2.header.count":               {15, len(frag)},
		"goh2.header.name":                {15, len(frag)},
		"goh2.method":                     {15, len(frag)},
		"goh2.flow.conn_window":           {-1, 0}, // HEADERS moves no window
		"goh2.settings.header_table_size": {-1, 0},
	}
	seen := map[string]rng{}
	for _, it := range o.items() {
		if _, ok := seen[it.abbrev]; !ok {
			seen[it.abbrev] = rng{it.off, it.n}
		}
	}
	for f, r := range want {
		got, ok := seen[f]
		if r.off < 0 {
			if ok {
				t.Errorf("%s present at %v", f, got)
			}
			continue
		}
		if !ok || got != r {
			t.Errorf("%s at %v (present %v), want %v", f, got, ok, r)
		}
	}
	if o.info != "HEADERS[3]: GET /, UNKNOWN_FRAME_TYPE_66[3]" {
		t.Errorf("info %q", o.info)
	}
	if got := o.values("goh2.flags.unused"); got[len(got)-1] != int64(3) {
		t.Errorf("unused flags of the unknown frame: %v", got)
	}
	// PUSH_PROMISE: reserved bit and promised id after the pad length.
	must(s.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 3, PromiseID: 2, BlockFragment: s.block(":method", "GET", ":path", "/x"), EndHeaders: true, PadLength: 2}))
	o = decodeOnce(t, d, server, client, s.take(), false)
	for _, it := range o.items() {
		if it.abbrev == "goh2.push_promise.promised_stream_id" && (it.off != 10 || it.n != 4) {
			t.Errorf("promised stream id at %d+%d", it.off, it.n)
		}
	}
	if o.info != "PUSH_PROMISE[3]: GET /x" {
		t.Errorf("info %q", o.info)
	}
}

// TestReviewRegressions covers behaviour found wrong in review.
func TestReviewRegressions(t *testing.T) {
	t.Run("one sequencing error, not a flood", func(t *testing.T) {
		d, c, _ := started(t)
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "GET")}))
		must(c.fr.WritePing(false, [8]byte{}))
		must(c.fr.WritePing(false, [8]byte{}))
		must(c.fr.WriteWindowUpdate(0, 10))
		o := decodeOnce(t, d, client, server, c.take(), false)
		n := 0
		for _, x := range o.experts() {
			if strings.Contains(x, "§6.10") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d sequencing errors: %q", n, o.experts())
		}
	})
	t.Run("1xx is not the header block before trailers", func(t *testing.T) {
		d, c, s := started(t)
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "POST", ":path", "/"), EndHeaders: true}))
		decodeOnce(t, d, client, server, c.take(), false)
		must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "100"), EndHeaders: true}))
		must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block(":status", "200"), EndHeaders: true}))
		must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: s.block("grpc-status", "0"), EndHeaders: true, EndStream: true}))
		o := decodeOnce(t, d, server, client, s.take(), false)
		if got := o.values("goh2.trailers"); len(got) != 1 || o.info != "HEADERS[1]: 100, HEADERS[1]: 200, HEADERS[1]: trailers" {
			t.Fatalf("trailers %v info %q", got, o.info)
		}
	})
	t.Run("oversized length reported at the header", func(t *testing.T) {
		d, _, _ := started(t)
		o := decodeOnce(t, d, client, server, []byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 1, 'x'}, false)
		if o.need != 0 || o.consumed != 10 || !o.hasExpert("goh2.frame_size_error", "§4.2") {
			t.Fatalf("need %d consumed %d experts %q", o.need, o.consumed, o.experts())
		}
		// The frame's payload goes on in the next segment: its error
		// said that decoding resumes at the next boundary, once.
		o = decodeOnce(t, d, client, server, bytes.Repeat([]byte{0xa5}, 100), false)
		if o.info != "[framing lost]" || len(o.experts()) != 0 {
			t.Fatalf("next segment: info %q experts %q", o.info, o.experts())
		}
	})
	t.Run("no reassembly", func(t *testing.T) {
		d, c, _ := started(t)
		must(c.fr.WriteData(1, false, make([]byte, 100)))
		b := c.take()
		var e result.Encoder
		d.Decode(Input{Src: client, Dst: server, Data: b[:50], NoReassembly: true}, &e)
		v, _, _ := result.Decode(mustBytes(t, &e))
		if a := v.([]any); a[2] != int64(0) || a[1] != int64(50) || !strings.Contains(a[4].(string), "[partial]") {
			t.Fatalf("result %v", a)
		}
	})
	t.Run("no reassembly: the rest of a cut frame, then the next", func(t *testing.T) {
		// The server's side: once out of step, it must not take the next
		// segment to start with a frame (0xa5 octets read as a frame of
		// 10 MiB and type 0xa5).
		d, _, s := started(t)
		must(s.fr.WriteData(1, false, bytes.Repeat([]byte{0xa5}, 3000)))
		must(s.fr.WritePing(false, [8]byte{1}))
		b := s.take()
		for _, seg := range []struct {
			from, to int
			info     string
			experts  int
		}{
			{0, 1000, "DATA[1] [partial]", 1},
			{1000, 2500, "[rest of a partial frame]", 0},
			{2500, len(b), "[rest of a partial frame], PING", 0},
		} {
			o := decodeInput(t, d, Input{Src: server, Dst: client, Data: b[seg.from:seg.to], NoReassembly: true})
			if o.info != seg.info || o.consumed != seg.to-seg.from || len(o.experts()) != seg.experts {
				t.Fatalf("octets %d-%d: info %q consumed %d experts %q", seg.from, seg.to, o.info, o.consumed, o.experts())
			}
		}
	})
	t.Run("refused SETTINGS still shows its settings", func(t *testing.T) {
		d, _, _ := started(t)
		o := decodeOnce(t, d, client, server, raw(http2.FrameSettings, 0, 0, []byte{0, 2, 0, 0, 0, 5, 0, 4, 0x80, 0, 0, 0}), false)
		if got := o.values("goh2.settings.id"); len(got) != 2 {
			t.Fatalf("settings %v", got)
		}
		if !o.hasExpert("goh2.flow.error", "INITIAL_WINDOW_SIZE 2147483648 is invalid") {
			t.Fatalf("experts %q", o.experts())
		}
	})
	t.Run("experts listed for callers without a tree", func(t *testing.T) {
		d, c, _ := started(t)
		must(c.fr.WriteRSTStream(1, http2.ErrCodeCancel))
		var e result.Encoder
		d.Decode(Input{Src: client, Dst: server, Data: c.take()}, &e)
		v, _, _ := result.Decode(mustBytes(t, &e))
		xs := v.([]any)[5].([]any)
		if len(xs) != 1 || xs[0].([]any)[1] != "RST_STREAM[1] CANCEL" {
			t.Fatalf("experts %v", xs)
		}
	})
}

// TestSnapLength: packets cut by a capture's snap length carry fewer
// octets than the segment did (Input.Missing says how many fewer). The
// next frame is looked for after the missing octets, not where the
// captured ones end, and a frame boundary among them is lost with the
// header behind it.
func TestSnapLength(t *testing.T) {
	type seg struct {
		from, to, missing int // captured octets [from, to), then missing ones
		info              string
	}
	ping := func(p *peer) { must(p.fr.WritePing(false, [8]byte{1})) }
	for _, tc := range []struct {
		name  string
		write func(p *peer)
		segs  []seg
	}{
		{"the rest of the frame among the missing octets", func(p *peer) {
			must(p.fr.WriteData(1, false, make([]byte, 1200)))
			ping(p)
		}, []seg{{0, 446, 763, "DATA[1] [partial]"}, {1209, 1226, 0, "PING"}}},
		{"the rest of the frame in later segments, past more missing octets", func(p *peer) {
			must(p.fr.WriteData(1, false, make([]byte, 3000)))
			ping(p)
		}, []seg{
			{0, 446, 500, "DATA[1] [partial]"},
			{946, 1392, 1054, "[rest of a partial frame]"},
			{2446, 3026, 0, "[rest of a partial frame], PING"},
		}},
		{"a frame boundary among the missing octets", func(p *peer) {
			must(p.fr.WriteData(1, false, make([]byte, 100)))
			ping(p)
			ping(p)
		}, []seg{{0, 50, 76, "DATA[1] [partial]"}, {126, 143, 0, "PING"}}},
		{"a frame header among the missing octets", func(p *peer) {
			ping(p)
			must(p.fr.WriteData(1, false, make([]byte, 100)))
			ping(p)
		}, []seg{{0, 17, 109, "PING"}, {126, 143, 0, "PING"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, _, s := started(t)
			tc.write(s)
			b := s.take()
			for _, sg := range tc.segs {
				o := decodeInput(t, d, Input{Src: server, Dst: client, Data: b[sg.from:sg.to], Missing: sg.missing})
				if o.info != sg.info || o.consumed != sg.to-sg.from || o.need != 0 {
					t.Fatalf("octets %d-%d (+%d missing): info %q consumed %d need %d experts %q",
						sg.from, sg.to, sg.missing, o.info, o.consumed, o.need, o.experts())
				}
				if sg.missing > 0 && strings.HasSuffix(sg.info, "[partial]") && !o.hasExpert("goh2.unsynced", "snap length") {
					t.Fatalf("octets %d-%d: experts %q", sg.from, sg.to, o.experts())
				}
			}
		})
	}
	t.Run("a frame's rest ends among a later segment's missing octets", func(t *testing.T) {
		// A header block that began among them is lost: the next block's
		// reference to its entry is not the peer's error.
		d, c, _ := started(t)
		// A block before: the table is known, not primed with stand-ins.
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: c.block(":method", "POST"), EndHeaders: true}))
		decodeInput(t, d, Input{Src: client, Dst: server, Data: c.take()})
		must(c.fr.WriteData(1, false, make([]byte, 2000)))
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.block(":method", "GET", "x-new", "v"), EndHeaders: true}))
		b := c.take()
		decodeInput(t, d, Input{Src: client, Dst: server, Data: b[:446], Missing: 1002})
		o := decodeInput(t, d, Input{Src: client, Dst: server, Data: b[1448:1894], Missing: len(b) - 1894})
		if o.info != "[rest of a partial frame]" {
			t.Fatalf("second segment: info %q experts %q", o.info, o.experts())
		}
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: c.block(":method", "GET", "x-new", "v"), EndHeaders: true}))
		o = decodeInput(t, d, Input{Src: client, Dst: server, Data: c.take()})
		if o.hasExpert("goh2.compression_error", "") {
			t.Fatalf("next block: experts %q", o.experts())
		}
	})
	t.Run("a whole segment asks for more, and the next is cut", func(t *testing.T) {
		// TCP cannot reassemble the cut segment: it hands it on alone,
		// from inside the frame whose start it had held back.
		d, c, _ := started(t)
		must(c.fr.WriteData(1, false, bytes.Repeat([]byte{0}, 3000))) // zeros read as DATA frames on stream 0
		ping(c)
		b := c.take()
		if o := decodeInput(t, d, Input{Src: client, Dst: server, Data: b[:100]}); o.need != 3009-100 || o.consumed != 0 {
			t.Fatalf("first segment: need %d consumed %d", o.need, o.consumed)
		}
		o := decodeInput(t, d, Input{Src: client, Dst: server, Data: b[100:546], NoReassembly: true, Missing: 1002})
		if o.info != "[rest of a partial frame]" || len(o.experts()) != 0 {
			t.Fatalf("cut segment: info %q experts %q", o.info, o.experts())
		}
		o = decodeInput(t, d, Input{Src: client, Dst: server, Data: b[1548:], NoReassembly: true})
		if o.info != "[rest of a partial frame], PING" || len(o.experts()) != 0 {
			t.Fatalf("last segment: info %q experts %q", o.info, o.experts())
		}
	})
	t.Run("gRPC messages after a DATA frame lost whole", func(t *testing.T) {
		// The frame's header was among the missing octets: the stream's
		// next message must not be read from the middle of the lost one.
		d, c, _ := started(t)
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
			BlockFragment: c.block(":method", "POST", ":path", "/grpc.health.v1.Health/Check", "content-type", "application/grpc")}))
		decodeInput(t, d, Input{Src: client, Dst: server, Data: c.take()})
		msg := func(n int) []byte { return append([]byte{0, 0, 0, 0, byte(n)}, make([]byte, n)...) }
		ping(c)
		must(c.fr.WriteData(1, false, append(msg(10), msg(40)[:20]...))) // a message and the start of one
		b := c.take()
		decodeInput(t, d, Input{Src: client, Dst: server, Data: b[:17], Missing: len(b) - 17})
		must(c.fr.WriteData(1, false, append(msg(40)[20:], msg(5)...)))
		o := decodeInput(t, d, Input{Src: client, Dst: server, Data: c.take()})
		if got := o.values("gogrpc.message_length"); len(got) != 0 {
			t.Fatalf("messages %v read after the loss; experts %q", got, o.experts())
		}
	})
	t.Run("windows and frame sizes unknown after a loss", func(t *testing.T) {
		// A WINDOW_UPDATE among the missing octets: the DATA that it
		// allowed must not read as a flow-control error, nor a frame
		// larger than the default size as a size error (a SETTINGS frame
		// may have been lost as well).
		d, c, s := started(t)
		ping(c)
		must(c.fr.WriteWindowUpdate(0, 1<<20))
		b := c.take()
		decodeInput(t, d, Input{Src: client, Dst: server, Data: b[:17], Missing: len(b) - 17})
		for range 6 {
			must(s.fr.WriteData(1, false, make([]byte, 16384)))
		}
		o := decodeInput(t, d, Input{Src: server, Dst: client, Data: s.take()})
		if len(o.experts()) != 0 {
			t.Fatalf("experts %q", o.experts())
		}
	})
}

// TestFramingLostAfterGap: a segment missing from the capture took a frame
// boundary with it, and TCP hands on the next segment, which starts inside
// a DATA frame, as if the stream went on. Its octets are lost framing with
// one warning, not a frame with a size error; and the server's direction
// then finds the next boundary by itself rather than taking the next
// segment to start with a frame (which is true only of its first).
func TestFramingLostAfterGap(t *testing.T) {
	d, _, s := started(t)
	body := bytes.Repeat([]byte{0xa5}, 3000) // reads as length 0xa5a5a5, type 0xa5
	// Where the second segment after the gap starts (offset 5000), octets
	// that read as a frame of 8 octets of an unknown type: taken as a
	// frame header, they would show a frame that was never sent.
	second := append([]byte(nil), body...)
	copy(second[5000-3009-frameHeaderLen:], []byte{0, 0, 8})
	must(s.fr.WriteData(1, false, body))
	must(s.fr.WriteData(1, false, second))
	must(s.fr.WriteData(1, true, body))
	must(s.fr.WritePing(false, [8]byte{1}))
	stream := s.take() // DATA at 0, 3009 and 6018; PING at 9027

	decodeOnce(t, d, server, client, stream[:3009], false)
	// Missing: 3009-3499, the second DATA frame's header among them.
	o := decodeOnce(t, d, server, client, stream[3500:5000], false)
	if o.consumed != 1500 || o.need != 0 || o.info != "[framing lost]" {
		t.Fatalf("after the gap: consumed %d need %d info %q", o.consumed, o.need, o.info)
	}
	if !o.hasExpert("goh2.framing_lost", "1500 octets") || o.hasExpert("goh2.frame_size_error", "") {
		t.Fatalf("after the gap: experts %q", o.experts())
	}
	// The rest of the second frame, then the third and the PING.
	o = decodeOnce(t, d, server, client, stream[5000:], false)
	if o.info != "[framing lost], DATA[1], PING" {
		t.Fatalf("next segment: info %q (experts %q)", o.info, o.experts())
	}
	if unsynced := o.values("goh2.unsynced"); len(unsynced) != 1 || len(o.experts()) != 0 {
		t.Fatalf("next segment: unsynced %v, experts %q; want the 1018 octets before the boundary, no second warning", unsynced, o.experts())
	}
}

// TestTableLostAfterGap: a header block lost with a gap had added an entry
// to the sender's HPACK table; a later block refers to it. That is not the
// peer's compression error but the decoder's table out of step.
func TestTableLostAfterGap(t *testing.T) {
	d, _, s := started(t)
	filler := bytes.Repeat([]byte{0xa5}, 3000)
	must(s.fr.WriteData(1, false, filler))
	lostBlock := s.block(":status", "200", "x-a", "1") // adds x-a: 1 to the table
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: lostBlock, EndHeaders: true}))
	must(s.fr.WriteData(3, false, filler))
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: s.block(":status", "200", "x-a", "1"), EndHeaders: true}))
	must(s.fr.WritePing(false, [8]byte{2}))
	stream := s.take()
	secondData := 3009 + frameHeaderLen + len(lostBlock)

	decodeOnce(t, d, server, client, stream[:3009], false)
	// Missing: the HEADERS of stream 3 and the start of its DATA.
	o := decodeOnce(t, d, server, client, stream[secondData+1500:], false)
	if o.info != "[framing lost], HEADERS[5]: 200, PING" {
		t.Fatalf("info %q experts %q", o.info, o.experts())
	}
	if !o.hasExpert("goh2.hpack.table_lost", "were lost before") || o.hasExpert("goh2.compression_error", "") {
		t.Fatalf("experts %q, want goh2.hpack.table_lost and no compression_error", o.experts())
	}
}

// TestGRPCStreamEndsInsideAMessage: END_STREAM after part of a message
// (its prefix declares 100 octets, 3 follow) or of a prefix: a warning,
// and the call still ends (no trailers: INTERNAL, as grpc-go's client).
func TestGRPCStreamEndsInsideAMessage(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"message", []byte{0, 0, 0, 0, 100, 'a', 'b', 'c'}, "stream 1 ended after 8 of the 105 octets of a message (its prefix included)"},
		{"prefix", []byte{0, 0, 0}, "stream 1 ended after 3 octets of a message's 5-octet prefix"},
	} {
		d, cl, s := started(t)
		must(cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
			BlockFragment: cl.block(":method", "POST", ":path", "/grpc.health.v1.Health/Check", "content-type", "application/grpc")}))
		decodeInput(t, d, Input{Src: client, Dst: server, Data: cl.take()})
		must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
			BlockFragment: s.block(":status", "200", "content-type", "application/grpc")}))
		must(s.fr.WriteData(1, true, c.data))
		o := decodeInput(t, d, Input{Src: server, Dst: client, Data: s.take()})
		if !o.hasExpert("gogrpc.message_incomplete", c.want) {
			t.Errorf("%s: experts %q", c.name, o.experts())
		}
		if got := o.values("gogrpc.status"); len(got) != 1 || fmt.Sprint(got[0]) != "13" {
			t.Errorf("%s: status %v", c.name, got)
		}
	}
}

// TestHeadersNotUTF8: octets that are not UTF-8, which HTTP/2 allows in
// header values (and a grpc-message carries percent-encoded), are shown
// as U+FFFD, one for each such octet, in values, labels and the Info
// column, as Wireshark's UTF-8 strings are.
func TestHeadersNotUTF8(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: c.block(
		":method", "POST", ":scheme", "http", ":path", "/p\xe9", ":authority", "a",
		"content-type", "application/grpc", "x-raw", "a\xff\xfeb", "x-ok", "caf\u00e9")}))
	o := decodeOnce(t, d, client, server, c.take(), false)
	if got, want := o.values("goh2.header.value")[3:], []any{"a", "application/grpc", "a\ufffd\ufffdb", "caf\u00e9"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("values %q, want %q", got, want)
	}
	if got := o.values("goh2.path"); len(got) != 1 || got[0] != "/p\ufffd" {
		t.Errorf("goh2.path %q", got)
	}
	if want := "HEADERS[1]: POST /p\ufffd"; o.info != want {
		t.Errorf("info %q, want %q", o.info, want)
	}
	var labels []string
	for _, it := range o.items() {
		if it.abbrev == "goh2.header" {
			labels = append(labels, it.text)
		}
	}
	if len(labels) != 7 || labels[5] != ": x-raw: a\ufffd\ufffdb" {
		t.Errorf("labels %q", labels)
	}
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: s.block(
		":status", "200", "content-type", "application/grpc", "grpc-status", "13", "grpc-message", "bad%FF%FEbyte\xff")}))
	o = decodeOnce(t, d, server, client, s.take(), false)
	if got := o.values("gogrpc.status_message"); len(got) != 1 || got[0] != "bad\ufffd\ufffdbyte\ufffd" {
		t.Errorf("gogrpc.status_message %q", got)
	}
}

// TestGRPCMessagesLostAfterGap: a gap in the capture took the middle of a
// request message and the next frame boundary. The stream's messages are
// out of step: one warning says so, with what was seen of the message;
// the next DATA frame that reads as a message from its first octet
// resumes decoding, with a note; and the call's counts say they are of
// the messages decoded only.
func TestGRPCMessagesLostAfterGap(t *testing.T) {
	d, c, s := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":path", "/grpc.health.v1.Health/Check", "content-type", "application/grpc")}))
	decodeOnce(t, d, client, server, c.take(), false)
	body := bytes.Repeat([]byte{0xa5}, 3000)
	must(c.fr.WriteData(1, false, append([]byte{0, 0, 0, 0x23, 0x28}, body...))) // a message of 9000 octets
	must(c.fr.WriteData(1, false, body))
	must(c.fr.WriteData(1, false, body))
	must(c.fr.WriteData(1, false, []byte{0, 0, 0, 0, 2, 0x08, 0x01})) // a message of 2 octets
	must(c.fr.WriteData(1, true, []byte{0, 0, 0, 0, 2, 0x08, 0x02}))
	stream := c.take() // DATA at 0, 3014, 6023, 9032 and 9048

	o := decodeOnce(t, d, client, server, stream[:3014], false)
	if len(o.values("gogrpc.message_length")) != 0 || len(o.experts()) != 0 {
		t.Fatalf("before the gap: messages %v, experts %q", o.values("gogrpc.message_length"), o.experts())
	}
	// Missing: 4000-6999, the third DATA frame's header among them.
	o = decodeOnce(t, d, client, server, stream[3014:4000], false)
	o = decodeOnce(t, d, client, server, stream[7000:9032], false)
	if !o.hasExpert("goh2.framing_lost", "") {
		t.Fatalf("after the gap: experts %q", o.experts())
	}
	o = decodeOnce(t, d, client, server, stream[9032:], false)
	if !o.hasExpert("gogrpc.messages_lost", "stream 1: frames of this direction were lost") ||
		!o.hasExpert("gogrpc.messages_lost", "; 3005 of the 9005 octets of a message (its prefix included) were seen") {
		t.Errorf("lost: experts %q", o.experts())
	}
	if !o.hasExpert("gogrpc.resumed", "stream 1") || o.hasExpert("gogrpc.message_incomplete", "") {
		t.Errorf("resumed: experts %q", o.experts())
	}
	if got := o.values("gogrpc.message_length"); fmt.Sprint(got) != "[2 2]" {
		t.Errorf("messages after the gap %v, want [2 2]", got)
	}
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true,
		BlockFragment: s.block(":status", "200", "content-type", "application/grpc", "grpc-status", "0")}))
	o = decodeOnce(t, d, server, client, s.take(), false)
	var counts []string
	for _, it := range o.items() {
		if it.abbrev == "gogrpc.call.request_messages" || it.abbrev == "gogrpc.call.response_messages" {
			counts = append(counts, fmt.Sprint(it.value, it.text))
		}
	}
	if want := "[2 (decoded only: others were lost with frames missing from the capture) 0]"; fmt.Sprint(counts) != want {
		t.Errorf("counts %q, want %q", counts, want)
	}
}
