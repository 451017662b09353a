package tcptw

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// storm scripts n connections of one HTTP/1.1 request each, 20 ms apart.
// closer(i) says who sends the first FIN of connection i (0 client, 1
// server); idle is the pause between the response and that FIN.
func storm(e *Engine, n int, req, resp string, closer func(i int) int, idle time.Duration) {
	for i := range n {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 20 * time.Millisecond).handshake()
		f.send(0, false, true, false, false, len(req))
		e.conns.get(f.ep[0], srv).req.clientPayload([]byte(req), false)
		f.send(1, false, true, false, false, 0)
		// The response, with its payload for the Connection header.
		seg := f.lastSeg
		seg.Src, seg.Dst, seg.Seq, seg.Ack = srv, f.ep[0], f.seq[1], f.seq[0]
		seg.PayloadLen, seg.Payload = len(resp), []byte(resp)
		f.seq[1] += uint32(len(resp))
		e.Segment(f.t, &seg)
		f.send(0, false, true, false, false, 0)
		f.t = f.t.Add(idle)
		d := closer(i)
		f.send(d, false, true, true, false, 0)
		f.send(1-d, false, true, true, false, 0)
		f.send(d, false, true, false, false, 0)
	}
}

const (
	reqClose  = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"
	reqPlain  = "GET /orders HTTP/1.1\r\nHost: x\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"
	respClose = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
	respPlain = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	// ApacheBench's requests: HTTP/1.0, which closes by default, and
	// with -k, which keeps the connection.
	reqHTTP10   = "GET /healthz HTTP/1.0\r\nHost: x\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
	reqHTTP10KA = "GET /healthz HTTP/1.0\r\nConnection: Keep-Alive\r\nHost: x\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
	resp10      = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
)

// TestFindingsWhoeverCloses: one request per connection gives a finding
// whichever side closes, naming each side's own TIME_WAIT sockets, and
// the cause the capture shows.
func TestFindingsWhoeverCloses(t *testing.T) {
	raceClose := func(i int) int { // Go's client without keep-alive races the server: a fifth on the client
		if i%5 == 0 {
			return 0
		}
		return 1
	}
	server := func(int) int { return 1 }
	client := func(int) int { return 0 }
	for _, tc := range []struct {
		name       string
		req, resp  string
		closer     func(int) int
		idle       time.Duration
		want, not  []string
		srvPeak    int
		clientPeak int
	}{
		{"DisableKeepAlives, racing the server", reqClose, respClose, raceClose, 0,
			[]string{"100% of the connections carry a single request (50 of 50)", "10.0.0.2:80 holds 40", "10.0.0.1 holds 10",
				"both sides hold many", "\"Connection: close\" (50 of 50)", "fix belongs to the client", "DisableKeepAlives"},
			[]string{"IdleTimeout"}, 40, 10},
		// HTTP/1.0 asks for the close without a "Connection: close".
		{"HTTP/1.0 without keep-alive", reqHTTP10, resp10, server, 0,
			[]string{"The requests are HTTP/1.0 without \"Connection: keep-alive\", which asks the server to close after its response (50 of 50)",
				"fix belongs to the client", "In ApacheBench: add -k"},
			[]string{"ask for \"Connection: close\""}, 50, 0},
		{"HTTP/1.0 with keep-alive", reqHTTP10KA, resp10, server, time.Millisecond,
			[]string{"right after its response"},
			[]string{"HTTP/1.0", "The requests ask", "fix belongs to the client"}, 50, 0},
		{"SetKeepAlivesEnabled(false) on the server", reqPlain, respClose, raceClose, 0,
			[]string{"server's responses say \"Connection: close\" (50 of 50)", "fix belongs to the server", "SetKeepAlivesEnabled(false)"},
			[]string{"IdleTimeout", "fix belongs to the client"}, 40, 10},
		{"server closes right after its response", reqPlain, respPlain, server, time.Millisecond,
			[]string{"holds 50 (peak; it closed 50 first)", "right after its response", "not an idle timeout"},
			[]string{"IdleTimeout", "both sides"}, 50, 0},
		{"a new Transport per request: half each", reqPlain, respPlain, func(i int) int { return i % 2 }, 0,
			[]string{"10.0.0.2:80 holds 25", "10.0.0.1 holds 25", "both sides hold many", "The client closes 25 of them itself", "new http.Client or Transport per request"},
			[]string{"IdleTimeout", "Connection: close"}, 25, 25},
		{"server closes idle connections", reqPlain, respPlain, server, 5 * time.Second,
			[]string{"idle for 5.0 s", "http.Server.IdleTimeout"},
			[]string{"right after"}, 50, 0},
		// One Transport whose IdleConnTimeout is shorter than the pause
		// between requests: each connection is closed by the client, idle.
		{"client closes idle connections", reqPlain, respPlain, client, 1500 * time.Millisecond,
			[]string{"The client closes 50 of them itself, after they were idle for 1.5 s", "Transport.IdleConnTimeout",
				"shorter than its pause between requests"},
			[]string{"MaxIdleConnsPerHost", "new http.Client or Transport per request", "IdleTimeout)"}, 0, 50},
		// Idle timeouts under a second are idle timeouts too: a server's
		// of 400 ms, a client's of 500 ms.
		{"server closes connections idle 400 ms", reqPlain, respPlain, server, 400 * time.Millisecond,
			[]string{"idle for 0.4 s", "http.Server.IdleTimeout"},
			[]string{"right after", "SetKeepAlivesEnabled"}, 50, 0},
		{"client closes connections idle 500 ms", reqPlain, respPlain, client, 500 * time.Millisecond,
			[]string{"The client closes 50 of them itself, after they were idle for 0.5 s", "Transport.IdleConnTimeout"},
			[]string{"keep-alive is off", "new http.Client or Transport per request"}, 0, 50},
		{"client closes right after the response", reqPlain, respPlain, client, 5 * time.Millisecond,
			[]string{"The client closes 50 of them itself", "new http.Client or Transport per request", "MaxIdleConnsPerHost"},
			[]string{"IdleConnTimeout", "idle for"}, 0, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			storm(e, 50, tc.req, tc.resp, tc.closer, tc.idle)
			r := e.Report(false)
			p := r.Pairs[0]
			if p.ServerTimeWaitPeak != tc.srvPeak || p.ClientTimeWaitPeak != tc.clientPeak {
				t.Errorf("TIME_WAIT peaks: server %d client %d, want %d and %d", p.ServerTimeWaitPeak, p.ClientTimeWaitPeak, tc.srvPeak, tc.clientPeak)
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}

// checkOneFinding checks that there is one finding, that it says each of
// want and none of not.
func checkOneFinding(t *testing.T, findings, want, not []string) {
	t.Helper()
	if len(findings) != 1 {
		t.Fatalf("findings %q", findings)
	}
	for _, w := range want {
		if !strings.Contains(findings[0], w) {
			t.Errorf("finding lacks %q: %s", w, findings[0])
		}
	}
	for _, w := range not {
		if strings.Contains(findings[0], w) {
			t.Errorf("finding has %q: %s", w, findings[0])
		}
	}
}

// TestPortRangeExhausted: a client that ties up every port of its range
// is told so, and no prediction exceeds the range.
func TestPortRangeExhausted(t *testing.T) {
	e := New(Config{PortLo: 40000, PortHi: 40009})
	storm(e, 10, reqPlain, respPlain, func(int) int { return 0 }, 0)
	r := e.Report(false)
	pu := r.Hosts[0].Ports[0]
	if !pu.Exhausted || pu.PeakInUse != 10 || pu.RangeSize != 10 {
		t.Errorf("port usage %+v", pu)
	}
	if p := r.Pairs[0]; p.PredictedClientTimeWait > 10 || p.PredictedTimeWait > 10 {
		t.Errorf("predicted %.0f (client %.0f) with 10 ports", p.PredictedTimeWait, p.PredictedClientTimeWait)
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), "has tied up all 10 of its ephemeral ports") || !strings.Contains(text.String(), "exhausted") {
		t.Errorf("no exhaustion warning:\n%s", text.String())
	}
}

// TestUnansweredAttemptsDoNotExhaust: a client that closed one connection
// (one port in TIME_WAIT) and then retries a dead backend, a SYN every 5
// minutes from the ports of its 10-port range in turn, never answered,
// has not tied up its range: attempts replaced on their tuple free their
// count, and without TIME_WAIT holding half the range there is no
// exhaustion to report.
func TestUnansweredAttemptsDoNotExhaust(t *testing.T) {
	e := New(Config{PortLo: 40000, PortHi: 40009})
	storm(e, 1, reqPlain, respPlain, func(int) int { return 0 }, 0)
	for i := range 25 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40001+i%9)), srv, 7000+uint32(i))
		f.at(time.Duration(i+1)*5*time.Minute).send(0, true, false, false, false, 0)
	}
	r := e.Report(false)
	for _, h := range r.Hosts {
		for _, pu := range h.Ports {
			if pu.Exhausted || pu.PeakInUse > 10 || pu.InUseAtEnd > 10 {
				t.Errorf("port usage %+v", pu)
			}
		}
	}
	var text strings.Builder
	r.WriteText(&text)
	if strings.Contains(text.String(), "tied up all") {
		t.Errorf("an exhaustion finding for unanswered attempts:\n%s", text.String())
	}
}

