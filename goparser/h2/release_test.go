package h2

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// shortConn returns the client's and the server's octets of a connection
// with one request and one response, each with a DATA frame of the
// largest default size: a Framer keeps a read buffer that large. The
// response ends with trailers.
func shortConn() (cl, sv [][]byte) {
	c, s := newPeer(), newPeer()
	c.buf.WriteString(http2.ClientPreface)
	must(c.fr.WriteSettings())
	cl = append(cl, c.take())
	must(s.fr.WriteSettings())
	must(s.fr.WriteSettingsAck())
	sv = append(sv, s.take())
	must(c.fr.WriteSettingsAck())
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":scheme", "http", ":path", "/upload", ":authority", "example.com")}))
	must(c.fr.WriteData(1, true, make([]byte, defaultMaxFrame)))
	cl = append(cl, c.take())
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: s.block(":status", "200")}))
	must(s.fr.WriteData(1, false, make([]byte, defaultMaxFrame)))
	// Trailers: a header block read into the buffer that DATA grew.
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: s.block("x-status", "0")}))
	sv = append(sv, s.take())
	return cl, sv
}

// TestClosedConnectionsRetainLittle decodes many short connections and
// measures the heap they keep: each direction's Framer kept a read buffer
// as large as its largest frame (16 KiB here) until goh2.max_conns
// evicted the connection. Only the last idleKeep keep theirs now.
func TestClosedConnectionsRetainLittle(t *testing.T) {
	cl, sv := shortConn()
	const n = 2000
	d := New(Options{})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var e result.Encoder
	for i := range n {
		from := fmt.Sprintf("10.1.%d.%d 40000", i/200, i%200)
		for j := range cl {
			e.Reset()
			d.Decode(Input{Src: from, Dst: server, Data: cl[j]}, &e)
			e.Reset()
			d.Decode(Input{Src: server, Dst: from, Data: sv[j]}, &e)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if len(d.conns) != n {
		t.Fatalf("%d connections tracked, want %d", len(d.conns), n)
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes of heap per closed connection", per)
	// About 1.3 KiB remain (the HPACK tables and the connection's
	// state), and the last idleKeep connections' 35 KiB spread over all;
	// with the Framers' buffers it was above 32 KiB.
	if per > 6<<10 {
		t.Fatalf("%d bytes of heap per closed connection, want at most 6 KiB", per)
	}
	holding := 0
	for _, c := range d.conns {
		if c.holds() || c.half[0].block.st != nil || c.half[1].block.st != nil {
			holding++
		}
	}
	if holding > d.idleKeep {
		t.Fatalf("%d closed connections keep their Framers, fields, streams or stream map; want at most the last %d", holding, d.idleKeep)
	}
	runtime.KeepAlive(d)
}

// TestIdleBetweenRequestsKeepsFramers: a connection with no stream open
// between two requests keeps its Framers until idleKeep other
// connections went idle after it, so that a busy connection does not
// make them again for every request.
func TestIdleBetweenRequestsKeepsFramers(t *testing.T) {
	cl, sv := shortConn()
	d := New(Options{})
	var e result.Encoder
	run := func(from string) {
		for j := range cl {
			e.Reset()
			d.Decode(Input{Src: from, Dst: server, Data: cl[j]}, &e)
			e.Reset()
			d.Decode(Input{Src: server, Dst: from, Data: sv[j]}, &e)
		}
	}
	run(client)
	first := d.conns[Input{Src: client, Dst: server}.connKey()]
	for i := 0; i < d.idleKeep; i++ {
		if first.half[0].fr == nil || first.half[1].fr == nil {
			t.Fatalf("the Framers were released after %d other connections went idle, want %d", i, d.idleKeep)
		}
		run(fmt.Sprintf("10.2.0.%d 40000", i+1))
	}
	if first.holds() {
		t.Fatalf("the Framers were kept after %d other connections went idle", d.idleKeep)
	}
}

// pair decodes the same calls with a decoder that releases idle
// connections and one that never does, and fails unless every result is
// identical.
type pair struct {
	t        testing.TB
	d, kept  *Decoder
	e, ekept result.Encoder
	calls    int
	claimed  int // calls whose payload was decoded as HTTP/2
}

func newPair(t testing.TB, o Options) *pair {
	p := &pair{t: t, d: New(o), kept: New(o)}
	p.d.idleKeep = 0 // released as soon as idle
	p.kept.keepIdle = true
	return p
}

func (p *pair) decode(in Input) []byte {
	p.t.Helper()
	p.calls++
	p.e.Reset()
	p.ekept.Reset()
	st := p.d.Decode(in, &p.e)
	p.kept.Decode(in, &p.ekept)
	if st == StatusOK {
		p.claimed++
	}
	got, want := mustBytes(p.t, &p.e), mustBytes(p.t, &p.ekept)
	if !bytes.Equal(got, want) {
		p.t.Fatalf("call %d (%s -> %s, %d octets): the result differs from that of a decoder that keeps idle connections whole", p.calls, in.Src, in.Dst, len(in.Data))
	}
	return got
}

// open starts a connection: the client's preface and SETTINGS, the
// server's SETTINGS and its ACK.
func (p *pair) open() (c, s *peer) {
	c, s = newPeer(), newPeer()
	c.buf.WriteString(http2.ClientPreface)
	must(c.fr.WriteSettings())
	p.decode(Input{Src: client, Dst: server, Data: c.take()})
	must(s.fr.WriteSettings())
	must(s.fr.WriteSettingsAck())
	p.decode(Input{Src: server, Dst: client, Data: s.take()})
	return c, s
}

func (p *pair) conn() *conn {
	for _, c := range p.d.conns {
		return c
	}
	return nil
}

// TestReleasedConnectionGoesOn sends a second request on a connection
// whose buffers were released: its header block refers to the HPACK
// entries the first request added and spans a CONTINUATION frame, and
// must decode as on a connection that kept everything.
func TestReleasedConnectionGoesOn(t *testing.T) {
	p := newPair(t, Options{})
	c, s := p.open()
	must(c.fr.WriteSettingsAck())
	req := []string{":method", "GET", ":scheme", "http", ":path", "/a", ":authority", "example.com", "x-token", strings.Repeat("t", 300)}
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, EndStream: true, BlockFragment: c.block(req...)}))
	p.decode(Input{Src: client, Dst: server, Data: c.take()})
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: s.block(":status", "200", "x-served-by", "node-7")}))
	must(s.fr.WriteData(1, true, make([]byte, 9000)))
	p.decode(Input{Src: server, Dst: client, Data: s.take()})

	cn := p.conn()
	if cn.streams != nil || cn.half[0].fr != nil || cn.half[1].fr != nil {
		t.Fatal("the connection kept its streams or Framers with no stream open")
	}

	// The same fields again: the encoder now sends most of them as
	// references to its dynamic table.
	block := c.block(req...)
	if len(block) > 20 {
		t.Fatalf("the second block is %d octets: not indexed", len(block))
	}
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: block[:len(block)/2]}))
	must(c.fr.WriteContinuation(3, true, block[len(block)/2:]))
	raw := p.decode(Input{Src: client, Dst: server, Data: c.take()})
	v, _, err := result.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	o2 := out{pdus: v.([]any)[3].([]any)}
	if info, _ := v.([]any)[4].(string); info != "HEADERS[3], CONTINUATION[3]: GET /a" {
		t.Fatalf("info %q", info)
	}
	if got := o2.values("goh2.header.value"); len(got) != 5 || got[4] != strings.Repeat("t", 300) {
		t.Fatalf("header values %q", got)
	}
	if len(o2.experts()) != 0 {
		t.Fatalf("experts %q", o2.experts())
	}
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true, EndStream: true, BlockFragment: s.block(":status", "200", "x-served-by", "node-7")}))
	p.decode(Input{Src: server, Dst: client, Data: s.take()})
}

