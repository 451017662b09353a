package tcptw

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// h2Frames returns the octets of the frames that write writes, after the
// client connection preface if preface is set.
func h2Frames(write func(fr *http2.Framer), preface bool) []byte {
	var buf bytes.Buffer
	if preface {
		buf.WriteString(http2.ClientPreface)
	}
	write(http2.NewFramer(&buf, nil))
	return buf.Bytes()
}

// data sends p from side d with ACK.
func (f *flow) data(d int, p []byte) Verdict {
	o := 1 - d
	s := tcpdecode.Segment{Src: f.ep[d], Dst: f.ep[o], Seq: f.seq[d], Ack: f.seq[o], ACK: true, Payload: p, PayloadLen: len(p)}
	if !f.noTS {
		f.ts[d]++
		s.HasTS, s.TSval = true, f.ts[d]
	}
	f.seq[d] += uint32(len(p))
	f.lastSeg = s
	return *f.e.Segment(f.t, &s)
}

// The frames of an HTTP/2 connection that its server closes when idle.
var (
	h2Preface  = h2Frames(func(fr *http2.Framer) { fr.WriteSettings(); fr.WriteWindowUpdate(0, 1<<30) }, true)
	h2Settings = h2Frames(func(fr *http2.Framer) {
		fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	}, false)
	h2SettingsAck = h2Frames(func(fr *http2.Framer) { fr.WriteSettingsAck() }, false)
	h2Request     = h2Frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 40), EndStream: true, EndHeaders: true})
	}, false)
	h2Response = h2Frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 30), EndHeaders: true})
		fr.WriteData(1, true, []byte("ok\n"))
	}, false)
	h2Ping    = h2Frames(func(fr *http2.Framer) { fr.WritePing(false, [8]byte{1}) }, false)
	h2PingAck = h2Frames(func(fr *http2.Framer) { fr.WritePing(true, [8]byte{1}) }, false)
	h2GoAway  = h2Frames(func(fr *http2.Framer) { fr.WriteGoAway(1, http2.ErrCodeNo, nil) }, false)
)

// h2Start opens a connection that carries one request and its response.
func h2Start(f *flow) {
	f.handshake()
	f.data(0, h2Preface)
	f.data(1, h2Settings)
	f.data(0, h2Request)
	f.data(0, h2SettingsAck)
	f.data(1, h2SettingsAck)
	f.data(1, h2Response)
}

// h2IdleClose sends, as Go's h2c client and server do, a connection that
// carries one request; the client's health check pings the idle
// connection, the server sends GOAWAY after idle and closes idle+grace
// after the response. With idle 0 all segments come at f.t.
func h2IdleClose(f *flow, idle time.Duration) {
	h2Start(f)
	f.send(0, false, true, false, false, 0)
	f.t = f.t.Add(idle * 2 / 5)
	f.data(0, h2Ping)
	f.data(1, h2PingAck)
	f.t = f.t.Add(idle * 3 / 5)
	f.data(1, h2GoAway)
	f.t = f.t.Add(idle * 4 / 5)
	f.data(0, h2Ping)
	f.data(1, h2PingAck)
	f.t = f.t.Add(idle / 5)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, false, false, 0)
}

// TestH2SegmentsDoNotAllocate: walking the HTTP/2 frames of a segment,
// either way, allocates nothing.
func TestH2SegmentsDoNotAllocate(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.data(0, h2Preface)
	f.data(1, h2Settings)
	f.data(0, h2Request)
	f.data(1, h2Response)
	frames := append(append([]byte{}, h2Ping...), h2Response...)
	if n := testing.AllocsPerRun(1000, func() {
		f.data(0, frames)
		f.data(1, h2PingAck)
		f.data(1, frames)
	}); n != 0 {
		t.Errorf("%.2f allocations per 3 segments", n)
	}
}