// TestShortConnectionRequestsPerClient: the requests behind short
// connections name their client and server, and count only connections
// that left TIME_WAIT: another client's RST-closed requests (no
// TIME_WAIT) do not outrank the storm's.
func TestShortConnectionRequestsPerClient(t *testing.T) {
	e := New(Config{})
	storm(e, 20, "GET /a/storm HTTP/1.1\r\nHost: x\r\n\r\n", respPlain, func(int) int { return 0 }, 0)
	other := netip.MustParseAddr("10.0.0.3")
	for i := range 30 {
		f := newFlow(e, netip.AddrPortFrom(other, uint16(41000+i)), srv, 5000)
		f.at(time.Duration(i) * 10 * time.Millisecond).handshake()
		f.send(0, false, true, false, false, 30)
		e.conns.get(f.ep[0], srv).req.clientPayload([]byte("GET /b/rst HTTP/1.1\r\nHost: x\r\n\r\n"), false)
		f.send(1, false, true, false, false, 100)
		f.send(0, false, true, false, true, 0) // SO_LINGER 0
	}
	r := e.Report(false)
	if len(r.Requests) != 1 || r.Requests[0] != (Ranked{"GET /a/storm", 20, "10.0.0.1", "10.0.0.2:80"}) {
		t.Fatalf("requests behind short connections: %+v", r.Requests)
	}
}

// TestFindingsClientHoldsUnusedConnections: a client that opens a
// connection per call, all before any closes (Python's grpc, a channel
// per call kept 4 s and closed), closes idle connections but has no
// idle timeout to blame: it does not reuse them.
func TestFindingsClientHoldsUnusedConnections(t *testing.T) {
	e := New(Config{})
	var flows []*flow
	for i := range 20 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
		f.data(0, []byte(reqPlain))
		f.data(1, []byte(respPlain))
		f.send(0, false, true, false, false, 0)
		flows = append(flows, f)
	}
	for i, f := range flows {
		f.at(4*time.Second + time.Duration(i)*50*time.Millisecond)
		f.send(0, false, true, true, false, 0)
		f.send(1, false, true, true, false, 0)
		f.send(0, false, true, false, false, 0)
	}
	r := e.Report(false)
	if m := r.Pairs[0].MedianIdleBeforeClientClose; m == nil || *m < 3.9 || *m > 4.1 {
		t.Errorf("median idle before the client's close %v, want 4 s", m)
	}
	checkOneFinding(t, r.Findings, []string{"The client closes 20 of them itself: keep-alive is off", "new http.Client or Transport per request"},
		[]string{"IdleConnTimeout"})
}

