package tcptw

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// goawayConn scripts a gRPC connection of one call, as grpc-go's server
// (SETTINGS first) and client make it, whose response ends at 0; then
// the case's segments come, 10 ms apart from idle on, and the side fin
// closes first 10 ms after them, the other side 1 ms later.
func goawayConn(f *flow, idle time.Duration, segs []h2Seg, fin int) {
	f.handshake()
	f.data(1, octSettings)
	f.data(0, h2Preface)
	f.data(0, h2Request)
	f.data(1, h2Response)
	f.send(0, false, true, false, false, 0)
	start := f.t.Add(idle)
	for i, sg := range segs {
		f.t = start.Add(time.Duration(i) * 10 * time.Millisecond)
		f.data(sg.d, sg.p)
	}
	f.t = start.Add(time.Duration(len(segs)) * 10 * time.Millisecond)
	f.send(fin, false, true, true, false, 0)
	f.t = f.t.Add(time.Millisecond)
	f.send(1-fin, false, true, true, false, 0)
	f.send(fin, false, true, false, false, 0)
}

// TestClosedAfterGoaway: a client FIN that answers the server's GOAWAY is
// counted as such, with the idle from the last data to the GOAWAY; the
// client still holds the TIME_WAIT socket. A server GOAWAY that follows
// the client's own answers it: the client ended the connection.
func TestClosedAfterGoaway(t *testing.T) {
	cat := func(p ...[]byte) []byte { return bytes.Join(p, nil) }
	grpcGo := cat(octGoAwayMax, octPing) // grpc-go's MaxConnectionIdle: GOAWAY and PING in one segment
	cases := []struct {
		name   string
		segs   []h2Seg
		fin    int     // who closes first
		closer string  // the closer counted
		n      int     // ClosedAfterGoaway
		idle   float64 // MedianIdleBeforeGoaway, if n > 0
	}{
		{name: "grpc-go client answers MaxConnectionIdle", segs: []h2Seg{{d: 1, p: grpcGo}}, closer: "client", n: 1, idle: 1},
		{name: "PINGs while idle are not data", segs: []h2Seg{{d: 0, p: octPing}, {d: 1, p: octPingAck}, {d: 1, p: grpcGo}, {d: 0, p: octPingAck}},
			closer: "client", n: 1, idle: 1.02},
		{name: "the second GOAWAY does not restart the idle", segs: []h2Seg{{d: 1, p: grpcGo}, {d: 0, p: octPingAck}, {d: 1, p: octGoAway}},
			closer: "client", n: 1, idle: 1},
		// grpc-python calls once more after grpc-go's first GOAWAY (of
		// MaxConnectionIdle), and closes after its second: the idle
		// timeout is the idle at the first.
		{name: "a call between the two GOAWAYs", segs: []h2Seg{{d: 1, p: grpcGo}, {d: 0, p: octHeaders3}, {d: 1, p: octData}, {d: 0, p: octPingAck},
			{d: 1, p: octGoAway}}, closer: "client", n: 1, idle: 1},
		{name: "the client's own GOAWAY before its FIN", segs: []h2Seg{{d: 1, p: octGoAway}, {d: 0, p: octGoAway}}, closer: "client", n: 1, idle: 1},
		{name: "DATA after the GOAWAY (a stream let finish)", segs: []h2Seg{{d: 1, p: octGoAway}, {d: 1, p: octData}}, closer: "client", n: 1, idle: 1},

		{name: "a new request after the GOAWAY", segs: []h2Seg{{d: 1, p: octGoAway}, {d: 0, p: octHeaders3}}, closer: "client"},
		{name: "GOAWAY with DATA", segs: []h2Seg{{d: 1, p: cat(octGoAway, octData)}}, closer: "client"},
		{name: "no GOAWAY: a client that closes itself", segs: []h2Seg{{d: 0, p: octPing}, {d: 1, p: octPingAck}}, closer: "client"},
		{name: "the client's GOAWAY", segs: []h2Seg{{d: 0, p: octGoAway}}, closer: "client"},
		{name: "the server closes after its GOAWAY", segs: []h2Seg{{d: 1, p: octGoAway}}, fin: 1, closer: "server"},
		// The client shuts down first (Node's session.close(), Go's
		// client closing an idle connection): Go's server answers the
		// client's GOAWAY with its own, which the client's FIN follows.
		{name: "the server's GOAWAY answers the client's", segs: []h2Seg{{d: 0, p: octGoAway}, {d: 1, p: octGoAway}}, closer: "client"},
		{name: "the server's GOAWAY and PING answer the client's", segs: []h2Seg{{d: 0, p: octGoAway}, {d: 1, p: grpcGo}, {d: 0, p: octPingAck}, {d: 1, p: octGoAway}},
			closer: "client"},
		{name: "the client's GOAWAY, a stream let finish, the server's", segs: []h2Seg{{d: 0, p: octGoAway}, {d: 1, p: octData}, {d: 1, p: octGoAway}},
			closer: "client"},
		{name: "the server's GOAWAY first, then both again", segs: []h2Seg{{d: 1, p: octGoAway}, {d: 0, p: octGoAway}, {d: 1, p: octGoAway}},
			closer: "client", n: 1, idle: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			f := newFlow(e, cli, srv, 1000)
			goawayConn(f, time.Second, tc.segs, tc.fin)
			p := e.Report(false).Pairs[0]
			if p.Closers[tc.closer] != 1 || p.ClosedAfterGoaway != tc.n {
				t.Fatalf("closers %v, closed after GOAWAY %d; want %s and %d", p.Closers, p.ClosedAfterGoaway, tc.closer, tc.n)
			}
			if tc.closer == "client" && (p.ClientTimeWaitPeak != 1 || p.ServerTimeWaitPeak != 0) {
				t.Errorf("TIME_WAIT peaks: client %d server %d, want 1 and 0", p.ClientTimeWaitPeak, p.ServerTimeWaitPeak)
			}
			switch {
			case tc.n == 0 && p.MedianIdleBeforeGoaway != nil:
				t.Errorf("median idle before GOAWAY %.3f s, want none", *p.MedianIdleBeforeGoaway)
			case tc.n > 0 && p.MedianIdleBeforeGoaway == nil:
				t.Errorf("no median idle before GOAWAY")
			case tc.n > 0 && (*p.MedianIdleBeforeGoaway < tc.idle-0.001 || *p.MedianIdleBeforeGoaway > tc.idle+0.001):
				t.Errorf("median idle before GOAWAY %.3f s, want %.3f s", *p.MedianIdleBeforeGoaway, tc.idle)
			}
		})
	}
}

