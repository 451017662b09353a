package tcptw

import (
	"bytes"
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

// h2IdleClose sends, as Go's h2c client and server do, a connection that
// carries one request; the client's health check pings the idle
// connection, the server sends GOAWAY after idle and closes idle+grace
// after the response. With idle 0 all segments come at f.t.
func h2IdleClose(f *flow, idle time.Duration) {
	f.handshake()
	f.data(0, h2Preface)
	f.data(1, h2Settings)
	f.data(0, h2Request)
	f.data(0, h2SettingsAck)
	f.data(1, h2SettingsAck)
	f.data(1, h2Response)
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