// TestFindingsRaceOrClients: both sides hold many TIME_WAIT sockets. One
// kind of client (Go's without keep-alive) races the server; two (Go's,
// whose requests ask the server to close, and curl, which closes itself)
// may each close its own way, which the finding does not call a race.
func TestFindingsRaceOrClients(t *testing.T) {
	const curlReq = "GET /orders HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/8.5.0\r\n\r\n"
	for _, tc := range []struct {
		name      string
		curl      bool // every other request is curl's, closed by curl
		want, not string
	}{
		{"one client", false, "(both sides hold many: the client and the server race to close)", "different ways"},
		{"two clients", true, "(both sides hold many: they race to close, or its clients close in different ways)", "the client and the server race"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			storm(e, 20, reqClose, respClose, func(i int) int {
				if tc.curl {
					return 1 // Go's requests: the server closes
				}
				return i % 2 // one client whose closes race the server's
			}, 0)
			if tc.curl {
				for i := range 20 {
					f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(41000+i)), srv, 1000)
					f.at(time.Second + time.Duration(i)*20*time.Millisecond).handshake()
					f.data(0, []byte(curlReq))
					f.data(1, []byte(respPlain))
					f.send(0, false, true, true, false, 0)
					f.send(1, false, true, true, false, 0)
					f.send(0, false, true, false, false, 0)
				}
			}
			r := e.Report(false)
			if p := r.Pairs[0]; p.ClientTimeWaitPeak == 0 || p.ServerTimeWaitPeak == 0 {
				t.Fatalf("TIME_WAIT peaks: client %d server %d", p.ClientTimeWaitPeak, p.ServerTimeWaitPeak)
			}
			checkOneFinding(t, r.Findings, []string{tc.want}, []string{tc.not})
		})
	}
}

// TestFindingsClientOpensBesideIdleConnections: a new Transport per
// request, each closing its connection after 1 s idle (IdleConnTimeout),
// a request every 300 ms. Connections close all along, so most begin
// after a close, but each begins while others sit idle: the client may
// not reuse them, and an idle timeout alone is not the diagnosis (the
// same traffic comes from workers with a Transport each).
func TestFindingsClientOpensBesideIdleConnections(t *testing.T) {
	e := New(Config{})
	var flows []*flow
	for i := range 33 {
		// Connection i opens at i*300 ms; connection i-3, opened 900
		// ms before, closes 110 ms later, 1.01 s after its response.
		start := time.Duration(i) * 300 * time.Millisecond
		if i < 30 {
			f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
			f.at(start).handshake()
			f.data(0, []byte(reqPlain))
			f.data(1, []byte(respPlain))
			f.send(0, false, true, false, false, 0)
			flows = append(flows, f)
		}
		if i >= 3 {
			f := flows[i-3]
			f.at(start + 110*time.Millisecond)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, false, false, 0)
		}
	}
	r := e.Report(false)
	if m := r.Pairs[0].MedianIdleBeforeClientClose; m == nil || *m < 0.99 || *m > 1.02 {
		t.Errorf("median idle before the client's close %v, want 1 s", m)
	}
	checkOneFinding(t, r.Findings, []string{"The client closes 30 of them itself, after they were idle for 1.0 s",
		"began 29 of its 30 connections while others of its own", "new http.Client or Transport per request",
		"IdleConnTimeout", "Share one http.Client/Transport"}, []string{"so each request finds no idle connection"})
}

// TestFindingsServerClosesUnusedConnections: a new Transport per request,
// a request every 100 ms, against a server whose idle timeout (1 s)
// closes each connection the client leaves idle. The server closes, idle,
// but each connection began beside ten others of the client's own: the
// client does not reuse them, and a longer server timeout would change
// nothing but who holds TIME_WAIT. A client that pauses longer than the
// server's timeout, one connection at a time, is still told of the
// server's idle timeout; over HTTP/2 too, where Go's server sends GOAWAY
// at its timeout and closes a second later, so that the client's next
// connection begins beside the one going away.
func TestFindingsServerClosesUnusedConnections(t *testing.T) {
	perRequest := []string{"but the client began 29 of its 30 connections while others of its own",
		"new http.Client or Transport per request", "The fix belongs to the client.", "reuse one http.Client/Transport",
		"only decides which side holds the TIME_WAIT sockets"}
	sequential := []string{": its idle timeout (http.Server.IdleTimeout", "raise the server's idle timeout above the client's request interval"}
	for _, tc := range []struct {
		name      string
		h2        bool
		every     time.Duration // between new connections
		want, not []string
	}{
		{"a Transport per request", false, 100 * time.Millisecond,
			append([]string{"The server closes connections idle for 1.0 s (median), but"}, perRequest...), sequential},
		{"one connection at a time", false, 1500 * time.Millisecond,
			append([]string{"The server closes connections idle for 1.0 s (median):"}, sequential...), perRequest},
		{"a Transport per request, HTTP/2", true, 100 * time.Millisecond,
			append([]string{"idle for 1.0 s (median, from the last data to its GOAWAY), but"}, perRequest...), sequential},
		{"the next connection beside one going away, HTTP/2", true, 1500 * time.Millisecond,
			append([]string{"idle for 1.0 s (median, from the last data to its GOAWAY):"}, sequential...), perRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			// Connection i opens at i*every. 1 s after its response, the
			// server closes it, or over HTTP/2 sends GOAWAY and closes 1 s
			// later; each step in time order with the others'.
			type step struct {
				at    time.Duration
				f     *flow
				close bool
			}
			var steps []step
			run := func(until time.Duration) {
				slices.SortStableFunc(steps, func(a, b step) int { return int(a.at - b.at) })
				for len(steps) > 0 && steps[0].at <= until {
					sp := steps[0]
					steps = steps[1:]
					sp.f.at(sp.at)
					if !sp.close {
						sp.f.data(1, h2GoAway)
						continue
					}
					sp.f.send(1, false, true, true, false, 0)
					sp.f.send(0, false, true, true, false, 0)
					sp.f.send(1, false, true, false, false, 0)
				}
			}
			for i := range 30 {
				start := time.Duration(i) * tc.every
				run(start)
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(start)
				if tc.h2 {
					h2Start(f)
				} else {
					f.handshake()
					f.data(0, []byte(reqPlain))
					f.data(1, []byte(respPlain))
				}
				f.send(0, false, true, false, false, 0)
				idle := f.t.Sub(t0) + time.Second
				if tc.h2 {
					steps = append(steps, step{idle, f, false}, step{idle + time.Second, f, true})
				} else {
					steps = append(steps, step{idle, f, true})
				}
			}
			run(time.Hour)
			r := e.Report(false)
			if p := r.Pairs[0]; p.Closers["server"] != 30 || p.OneRequest != 30 {
				t.Fatalf("closers %v, one-request connections %d", p.Closers, p.OneRequest)
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}

// h2CallWith is a gRPC client's first segment after its preface: the
// HEADERS of a call on stream 1 with User-Agent ua (none if empty), and
// its one DATA frame.
func h2CallWith(ua string) []byte {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/grpc.health.v1.Health/Check"}, {Name: ":authority", Value: "x"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "user-agent", Value: ua}} {
		if f.Value != "" {
			enc.WriteField(f)
		}
	}
	return h2Frames(func(fr *http2.Framer) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true})
		fr.WriteData(1, true, make([]byte, 5))
	}, false)
}

