package tcptw

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// BenchmarkStormSegment measures the engine per segment (ns/op and
// allocs/op are per segment) on a /healthz storm: 5,000 new connections
// a second from 256 client hosts, each one request, its response and a
// client close in 10 segments, so that up to 300,000 TIME_WAIT sockets
// are tracked, as in a real storm. bench/twbench measures twreport on a
// capture of such traffic, decoding included.
func BenchmarkStormSegment(b *testing.B) {
	req := []byte("GET /healthz HTTP/1.1\r\nHost: 10.0.0.2:80\r\nUser-Agent: kube-probe/1.29\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	e := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for n, c := 0, 0; n < b.N; c++ {
		host := c % 256
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(host)}), uint16(32768+(c/256)%28000))
		f := newFlow(e, cl, srv, uint32(c)*7919)
		f.t = t0.Add(time.Duration(c) * 200 * time.Microsecond)
		f.handshake()
		s := tcpdecode.Segment{Src: cl, Dst: srv, Seq: f.seq[0], Ack: f.seq[1], ACK: true, Payload: req, PayloadLen: len(req)}
		f.seq[0] += uint32(len(req))
		e.Segment(f.t, &s)
		f.send(1, false, true, false, false, 0)
		f.send(1, false, true, false, false, 120)
		f.send(0, false, true, false, false, 0)
		f.send(0, false, true, true, false, 0)
		f.send(1, false, true, true, false, 0)
		f.send(0, false, true, false, false, 0)
		n += 10
	}
}

// BenchmarkH2IdleCloseSegment measures the engine per segment on HTTP/2
// connections of one request each that the server closes when idle (see
// h2IdleClose), 18 segments a connection.
func BenchmarkH2IdleCloseSegment(b *testing.B) {
	e := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for n, c := 0, 0; n < b.N; c++ {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(c)}), uint16(32768+(c/256)%28000))
		f := newFlow(e, cl, srv, uint32(c)*7919)
		f.t = t0.Add(time.Duration(c) * 200 * time.Microsecond)
		h2IdleClose(f, 0)
		n += 18
	}
}