// hexOctets decodes hex that may contain spaces.
func hexOctets(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Frames as octets on the wire (RFC 9113 section 4.1: length, type,
// flags, stream).
var (
	octGoAway     = hexOctets("000008 07 00 00000000  00000001 00000000")           // last stream 1, NO_ERROR
	octGoAwayMax  = hexOctets("000008 07 00 00000000  7fffffff 00000000")           // grpc-go's first
	octPing       = hexOctets("000008 06 00 00000000  0000000000000001")            // PING
	octPingAck    = hexOctets("000008 06 01 00000000  0000000000000001")            // PING ACK
	octSettings   = hexOctets("000006 04 00 00000000  0003 000000fa")               // MAX_CONCURRENT_STREAMS 250
	octSettingsAk = hexOctets("000000 04 01 00000000")                              // SETTINGS ACK
	octConnWU     = hexOctets("000004 08 00 00000000  00010000")                    // WINDOW_UPDATE, stream 0
	octStreamWU   = hexOctets("000004 08 00 00000001  00010000")                    // WINDOW_UPDATE, stream 1
	octRST        = hexOctets("000004 03 00 00000001  00000008")                    // RST_STREAM CANCEL, stream 1
	octData       = hexOctets("000003 00 01 00000001  6f6b0a")                      // DATA "ok\n", END_STREAM
	octHeaders3   = hexOctets("000002 01 05 00000003  8287")                        // HEADERS, stream 3: GET, http
	octPrioUpdate = hexOctets("000005 10 00 00000000  00000003 75")                 // PRIORITY_UPDATE for stream 3
	octBadPing    = hexOctets("000004 06 00 00000000  00000001")                    // PING of 4 octets
	octPingOn1    = hexOctets("000008 06 00 00000001  0000000000000001")            // PING on a stream
	octGoAwayDbg  = hexOctets("00000e 07 00 00000000  00000001 00000000 6964 6c65") // GOAWAY with debug data ("idle"), 2 octets short
)

// h2Seg is a segment of a control-frame test case.
type h2Seg struct {
	d    int
	p    []byte
	wire int  // octets on the wire if more than p (a short snapshot length)
	skip int  // octets of the stream before it that the capture lacks
	rexm bool // a retransmission of the previous segment of direction d
	late bool // it comes at 2 s
}

// TestH2ControlFramesAreNotData: the server closes 3 s after the response
// of a connection's only request; at 1 s (and 2 s, if late) the case's
// segments come. The connection was idle for 3 s when the server closed
// it if they are only connection management, else for 2 s (1 s, if the
// last data is late).
func TestH2ControlFramesAreNotData(t *testing.T) {
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	cases := []struct {
		name     string
		http1    bool // the connection is HTTP/1.1
		srvFirst bool // the server sends SETTINGS before the client's preface (grpc-go)
		segs     []h2Seg
		wantIdle float64
	}{
		{name: "GOAWAY", segs: []h2Seg{{d: 1, p: octGoAway}}, wantIdle: 3},
		{name: "client PING, server PING ACK", segs: []h2Seg{{d: 0, p: octPing}, {d: 1, p: octPingAck}}, wantIdle: 3},
		{name: "grpc-go MaxConnectionIdle", srvFirst: true, segs: []h2Seg{
			{d: 1, p: cat(octGoAwayMax, octPing)}, {d: 0, p: octPingAck}, {d: 1, p: octGoAway}}, wantIdle: 3},
		{name: "SETTINGS and its ACK", segs: []h2Seg{{d: 1, p: octSettings}, {d: 0, p: octSettingsAk}}, wantIdle: 3},
		{name: "connection WINDOW_UPDATE", segs: []h2Seg{{d: 0, p: octConnWU}}, wantIdle: 3},
		{name: "GOAWAY beyond the snapshot", segs: []h2Seg{{d: 1, p: octGoAwayDbg[:12], wire: len(octGoAwayDbg) + 2}}, wantIdle: 3},

		{name: "stream WINDOW_UPDATE", segs: []h2Seg{{d: 0, p: octStreamWU}}, wantIdle: 2},
		{name: "RST_STREAM", segs: []h2Seg{{d: 0, p: octRST}}, wantIdle: 2},
		{name: "DATA", segs: []h2Seg{{d: 1, p: octData}}, wantIdle: 2},
		{name: "a new request", segs: []h2Seg{{d: 0, p: octHeaders3}, {d: 1, p: octGoAway, late: true}}, wantIdle: 2},
		{name: "PING with DATA", segs: []h2Seg{{d: 1, p: cat(octPing, octData)}}, wantIdle: 2},
		{name: "PRIORITY_UPDATE", segs: []h2Seg{{d: 0, p: octPrioUpdate}}, wantIdle: 2},
		{name: "PING of the wrong length", segs: []h2Seg{{d: 1, p: octBadPing}}, wantIdle: 2},
		{name: "PING on a stream", segs: []h2Seg{{d: 1, p: octPingOn1}}, wantIdle: 2},
		// A retransmission is data, and the frames after it are
		// followed.
		{name: "retransmitted PING", segs: []h2Seg{{d: 1, p: octPing}, {d: 1, p: octPing, rexm: true}, {d: 1, p: octGoAway, late: true}}, wantIdle: 2},
		{name: "GOAWAY split", segs: []h2Seg{{d: 1, p: octGoAway[:13]}, {d: 1, p: octGoAway[13:]}, {d: 1, p: octPing, late: true}}, wantIdle: 2},
		// A header not seen whole is not read: the direction is no
		// longer followed, and its late GOAWAY is data.
		{name: "header split", segs: []h2Seg{{d: 1, p: octPing[:5]}, {d: 1, p: octPing[5:]}, {d: 1, p: octGoAway, late: true}}, wantIdle: 1},
		{name: "header beyond the snapshot", segs: []h2Seg{{d: 1, p: cat(octPing, octGoAway[:4]), wire: len(octPing) + len(octGoAway)}, {d: 1, p: octGoAway, late: true}}, wantIdle: 1},
		{name: "octets not captured", segs: []h2Seg{{d: 1, skip: len(octPing), p: octGoAway}, {d: 1, p: octGoAway, late: true}}, wantIdle: 1},
		{name: "HTTP/1.1 bytes that read as a GOAWAY", http1: true, segs: []h2Seg{{d: 1, p: octGoAway}}, wantIdle: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			f := newFlow(e, cli, srv, 1000)
			f.handshake()
			switch {
			case tc.http1:
				f.data(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
				f.data(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"))
			case tc.srvFirst:
				f.data(1, h2Settings)
				f.data(0, h2Preface)
				f.data(0, h2Request)
				f.data(1, h2Response)
			default:
				h2Start(f)
			}
			f.at(time.Second)
			var last [2]tcpdecode.Segment
			for _, sg := range tc.segs {
				var s tcpdecode.Segment
				if sg.rexm {
					s = last[sg.d]
				} else {
					f.seq[sg.d] += uint32(sg.skip)
					n := max(sg.wire, len(sg.p))
					s = tcpdecode.Segment{Src: f.ep[sg.d], Dst: f.ep[1-sg.d], Seq: f.seq[sg.d], Ack: f.seq[1-sg.d], ACK: true, Payload: sg.p, PayloadLen: n}
					f.seq[sg.d] += uint32(n)
				}
				last[sg.d] = s
				f.t = f.t.Add(10 * time.Millisecond) // not a second copy
				if sg.late {
					f.at(2 * time.Second)
				}
				e.Segment(f.t, &s)
			}
			f.at(3*time.Second).send(1, false, true, true, false, 0)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, false, false, 0)
			r := e.Report(false)
			if len(r.Pairs) != 1 || r.Pairs[0].MedianIdleBeforeServerClose == nil {
				t.Fatalf("no server-closed connection: %+v", r.Pairs)
			}
			// The case's segments end at most 0.04 s after 1 s or 2 s.
			if got := *r.Pairs[0].MedianIdleBeforeServerClose; got < tc.wantIdle-0.05 || got > tc.wantIdle {
				t.Errorf("idle before the server's FIN %.3f s, want %.0f s", got, tc.wantIdle)
			}
		})
	}
}