// TestFindingsClientLibrary: a client that makes a connection per request
// is told how to reuse one in the terms of the library that most of its
// requests' User-Agents name, over HTTP/1.1 and HTTP/2, and a gRPC
// client not of keep-alive (gRPC's keepalive is pings); gRPC calls that
// no one library made most of (grpc-java, a mix, none named), in the
// terms of gRPC's libraries; another client, or none named, in general
// terms, then Go's.
func TestFindingsClientLibrary(t *testing.T) {
	const (
		goUA     = "Go-http-client/1.1"
		grpcGo   = "grpc-go/1.85.0"
		grpcPy   = "grpc-python/1.51.1 grpc-c/29.0.0 (linux; chttp2)"
		grpcRuby = "grpc-ruby/1.60.0 grpc-c/37.0.0 (linux; chttp2)"
		curl     = "curl/8.5.0"
	)
	goFix := []string{"In Go: do not set Transport.DisableKeepAlives", "MaxIdleConnsPerHost"}
	grpcGoFix := []string{"new grpc.ClientConn per call", "create one grpc.ClientConn (grpc.NewClient)", "do not Close it after each call"}
	coreFix := []string{"new channel per call", "create one channel (Python: grpc.insecure_channel or grpc.secure_channel)"}
	generic := []string{"new client per request", "Keep keep-alive on and share one client (one connection pool) among all requests. In Go:"}
	// gRPC calls that no one library made most of: advice for gRPC's
	// libraries, none of it about keep-alive (gRPC's are pings).
	grpcAny := []string{"it does not reuse its connections (a new channel or ClientConn per call)",
		"Create one channel per server and share it among all calls", "grpc.NewClient", "grpc.insecure_channel", "one ManagedChannel"}
	notHTTP := []string{"http.Client", "MaxIdleConnsPerHost", "keep-alive"}
	cat := func(l ...[]string) []string { return slices.Concat(l...) }
	for _, tc := range []struct {
		name      string
		h2        bool
		close     bool // the requests ask for Connection: close
		ua        func(i int) string
		want, not []string
	}{
		{"Go net/http", false, false, func(int) string { return goUA }, cat(goFix, []string{"new http.Client or Transport per request"}),
			[]string{"grpc", "Keep keep-alive on", "channel"}},
		{"grpc-go", true, false, func(int) string { return grpcGo }, grpcGoFix, cat(notHTTP, []string{"channel"})},
		{"grpc-python", true, false, func(int) string { return grpcPy }, coreFix, cat(notHTTP, []string{"ClientConn"})},
		{"grpc-ruby", true, false, func(int) string { return grpcRuby }, coreFix, cat(notHTTP, []string{"ClientConn"})},
		{"grpc-java", true, false, func(int) string { return "grpc-java-netty/1.60.0" }, grpcAny, notHTTP},
		{"half grpc-go, half grpc-python", true, false, func(i int) string { return map[bool]string{true: grpcPy, false: grpcGo}[i%2 == 0] },
			grpcAny, notHTTP},
		{"gRPC without a User-Agent", true, false, func(int) string { return "" }, grpcAny, notHTTP},
		{"grpc-go behind an application's token", true, false, func(int) string { return "billing/2.1 " + grpcGo }, grpcGoFix, []string{"http.Client"}},
		{"mostly grpc-go", true, false, func(i int) string { return map[bool]string{true: goUA, false: grpcGo}[i%3 == 0] }, grpcGoFix, []string{"http.Client"}},
		{"curl", false, false, func(int) string { return curl }, cat(generic, goFix), []string{"grpc", "channel"}},
		{"Python requests", false, false, func(int) string { return "python-requests/2.28.1" },
			[]string{"requests.get and the like without a Session", "make one requests.Session"}, []string{"grpc", "In Go", "Keep keep-alive on"}},
		{"no User-Agent", false, false, func(int) string { return "" }, cat(generic, goFix), []string{"grpc", "channel"}},
		{"half Go, half grpc-go, HTTP/1.1", false, false, func(i int) string { return map[bool]string{true: goUA, false: grpcGo}[i%2 == 0] },
			cat(generic, goFix), []string{"grpc.NewClient"}},
		{"Connection: close from curl", false, true, func(int) string { return curl },
			cat([]string{"\"Connection: close\" (12 of 12), so the fix belongs to the client. Keep keep-alive on"}, goFix), []string{"grpc"}},
		{"Connection: close from Go", false, true, func(int) string { return goUA },
			cat([]string{"so the fix belongs to the client. In Go:"}, goFix), []string{"Keep keep-alive on"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 12 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 100 * time.Millisecond).handshake()
				ua := tc.ua(i)
				if tc.h2 {
					f.data(0, h2Preface)
					f.data(1, h2Settings)
					f.data(0, h2CallWith(ua))
					f.data(1, h2Response)
				} else {
					req := "GET /orders HTTP/1.1\r\nHost: x\r\n"
					if ua != "" {
						req += "User-Agent: " + ua + "\r\n"
					}
					if tc.close {
						req += "Connection: close\r\n"
					}
					f.data(0, []byte(req+"\r\n"))
					f.data(1, []byte(respPlain))
				}
				f.send(0, false, true, false, false, 0)
				f.t = f.t.Add(5 * time.Millisecond)
				f.send(0, false, true, true, false, 0)
				f.send(1, false, true, true, false, 0)
				f.send(0, false, true, false, false, 0)
			}
			r := e.Report(false)
			if p := r.Pairs[0]; p.OneRequest != 12 || p.Closers["client"] != 12 {
				t.Fatalf("one-request connections %d, closers %v", p.OneRequest, p.Closers)
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}

// TestFindingsFleetToOneServer: 20 clients, 8 one-request connections
// each to one server whose responses say "Connection: close". No pair
// has the 10 connections of a finding of its own, but the server holds
// 160 TIME_WAIT sockets: the finding is the server's, over its clients.
// A client with enough connections of its own keeps its finding, and its
// connections are not counted again in the server's.
func TestFindingsFleetToOneServer(t *testing.T) {
	for _, big := range []bool{false, true} {
		e := New(Config{})
		for c := range 20 {
			client := netip.AddrFrom4([4]byte{10, 0, 1, byte(c + 1)})
			n := 8
			if big && c == 0 {
				n = 30
			}
			for i := range n {
				f := newFlow(e, netip.AddrPortFrom(client, uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i)*100*time.Millisecond + time.Duration(c)*time.Millisecond).handshake()
				f.data(0, []byte(reqPlain))
				f.data(1, []byte(respClose))
				f.send(0, false, true, false, false, 0)
				f.send(1, false, true, true, false, 0)
				f.send(0, false, true, true, false, 0)
				f.send(1, false, true, false, false, 0)
			}
		}
		r := e.Report(false)
		if !big {
			checkOneFinding(t, r.Findings, []string{"20 clients (10.0.1.1, 10.0.1.2, 10.0.1.3 and 17 more) -> 10.0.0.2:80: ",
				"single request (160 of 160)", "the server 10.0.0.2:80 holds 160 (peak; it closed 160 first)",
				"The server's responses say \"Connection: close\" (160 of 160)", "fix belongs to the server"},
				[]string{"the clients hold"})
			continue
		}
		if len(r.Findings) != 2 || !strings.HasPrefix(r.Findings[0], "10.0.1.1 -> 10.0.0.2:80: ") ||
			!strings.HasPrefix(r.Findings[1], "19 clients (10.0.1.2, 10.0.1.3, 10.0.1.4 and 16 more) -> 10.0.0.2:80: ") ||
			!strings.Contains(r.Findings[1], "(152 of 152)") {
			t.Errorf("findings with a client of 30 connections:\n%s", strings.Join(r.Findings, "\n"))
		}
	}
}

// TestFindingsClientClosesAfterRoundTrip: captured near the server, a
// client without keep-alive closes a round trip (here 250 ms) after the
// response it waited for; the handshake took as long, and the close is
// not taken for the client's idle timeout.
func TestFindingsClientClosesAfterRoundTrip(t *testing.T) {
	const rtt = 250 * time.Millisecond
	e := New(Config{})
	for i := range 20 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * time.Second)
		f.send(0, true, false, false, false, 0)
		f.send(1, true, true, false, false, 0)
		f.t = f.t.Add(rtt)
		f.send(0, false, true, false, false, 0)
		f.data(0, []byte(reqPlain))
		f.data(1, []byte(respPlain))
		f.t = f.t.Add(rtt + 10*time.Millisecond)
		f.send(0, false, true, true, false, 0)
		f.send(1, false, true, true, false, 0)
		f.t = f.t.Add(rtt)
		f.send(0, false, true, false, false, 0)
	}
	r := e.Report(false)
	checkOneFinding(t, r.Findings, []string{"The client closes 20 of them itself: keep-alive is off", "new http.Client or Transport per request"},
		[]string{"IdleConnTimeout", "idle for"})
}