// TestReleaseKeepsFramerInsideBlock: a stream reset while its HEADERS
// still await their CONTINUATION leaves no stream open, but the Framer
// knows that the next frame must be that CONTINUATION, and reports the
// frame that is not.
func TestReleaseKeepsFramerInsideBlock(t *testing.T) {
	p := newPair(t, Options{})
	c, s := p.open()
	block := c.block(":method", "GET", ":scheme", "http", ":path", "/a", ":authority", "example.com")
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndStream: true, BlockFragment: block}))
	p.decode(Input{Src: client, Dst: server, Data: c.take()})
	must(s.fr.WriteRSTStream(1, http2.ErrCodeRefusedStream))
	p.decode(Input{Src: server, Dst: client, Data: s.take()})
	if cn := p.conn(); len(cn.streams) != 0 || cn.half[0].fr == nil {
		t.Fatalf("%d streams open, client's Framer kept: %v", len(cn.streams), cn.half[0].fr != nil)
	}
	must(c.fr.WritePing(false, [8]byte{}))
	raw := p.decode(Input{Src: client, Dst: server, Data: c.take()})
	v, _, _ := result.Decode(raw)
	o := out{pdus: v.([]any)[3].([]any)}
	if !o.hasExpert("goh2.protocol_error", "got PING for stream 0; expected CONTINUATION following HEADERS for stream 1") {
		t.Fatalf("experts %q", o.experts())
	}
}

// TestReleaseChangesNoCaptureResult decodes every test capture with and
// without the release of idle connections, segment by segment as
// Wireshark without TCP reassembly passes them and reassembled as it
// does with it, and requires identical results.
func TestReleaseChangesNoCaptureResult(t *testing.T) {
	claimed := 0
	for _, name := range testpcaps.Names() {
		frames, link, err := testpcaps.Frames(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, reassemble := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reassemble=%v", name, reassemble), func(t *testing.T) {
				p := newPair(t, Options{})
				dec := tcpdecode.New()
				pending := map[string][]byte{} // per direction, what TCP would reassemble
				for i, f := range frames {
					var s tcpdecode.Segment
					if err := dec.Decode(link, f, &s); err != nil || len(s.Payload) == 0 {
						continue
					}
					in := Input{Src: s.Src.String(), Dst: s.Dst.String(), Heuristic: true, NoReassembly: !reassemble, Frame: uint32(i + 1)}
					key := in.Src + ">" + in.Dst
					in.Data = append(pending[key], s.Payload...)
					r, _, err := result.Decode(p.decode(in))
					if err != nil {
						t.Fatal(err)
					}
					a := r.([]any)
					consumed, need := int(a[1].(int64)), a[2].(int64)
					if reassemble && need != 0 {
						pending[key] = append([]byte(nil), in.Data[consumed:]...)
					} else {
						delete(pending, key)
					}
				}
				claimed += p.claimed
			})
		}
	}
	if claimed < 1000 {
		t.Fatalf("only %d payloads decoded as HTTP/2", claimed)
	}
}