// TestPairLineGoawayNote: the text report notes the client's closes after
// the server's GOAWAY beside the client's count, not after the server's.
func TestPairLineGoawayNote(t *testing.T) {
	e := New(Config{})
	grpcGo := bytes.Join([][]byte{octGoAwayMax, octPing}, nil)
	for i := range 5 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 2 * time.Second)
		if i < 2 {
			goawayConn(f, time.Second, []h2Seg{{d: 1, p: grpcGo}}, 0)
		} else {
			goawayConn(f, time.Second, nil, 1)
		}
	}
	var text strings.Builder
	e.Report(false).WriteText(&text)
	if want := "closes client 2 (2 after the server's GOAWAY), server 3, FIN->SYN"; !strings.Contains(text.String(), want) {
		t.Errorf("pair line lacks %q:\n%s", want, text.String())
	}
}

// TestClosedAfterGoawayHTTP1: octets that read as a GOAWAY on an HTTP/1.1
// connection are no GOAWAY.
func TestClosedAfterGoawayHTTP1(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.data(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.data(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"))
	f.at(time.Second).data(1, octGoAway)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, false, false, 0)
	if p := e.Report(false).Pairs[0]; p.Closers["client"] != 1 || p.ClosedAfterGoaway != 0 {
		t.Errorf("closers %v, closed after GOAWAY %d", p.Closers, p.ClosedAfterGoaway)
	}
}

// TestFindingsGoaway: one-call connections that the client closes in
// answer to the server's GOAWAY are blamed on the server: on its idle
// timeout after a second or more of idle, else on an age limit or
// restarts. Clients that close on their own are told of their own idle
// timeout when they closed idle connections, else to reuse their
// connections.
func TestFindingsGoaway(t *testing.T) {
	grpcGo := append(append([]byte{}, octGoAwayMax...), octPing...)
	for _, tc := range []struct {
		name      string
		idle      time.Duration
		goaway    func(i int) bool
		clientGo  bool // the client's GOAWAY comes before the server's
		want, not []string
	}{
		{"MaxConnectionIdle", 1500 * time.Millisecond, func(int) bool { return true }, false,
			[]string{"the client 10.0.0.1 holds 12 (peak; it closed 12 first)", "The server ends these connections, not the client",
				"12 of the client's 12 closes answer a GOAWAY", "idle for 1.5 s (median, from the last data to the GOAWAY)",
				"MaxConnectionIdle", "http.Server.IdleTimeout", "h2c.NewHandler or http2.ConfigureServer: http2.Server.IdleTimeout",
				"grpc.max_connection_idle_ms", "call interval"},
			[]string{"keep-alive is off", "new http.Client or Transport per request", "MaxConnectionAge"}},
		{"MaxConnectionAge", 200 * time.Millisecond, func(int) bool { return true }, false,
			[]string{"12 of the client's 12 closes answer a GOAWAY", "little idle (median 0.200 s after the last data)",
				"MaxConnectionAge", "grpc.max_connection_age_ms", "GracefulStop"},
			[]string{"keep-alive is off", "MaxConnectionIdle"}},
		{"most closes the client's own, idle", 1500 * time.Millisecond, func(i int) bool { return i%3 == 0 }, false,
			[]string{"The client closes 12 of them itself, after they were idle for 1.5 s", "IdleConnTimeout"},
			[]string{"GOAWAY", "new http.Client or Transport per request"}},
		{"most closes the client's own, right after the call", 5 * time.Millisecond, func(i int) bool { return i%3 == 0 }, false,
			[]string{"The client closes 12 of them itself", "new http.Client or Transport per request"},
			[]string{"GOAWAY", "IdleConnTimeout"}},
		{"the client's GOAWAY first", 5 * time.Millisecond, func(int) bool { return true }, true,
			[]string{"The client closes 12 of them itself", "new http.Client or Transport per request"},
			[]string{"GOAWAY", "The server ends these connections"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 12 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 2 * time.Second)
				var segs []h2Seg
				switch {
				case tc.goaway(i) && tc.clientGo:
					segs = []h2Seg{{d: 0, p: octGoAway}, {d: 1, p: grpcGo}}
				case tc.goaway(i):
					segs = []h2Seg{{d: 1, p: grpcGo}}
				default:
					segs = []h2Seg{{d: 0, p: octPing}, {d: 1, p: octPingAck}}
				}
				goawayConn(f, tc.idle, segs, 0)
			}
			r := e.Report(false)
			checkOneFinding(t, r.Findings, tc.want, tc.not)
			var text strings.Builder
			r.WriteText(&text)
			if n := r.Pairs[0].ClosedAfterGoaway; n > 0 && !strings.Contains(text.String(), fmt.Sprintf("closes client 12 (%d after the server's GOAWAY)", n)) {
				t.Errorf("pair line lacks the closes after GOAWAY:\n%s", text.String())
			}
		})
	}
}