// TestFindingsWorkersShareOneClient: two workers share one client
// against a server whose idle timeout (1 s) is shorter than their pause
// (1.5 s). Each round, the second worker's connection begins while the
// first's is busy (in its handshake, or waiting for its response): the
// client could not have used it, and it reuses what it can. The finding
// is the server's idle timeout, not a connection per request.
func TestFindingsWorkersShareOneClient(t *testing.T) {
	e := New(Config{})
	port := uint16(40000)
	for round := range 10 {
		start := time.Duration(round) * 1500 * time.Millisecond
		var fs [2]*flow
		for w := range fs {
			fs[w] = newFlow(e, netip.AddrPortFrom(cli.Addr(), port), srv, 1000)
			port++
			fs[w].at(start + time.Duration(w)*time.Millisecond).handshake()
			fs[w].data(0, []byte(reqPlain))
		}
		for w, f := range fs {
			f.at(start+time.Duration(3+w)*time.Millisecond).data(1, []byte(respPlain))
			f.send(0, false, true, false, false, 0)
		}
		for w, f := range fs {
			f.at(start + time.Second + time.Duration(3+w)*time.Millisecond)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, false, false, 0)
		}
	}
	r := e.Report(false)
	if p := r.Pairs[0]; p.Closers["server"] != 20 || p.beside != 0 {
		t.Fatalf("closers %v, begun beside an idle connection %d", p.Closers, p.beside)
	}
	checkOneFinding(t, r.Findings, []string{"The server closes connections idle for 1.0 s (median): its idle timeout (http.Server.IdleTimeout"},
		[]string{"new connection per request", "fix belongs to the client"})
}

// TestPairsPastMaxPairs: past Config.MaxPairs, the connections of new
// client -> server pairs are counted together, in one pair of other
// clients and its host of other hosts, with a warning and no finding
// of their own: a SYN flood from random addresses made a pair of every
// SYN (800 octets each, and a report line). Connections whose handshake
// completes get pairs of their own, MaxPairs more at most: here those of
// 3 of the 5 clients past the first 3.
func TestPairsPastMaxPairs(t *testing.T) {
	e := New(Config{MaxPairs: 3})
	for c := range 8 {
		client := netip.AddrFrom4([4]byte{10, 0, 1, byte(c + 1)})
		for i := range 12 {
			f := newFlow(e, netip.AddrPortFrom(client, uint16(40000+i)), srv, 1000)
			f.at(time.Duration(i)*100*time.Millisecond + time.Duration(c)*time.Millisecond).handshake()
			f.data(0, []byte(reqPlain))
			f.data(1, []byte(respClose))
			f.send(0, false, true, false, false, 0)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, false, false, 0)
		}
	}
	if len(e.pairList) != 7 || len(e.pairs) != 6 {
		t.Fatalf("%d pairs in the list, %d in the map; want 7 and 6", len(e.pairList), len(e.pairs))
	}
	r := e.Report(false)
	var others *PairReport
	for i := range r.Pairs {
		if r.Pairs[i].Client == "other clients" {
			others = &r.Pairs[i]
		}
	}
	if others == nil || others.Server != "other servers" || others.Connections != 2*12 || len(r.Pairs) != 7 {
		t.Fatalf("pairs %+v", r.Pairs)
	}
	if len(r.Findings) != 6 {
		t.Errorf("want the 6 pairs' findings only:\n%s", strings.Join(r.Findings, "\n"))
	}
	for _, f := range r.Findings {
		if strings.Contains(f, "other") {
			t.Errorf("finding of the other pairs: %s", f)
		}
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "More than 3 client -> server pairs") ||
		!strings.Contains(r.Warnings[0], "the 24 connections of the later ones are counted together as other clients -> other servers") {
		t.Errorf("warnings %q", r.Warnings)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	if !strings.Contains(b.String(), "  other clients -> other servers: 24 conns") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestTextReportListsTheBusiestPairs: the text report lists the
// maxTextPairs busiest pairs, and says how many more the JSON has.
func TestTextReportListsTheBusiestPairs(t *testing.T) {
	r := &Report{}
	for i := range maxTextPairs + 5 {
		r.Pairs = append(r.Pairs, PairReport{Client: fmt.Sprintf("c%d", i), Server: "s:1", Connections: maxTextPairs + 5 - i})
	}
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	if !strings.Contains(out, fmt.Sprintf("  c%d -> s:1: ", maxTextPairs-1)) || strings.Contains(out, fmt.Sprintf("  c%d -> ", maxTextPairs)) ||
		!strings.Contains(out, "  ... and 5 more pairs with fewer connections (--json lists every pair)\n") {
		t.Errorf("report:\n%s", out)
	}
}

// tlsHello is the start of a TLS ClientHello, as far as the engine reads
// it: a handshake record.
var tlsHello = []byte{0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00}

// tlsRecord is a record of application data (or of TLS 1.3's encrypted
// handshake), longer than an alert.
var tlsRecord = append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 64)...)

// TestFindingsTLSNoTimeWaitLeft: short TLS connections that the server
// closes, each ended by the server's RST in answer to the client's
// close_notify: neither side holds TIME_WAIT, and the finding says so.
func TestFindingsTLSNoTimeWaitLeft(t *testing.T) {
	e := New(Config{})
	for i := range 20 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
		f.data(0, tlsHello)
		f.data(1, []byte{0x16, 0x03, 0x03, 0x00, 0x01, 0x02})
		f.data(0, tlsRecord) // the client's Finished and request
		f.send(1, false, true, true, false, 0)
		f.data(0, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00})
		f.send(1, false, false, false, true, 0)
	}
	r := e.Report(false)
	p := r.Pairs[0]
	if p.TLS != 20 || p.RSTAfterFIN != 20 || p.ServerTimeWaitEntered != 0 || p.ClientTimeWaitEntered != 0 || p.PredictedTimeWait != 0 {
		t.Fatalf("pair %+v", p)
	}
	checkOneFinding(t, r.Findings, []string{"are TLS (20 of 20)", "TIME_WAIT: neither side held any: RSTs ended 20 of the connections after their FIN. ",
		"The server closes most of them (20 of 20)"}, []string{"TIME_WAIT: ."})
}

// TestTextReportListsTheBusiestHosts: the text report lists the
// maxTextPairs hosts that held the most TIME_WAIT sockets, and of each
// as many servers.
func TestTextReportListsTheBusiestHosts(t *testing.T) {
	r := &Report{}
	for i := range maxTextPairs + 3 {
		h := HostReport{Address: fmt.Sprintf("h%d", i), Peak: maxTextPairs + 3 - i}
		if i == 0 {
			for j := range maxTextPairs + 2 {
				h.Ports = append(h.Ports, PortUsage{Server: fmt.Sprintf("s%d:1", j), RangeSize: 10})
			}
		}
		r.Hosts = append(r.Hosts, h)
	}
	var b bytes.Buffer
	r.WriteText(&b)
	out := b.String()
	if !strings.Contains(out, fmt.Sprintf("  h%d ", maxTextPairs-1)) || strings.Contains(out, fmt.Sprintf("  h%d ", maxTextPairs)) ||
		!strings.Contains(out, "  ... and 3 more hosts with fewer TIME_WAIT sockets (--json lists every host)\n") ||
		!strings.Contains(out, fmt.Sprintf("    -> s%d:1 ", maxTextPairs-1)) || strings.Contains(out, fmt.Sprintf("    -> s%d:1 ", maxTextPairs)) ||
		!strings.Contains(out, "    ... and 2 more servers (--json lists every one)\n") {
		t.Errorf("report:\n%s", out)
	}
}

// TestFindingsTLSOneSideHoldsMost: over TLS, RSTs end most sockets of
// the side that closes first; the client, which closed a third of the
// connections, holds one TIME_WAIT socket and the server eight: both
// hold some, but only the server many.
func TestFindingsTLSOneSideHoldsMost(t *testing.T) {
	e := New(Config{})
	for i := range 30 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
		f.data(0, tlsHello)
		f.data(1, []byte{0x16, 0x03, 0x03, 0x00, 0x01, 0x02})
		f.data(0, tlsRecord) // the client's Finished and request
		switch {
		case i < 12: // the server closes; the client's close_notify meets its RST
			f.send(1, false, true, true, false, 0)
			f.data(0, []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00})
			f.send(1, false, false, false, true, 0)
		case i < 20: // the server closes, and holds TIME_WAIT
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, false, false, 0)
		case i < 29: // the client closes, and the server's RST ends its socket
			f.send(0, false, true, true, false, 0)
			f.send(1, false, false, false, true, 0)
		default: // the client closes, and holds TIME_WAIT
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, false, false, 0)
		}
	}
	r := e.Report(false)
	p := r.Pairs[0]
	if p.ClientTimeWaitEntered != 1 || p.ServerTimeWaitEntered != 8 || p.Closers["client"] != 10 || p.Closers["server"] != 20 {
		t.Fatalf("pair %+v", p)
	}
	checkOneFinding(t, r.Findings, []string{"the server 10.0.0.2:80 holds 8", "the client 10.0.0.1 holds 1"}, []string{"both sides hold many"})
}