// goServerClose scripts a connection of one request, as Go's HTTP/2
// server ends it: the client pings it while idle, the server sends
// GOAWAY (if goaway) idle after the response and closes 1 s later (its
// goAwayTimeout).
func goServerClose(f *flow, idle time.Duration, goaway bool) {
	h2Start(f)
	f.send(0, false, true, false, false, 0)
	f.t = f.t.Add(idle / 2)
	f.data(0, h2Ping)
	f.data(1, h2PingAck)
	f.t = f.t.Add(idle - idle/2)
	if goaway {
		f.data(1, h2GoAway)
	}
	f.t = f.t.Add(time.Second)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, false, false, 0)
}

// TestFindingsServerGoaway: when most of the server's closes follow its
// GOAWAY, the finding quotes the idle from the last data to the GOAWAY,
// the idle timeout to change (Go's HTTP/2 server closes 1 s after it),
// not the idle at the FIN, which the report keeps. A GOAWAY right after
// the response is no idle timeout.
func TestFindingsServerGoaway(t *testing.T) {
	all := func(int) bool { return true }
	for _, tc := range []struct {
		name      string
		idle      time.Duration
		goaway    func(i int) bool
		fin, ga   float64 // the report's medians: idle at the FIN, at the GOAWAY (-1: none)
		want, not []string
	}{
		{"IdleTimeout 1 s", time.Second, all, 2, 1,
			[]string{"The server closes connections idle for 1.0 s (median, from the last data to its GOAWAY)", "http.Server.IdleTimeout",
				"h2c.NewHandler or http2.ConfigureServer: http2.Server.IdleTimeout"},
			[]string{"2.0 s", "right after"}},
		{"IdleTimeout 3 s", 3 * time.Second, all, 4, 3,
			[]string{"The server closes connections idle for 3.0 s (median, from the last data to its GOAWAY)"}, []string{"4.0 s"}},
		{"GOAWAY on few of the closes", time.Second, func(i int) bool { return i%4 == 0 }, 2, 1,
			[]string{"The server closes connections idle for 2.0 s (median):"}, []string{"GOAWAY"}},
		{"no GOAWAY", time.Second, func(int) bool { return false }, 2, -1,
			[]string{"The server closes connections idle for 2.0 s (median):", "http.Server.IdleTimeout"}, []string{"GOAWAY", "http2.Server"}},
		// Go's server with keep-alives off sends GOAWAY after the
		// response, and closes 1 s later.
		{"GOAWAY right after the response", 0, all, 1, 0,
			[]string{"right after its response (median 0.000 s, from the last data to its GOAWAY)", "not an idle timeout"},
			[]string{"idle for"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 12 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 5 * time.Second)
				goServerClose(f, tc.idle, tc.goaway(i))
			}
			r := e.Report(false)
			p := r.Pairs[0]
			if p.Closers["server"] != 12 {
				t.Fatalf("closers %v", p.Closers)
			}
			if m := p.MedianIdleBeforeServerClose; m == nil || *m < tc.fin-0.001 || *m > tc.fin+0.001 {
				t.Errorf("median idle before the server's FIN %v, want %.0f s", m, tc.fin)
			}
			switch m := p.MedianIdleBeforeServerGoaway; {
			case tc.ga < 0 && m != nil:
				t.Errorf("median idle before the server's GOAWAY %.3f s, want none", *m)
			case tc.ga >= 0 && (m == nil || *m < tc.ga-0.001 || *m > tc.ga+0.001):
				t.Errorf("median idle before the server's GOAWAY %v, want %.0f s", m, tc.ga)
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}