// TestFindingsTLSClientCloseNotify: a server that closes at once when
// the client's close_notify comes (nginx does) sends the first FIN, but
// the client ended the connection: the finding says so. A server that
// sent its own close_notify first began the close itself.
func TestFindingsTLSClientCloseNotify(t *testing.T) {
	alert12 := []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00}                  // TLS 1.2: an alert record
	alert13 := append([]byte{0x17, 0x03, 0x03, 0x00, 0x13}, make([]byte, 19)...) // TLS 1.3: 19 octets of application data
	reply := append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 64)...)
	for _, tc := range []struct {
		name        string
		serverFirst bool // the server sends its close_notify before the client's
		alert       []byte
		want, not   []string
	}{
		{"TLS 1.2, the client's close_notify", false, alert12,
			[]string{"The server sends the first FIN of most of them (20 of 20), but 20 of those answer the client's TLS close_notify",
				"the fix belongs to the client"}, []string{"keep-alive is off in the server"}},
		{"TLS 1.3, the client's close_notify", false, alert13,
			[]string{"but 20 of those answer the client's TLS close_notify"}, []string{"keep-alive is off in the server"}},
		{"the server's close_notify first", true, alert13,
			[]string{"The server closes most of them (20 of 20): keep-alive is off in the server"}, []string{"close_notify, which came"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 20 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
				f.data(0, tlsHello)
				f.data(1, append(append([]byte(nil), reply...), reply...))
				f.data(0, tlsRecord) // the client's Finished and request
				f.data(1, reply)     // the response
				if tc.serverFirst {
					f.data(1, tc.alert)
				}
				f.data(0, tc.alert)
				f.send(1, false, true, true, false, 0)
				f.send(0, false, true, true, false, 0)
				f.send(1, false, true, false, false, 0)
			}
			checkOneFinding(t, e.Report(false).Findings, tc.want, tc.not)
		})
	}
}

// TestFloodDoesNotHideAStorm: SYNs from spoofed addresses, which never
// complete their handshake, fill MaxPairs; a client that comes after
// them, with short connections whose handshakes complete, gets a pair
// of its own and its finding, not a place among the other clients.
func TestFloodDoesNotHideAStorm(t *testing.T) {
	e := New(Config{MaxPairs: 3})
	for c := range 10 {
		f := newFlow(e, netip.AddrPortFrom(netip.AddrFrom4([4]byte{100, 64, 0, byte(c + 1)}), 40000), srv, 1000)
		f.at(time.Duration(c)*time.Millisecond).send(0, true, false, false, false, 0)
	}
	storm(e, 12, reqPlain, respClose, func(int) int { return 1 }, 0)
	if len(e.pairList) != 5 || e.others == nil || e.others.conns != 7 {
		t.Fatalf("%d pairs, the other clients' with %d connections; want 5 and 7", len(e.pairList), e.others.conns)
	}
	r := e.Report(false)
	checkOneFinding(t, r.Findings, []string{cli.Addr().String() + " -> " + srv.String() + ": 100% of the connections carry a single request (12 of 12)"}, nil)
}

// TestFindingsTLSReusedConnections: short TLS connections that each carry
// many requests (a keep-alive client's batch) are reuse, not a connection
// per request: the turns the client takes to send show it, and no
// finding is made of them; one request each (TLS 1.2: the handshake's
// two turns and the request's) gets one.
func TestFindingsTLSReusedConnections(t *testing.T) {
	record := append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 64)...)
	for _, requests := range []int{1, 8} {
		e := New(Config{})
		for i := range 20 {
			f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
			f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
			f.data(0, tlsHello)
			f.data(1, record) // the server's flight
			f.data(0, record) // the client's Finished
			f.data(1, record) // the server's Finished
			for range requests {
				f.data(0, record)
				f.data(1, record)
			}
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, false, false, 0)
		}
		r := e.Report(false)
		tls := false
		for _, f := range r.Findings {
			tls = tls || strings.Contains(f, "are TLS (20 of 20)")
		}
		if tls != (requests == 1) {
			t.Errorf("%d requests a connection: findings %q", requests, r.Findings)
		}
	}
}

// TestFindingsTLSSlowResponses: TLS connections of one request each that
// last 2 s, as a slow server's responses make them, are a connection per
// request when the side that closes does so right after the response,
// and are closed by its idle timeout when it waits first: the finding
// says which. The close_notify that goes before the FIN is the close,
// not data.
func TestFindingsTLSSlowResponses(t *testing.T) {
	alert := append([]byte{0x17, 0x03, 0x03, 0x00, 0x13}, make([]byte, 19)...) // a TLS 1.3 close_notify
	record := append([]byte{0x17, 0x03, 0x03, 0x00, 0x40}, make([]byte, 64)...)
	const (
		tls     = "are TLS (20 of 20), whose requests the capture cannot show, "
		atOnce  = tls + "and each is closed as soon as its exchange ends: 0.000 s (median) from the last data to the close, after 2.000 s from the SYN"
		fewReqs = tls + "of a request or two each (the client's turns to send)"
	)
	for _, tc := range []struct {
		name      string
		slow      time.Duration // from the request to the response
		closer    int           // 0 client, 1 server
		idle      time.Duration // from the response to the closer's close_notify; -1: sent with it; -2: after a 2-octet body
		answer    bool          // the server's FIN answers the client's close_notify at once
		want, not []string      // want nil: no finding
	}{
		{"the server closes at once", 2 * time.Second, 1, 0, false, []string{atOnce, "The server closes most of them (20 of 20)"}, nil},
		// The close_notify in the response's segment: the response is
		// the last data.
		{"the server closes with the response", 2 * time.Second, 1, -1, false, []string{atOnce, "The server closes most of them (20 of 20)"}, nil},
		{"the client closes at once", 2 * time.Second, 0, 0, false, []string{atOnce, "The client closes 20 of them itself: keep-alive is off"}, nil},
		{"the server's idle timeout", 2 * time.Second, 1, 500 * time.Millisecond, false,
			[]string{fewReqs, "The server closes connections idle for 0.5 s (median): its idle timeout"}, []string{"as soon as"}},
		{"the client's idle timeout", 2 * time.Second, 0, 500 * time.Millisecond, false,
			[]string{fewReqs, "The client closes 20 of them itself, after they were idle for 0.5 s"}, []string{"as soon as"}},
		// The response's body, 2 octets, in a record of its own after the
		// headers: the size of a TLS 1.3 alert, but data, as the
		// close_notify after it shows.
		{"the server closes after a 2-octet body", 2 * time.Second, 1, -2, false, []string{atOnce, "The server closes most of them (20 of 20)"}, nil},
		// Short, but idle before the close: a timeout too.
		{"short, the server's idle timeout", 0, 1, 500 * time.Millisecond, false,
			[]string{fewReqs, "The server closes connections idle for 0.5 s (median): its idle timeout"}, []string{"and short"}},
		// The server's FIN answers the client's close_notify: the idle
		// is the client's, which its FIN does not show.
		{"the client's close_notify after an idle", 2 * time.Second, 0, 500 * time.Millisecond, true, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 20 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
				f.data(0, tlsHello)
				f.data(1, record) // the server's flight
				f.data(0, record) // the client's Finished and its request
				f.t = f.t.Add(tc.slow)
				switch {
				case tc.idle == -2:
					f.data(1, alert) // the body: 2 octets, as long as an alert
					f.data(1, alert) // the close_notify
				case tc.idle < 0:
					f.data(1, slices.Concat(record, alert)) // the response and the close_notify
				default:
					f.data(1, record) // the response
					f.t = f.t.Add(tc.idle)
					f.data(tc.closer, alert)
				}
				first := tc.closer
				if tc.answer {
					first = 1
				}
				f.send(first, false, true, true, false, 0)
				f.send(1-first, false, true, true, false, 0)
				f.send(first, false, true, false, false, 0)
			}
			r := e.Report(false)
			if p := r.Pairs[0]; p.TLS != 20 || p.MedianLifetime == nil || *p.MedianLifetime < tc.slow.Seconds() {
				t.Fatalf("pair %+v", p)
			}
			if tc.want == nil {
				if len(r.Findings) != 0 {
					t.Fatalf("findings %q", r.Findings)
				}
				return
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}

// TestFindingsTLSHandshakesFailed: TLS connections whose client sends
// nothing after its ClientHello but an alert (curl that does not trust
// the server's certificate) carried no request: the finding says the
// handshakes failed, not that keep-alive is off. One turn more, the
// client's Finished and request, makes them connections per request.
func TestFindingsTLSHandshakesFailed(t *testing.T) {
	fatal12 := []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x30}                  // TLS 1.2: a fatal unknown_ca alert
	alert13 := append([]byte{0x17, 0x03, 0x03, 0x00, 0x13}, make([]byte, 19)...) // TLS 1.3: encrypted
	for _, tc := range []struct {
		name      string
		alert     []byte
		request   bool
		want, not []string
	}{
		{"TLS 1.2", fatal12, false, []string{"are TLS handshakes that failed (20 of 20)", "Fix the TLS setup"}, []string{"keep-alive"}},
		{"TLS 1.3", alert13, false, []string{"are TLS handshakes that failed (20 of 20)", "Fix the TLS setup"}, []string{"keep-alive"}},
		{"a request", alert13, true, []string{"are TLS (20 of 20)", "keep-alive is off"}, []string{"failed"}},
		// After a HelloRetryRequest the client sends its ClientHello
		// again: no turn of the handshake's past the first.
		{"TLS 1.3 after a HelloRetryRequest", alert13, false, []string{"are TLS handshakes that failed (20 of 20)"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			for i := range 20 {
				f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
				f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
				f.data(0, tlsHello)
				f.data(1, tlsRecord) // the server's flight
				if strings.Contains(tc.name, "HelloRetryRequest") {
					f.data(0, slices.Concat([]byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01}, tlsHello)) // ChangeCipherSpec, the second ClientHello
					f.data(1, tlsRecord)
				}
				if tc.request {
					f.data(0, tlsRecord)
					f.data(1, tlsRecord)
				}
				f.data(0, tc.alert)
				f.send(0, false, true, true, false, 0)
				f.send(1, false, true, true, false, 0)
				f.send(0, false, true, false, false, 0)
			}
			r := e.Report(false)
			if p := r.Pairs[0]; p.TLS != 20 || p.TLSHandshakesFailed != map[bool]int{false: 20, true: 0}[tc.request] {
				t.Fatalf("pair %+v", p)
			}
			checkOneFinding(t, r.Findings, tc.want, tc.not)
		})
	}
}

// TestFindingsTLSH2IdleUnknown: over HTTP/2 an idle timeout's GOAWAY is
// encrypted data right before the close, so a close at once after the
// last data tells nothing when the clients offered h2: slow connections
// closed so get no finding; short ones still do.
func TestFindingsTLSH2IdleUnknown(t *testing.T) {
	for _, slow := range []time.Duration{0, 2 * time.Second} {
		e := New(Config{})
		for i := range 20 {
			f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
			f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
			f.data(0, clientHello("h2", "http/1.1"))
			f.data(1, tlsRecord) // the server's flight
			f.data(0, tlsRecord) // the client's Finished and request
			f.t = f.t.Add(slow)
			f.data(1, tlsRecord)                   // the response, or a GOAWAY
			f.send(0, false, true, true, false, 0) // the client closes
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, false, false, 0)
		}
		r := e.Report(false)
		if slow == 0 {
			checkOneFinding(t, r.Findings, []string{"are TLS (20 of 20)", "and short", "or per batch of requests sent at once over HTTP/2"}, nil)
		} else if len(r.Findings) != 0 {
			t.Errorf("slow: findings %q", r.Findings)
		}
	}
}

// TestFindingsTLSWithoutRequest: TLS connections whose client sends its
// Finished and then only an alert (curl that finds the server's name
// wrong once the handshake is done, or a health check of TLS alone)
// carried no request: the finding says so, not that keep-alive is off.
func TestFindingsTLSWithoutRequest(t *testing.T) {
	finished := slices.Concat([]byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03, 0x03, 0x00, 0x35}, make([]byte, 53))
	alert13 := append([]byte{0x17, 0x03, 0x03, 0x00, 0x13}, make([]byte, 19)...)
	for _, request := range []bool{false, true} {
		e := New(Config{})
		for i := range 20 {
			f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
			f.at(time.Duration(i) * 50 * time.Millisecond).handshake()
			f.data(0, tlsHello)
			f.data(1, tlsRecord) // the server's flight
			f.data(0, finished)
			f.data(1, tlsRecord) // session tickets
			if request {
				f.data(0, tlsRecord)
				f.data(1, tlsRecord)
			}
			f.data(0, alert13)
			f.send(0, false, true, true, false, 0)
			f.send(1, false, true, true, false, 0)
			f.send(0, false, true, false, false, 0)
		}
		r := e.Report(false)
		if p := r.Pairs[0]; p.TLS != 20 || p.TLSHandshakesFailed != 0 || (p.TLSWithoutRequest == 20) == request {
			t.Fatalf("request %v: pair %+v", request, p)
		}
		if request {
			checkOneFinding(t, r.Findings, []string{"are TLS (20 of 20)", "keep-alive is off"}, []string{"no request"})
		} else {
			checkOneFinding(t, r.Findings, []string{"are TLS connections that carried no request (20 of 20)", "health checks"}, []string{"keep-alive"})
		}
	}
}
