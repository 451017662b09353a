package tcptw

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
	t0  = time.Unix(1_700_000_000, 0)
)

// flow scripts one connection's segments, tracking sequence numbers.
type flow struct {
	e       *Engine
	t       time.Time
	seq     [2]uint32
	ts      [2]uint32
	ep      [2]netip.AddrPort
	noTS    bool
	lastSeg tcpdecode.Segment // what send sent last, for again
}

func newFlow(e *Engine, c, s netip.AddrPort, isn uint32) *flow {
	return &flow{e: e, t: t0, ep: [2]netip.AddrPort{c, s}, seq: [2]uint32{isn, 900000}, ts: [2]uint32{1000, 5000}}
}

func (f *flow) at(d time.Duration) *flow { f.t = t0.Add(d); return f }

// send sends from side d (0 client, 1 server).
func (f *flow) send(d int, syn, ack, fin, rst bool, n int) Verdict {
	o := 1 - d
	s := tcpdecode.Segment{Src: f.ep[d], Dst: f.ep[o], Seq: f.seq[d], Ack: f.seq[o], SYN: syn, ACK: ack, FIN: fin, RST: rst, PayloadLen: n}
	if !f.noTS {
		f.ts[d]++
		s.HasTS, s.TSval = true, f.ts[d]
	}
	f.seq[d] += uint32(n)
	if syn || fin {
		f.seq[d]++
	}
	f.lastSeg = s
	v := *f.e.Segment(f.t, &s)
	return v
}

// again sends the last segment once more, dt later: a second copy of it
// (as -i any captures one on a veth and on a bridge) or, later, its
// retransmission.
func (f *flow) again(dt time.Duration) Verdict {
	f.t = f.t.Add(dt)
	s := f.lastSeg
	return *f.e.Segment(f.t, &s)
}

func (f *flow) handshake() {
	f.send(0, true, false, false, false, 0)
	f.send(1, true, true, false, false, 0)
	f.send(0, false, true, false, false, 0)
}

func TestClientClosesFirst(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.at(time.Second).send(0, false, true, false, false, 100)
	f.send(1, false, true, false, false, 500)
	v := f.at(2*time.Second).send(0, false, true, true, false, 0) // client FIN
	if v.Closer != CloserClient || v.Holder != cli || v.TWStarted {
		t.Fatalf("after client FIN: %+v", v)
	}
	f.send(1, false, true, true, false, 0)                                         // server FIN+ACK
	v = f.at(2*time.Second+time.Millisecond).send(0, false, true, false, false, 0) // client ACK: TIME_WAIT
	if !v.TWStarted || v.Holder != cli || v.Population != 1 || !v.TWUntil.Equal(f.t.Add(60*time.Second)) {
		t.Fatalf("final ACK: %+v", v)
	}
	if got := e.host(cli.Addr()).count; got != 1 {
		t.Fatalf("population %d", got)
	}
	// A retransmitted FIN from the server restarts the 60 s.
	f.seq[1]--
	f.at(30*time.Second).send(1, false, true, true, false, 0)
	r := e.Report(false)
	if r.Summary.Restarts != 1 {
		t.Fatalf("restarts %d", r.Summary.Restarts)
	}
	// Expiry 60 s after the restart, not after the first ACK.
	e.expire(t0.Add(89 * time.Second))
	if e.host(cli.Addr()).count != 1 {
		t.Fatal("expired before 60 s after the restart")
	}
	e.expire(t0.Add(90 * time.Second))
	if e.host(cli.Addr()).count != 0 {
		t.Fatal("not expired 60 s after the restart")
	}
}

func TestServerClosesFirstAndReuse(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.send(0, false, true, false, false, 50)
	f.send(1, false, true, true, false, 100) // server answers and closes
	f.send(0, false, true, true, false, 0)
	v := f.send(1, false, true, false, false, 0)
	if !v.TWStarted || v.Holder != srv || v.Closer != CloserServer {
		t.Fatalf("%+v", v)
	}
	// The client reuses the tuple 5 s later with a higher sequence number:
	// the server's TIME_WAIT socket accepts it (RFC 6191).
	g := newFlow(e, cli, srv, f.seq[0]+100000)
	g.ts[0] = f.ts[0] + 10
	v = g.at(5*time.Second).send(0, true, false, false, false, 0)
	if v.Reuse == nil || !v.Reuse.Accepted || v.Reuse.Since != 5*time.Second || v.Reuse.Holder != srv {
		t.Fatalf("reuse %+v", v.Reuse)
	}
	if e.host(srv.Addr()).count != 0 {
		t.Fatal("accepted reuse did not end the TIME_WAIT socket")
	}
}

func TestReuseRefused(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.noTS = true
	f.handshake()
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, false, false, 0)
	// An older sequence number and no timestamps: refused.
	g := newFlow(e, cli, srv, 10)
	g.noTS = true
	v := g.at(time.Second).send(0, true, false, false, false, 0)
	if v.Reuse == nil || v.Reuse.Accepted {
		t.Fatalf("reuse %+v", v.Reuse)
	}
	if e.host(srv.Addr()).count != 1 {
		t.Fatal("refused reuse ended the TIME_WAIT socket")
	}
}

func TestClientReusesItsOwnTimeWait(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, false, false, 0)
	g := newFlow(e, cli, srv, 5)
	v := g.at(2*time.Second).send(0, true, false, false, false, 0)
	if v.Reuse == nil || !v.Reuse.Accepted || v.Reuse.Holder != cli {
		t.Fatalf("reuse %+v", v.Reuse)
	}
	if e.host(cli.Addr()).count != 0 {
		t.Fatal("tcp_tw_reuse did not end the client's TIME_WAIT socket")
	}
}

func TestAbortiveCloseLeavesNoTimeWait(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	v := f.send(0, false, true, false, true, 0)
	if v.Closer != CloserRST || v.Holder.IsValid() {
		t.Fatalf("%+v", v)
	}
	r := e.Report(false)
	if r.Summary.TimeWaitTotal != 0 || r.Summary.Closes["rst"] != 1 {
		t.Fatalf("%+v", r.Summary)
	}
}

func TestSimultaneousClose(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	// Both FINs cross: neither acknowledges the other's FIN.
	ack1 := f.seq[1]
	f.send(0, false, true, true, false, 0)
	s := tcpdecode.Segment{Src: srv, Dst: cli, Seq: f.seq[1], Ack: f.seq[0] - 1, ACK: true, FIN: true}
	f.seq[1]++
	e.Segment(f.t, &s)
	_ = ack1
	f.send(0, false, true, false, false, 0)
	f.send(1, false, true, false, false, 0)
	r := e.Report(false)
	if r.Summary.Closes["both"] != 1 || r.Summary.TimeWaitTotal != 2 {
		t.Fatalf("%+v", r.Summary)
	}
}

func TestAssassination(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, false, false, 0)
	v := f.at(time.Second).send(1, false, false, false, true, 0) // in-window RST
	if !v.Assassinated || e.host(cli.Addr()).count != 0 {
		t.Fatalf("%+v", v)
	}
}

func TestSYNRetries(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.send(0, true, false, false, false, 0)
	f.seq[0]--
	v := f.at(time.Second).send(0, true, false, false, false, 0)
	f.seq[0]--
	v2 := f.at(3*time.Second).send(0, true, false, false, false, 0)
	if v.SynRetry != 1 || v2.SynRetry != 2 {
		t.Fatalf("retries %d %d", v.SynRetry, v2.SynRetry)
	}
}

func TestFindingsForKeepAliveOff(t *testing.T) {
	e := New(Config{})
	for i := 0; i < 50; i++ {
		c := netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
		f := newFlow(e, c, srv, 1000)
		f.at(time.Duration(i) * 100 * time.Millisecond).handshake()
		f.send(0, false, true, false, false, 0)
		f.e.conns.get(c, srv).req.clientPayload([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: probe/1\r\n\r\n"), false)
		f.send(1, false, true, false, false, 100)
		f.send(0, false, true, true, false, 0)
		f.send(1, false, true, true, false, 0)
		f.send(0, false, true, false, false, 0)
	}
	r := e.Report(false)
	if len(r.Findings) == 0 || len(r.Requests) == 0 || r.Requests[0].Label != "GET /healthz" || r.Agents[0].Label != "probe/1" {
		t.Fatalf("findings %q requests %+v agents %+v", r.Findings, r.Requests, r.Agents)
	}
	if r.Hosts[0].Address != "10.0.0.1" || r.Hosts[0].Peak != 50 {
		t.Fatalf("hosts %+v", r.Hosts)
	}
}

func TestOpenConnectionsBounded(t *testing.T) {
	e := New(Config{MaxConns: 10})
	for i := 0; i < 100; i++ {
		c := netip.AddrPortFrom(cli.Addr(), uint16(40000+i))
		f := newFlow(e, c, srv, 1)
		f.at(time.Duration(i)*time.Millisecond).send(0, true, false, false, false, 0)
	}
	if e.conns.len() > 10 || e.Report(false).Summary.Evicted == 0 {
		t.Fatalf("%d open connections tracked with a limit of 10", e.conns.len())
	}
	// The most recent survive.
	if e.conns.get(netip.AddrPortFrom(cli.Addr(), 40099), srv) == nil {
		t.Fatal("the newest connection was evicted")
	}
}

// TestNewConnectionOnAFullTable: a SYN that takes over the tuple of an
// open connection, with the table at its limit, counts that connection
// gone once: it was counted twice when the eviction picked it too.
func TestNewConnectionOnAFullTable(t *testing.T) {
	e := New(Config{MaxConns: 8})
	var first *flow
	for i := range 8 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1)
		f.at(time.Duration(i) * time.Millisecond).handshake()
		if i == 0 {
			first = f
		}
	}
	first.seq[0] += 1 << 30 // a new ISN: not a retransmission
	first.at(100*time.Millisecond).send(0, true, false, false, false, 0)
	p := e.conns.get(first.ep[0], srv).pair
	if p.open != e.conns.len() {
		t.Fatalf("the pair counts %d open connections; %d are tracked", p.open, e.conns.len())
	}
}

// TestSecondCopies: a segment captured twice within 1 ms changes nothing
// the second time, whatever it carries; a retransmission still counts.
func TestSecondCopies(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.send(0, true, false, false, false, 0)
	if v := f.again(20 * time.Microsecond); !v.Copy || v.SynRetry != 0 || v.Conn == 0 {
		t.Fatalf("SYN copy: %+v", v)
	}
	if v := f.again(time.Second); v.Copy || v.SynRetry != 1 {
		t.Fatalf("SYN retransmission 1 s later: %+v", v)
	}
	f.send(1, true, true, false, false, 0)
	f.send(0, false, true, false, false, 0)
	f.send(0, false, true, false, false, 30)
	if v := f.again(0); !v.Copy {
		t.Fatalf("data copy: %+v", v)
	}
	f.send(1, false, true, true, false, 100) // the server answers and closes
	f.send(0, false, true, true, false, 0)
	v := f.send(1, false, true, false, false, 0) // the final ACK: TIME_WAIT
	if !v.TWStarted {
		t.Fatalf("final ACK: %+v", v)
	}
	if v := f.again(10 * time.Microsecond); !v.Copy || v.TWRestarted {
		t.Fatalf("copy of the final ACK: %+v", v)
	}
	r := e.Report(false)
	s := r.Summary
	if s.Connections != 1 || s.Partial != 0 || s.OpenAtEnd != 0 || s.SYNRetries != 1 || s.Copies != 3 || s.Restarts != 0 {
		t.Fatalf("summary %+v", s)
	}
	if p := r.Pairs[0]; p.BytesToServer != 30 || p.BytesToClient != 100 {
		t.Fatalf("pair %+v", p)
	}
	// A pure ACK is not taken for a copy: a receiver's duplicate ACKs
	// look the same.
	g := newFlow(e, netip.MustParseAddrPort("10.0.0.1:40001"), srv, 5000)
	g.handshake()
	g.send(1, false, true, false, false, 10)
	g.send(0, false, true, false, false, 0)
	if v := g.again(0); v.Copy {
		t.Fatalf("duplicate ACK taken for a copy: %+v", v)
	}
}

// TestClockStepsBack: a capture whose clock steps back (files appended
// to each other) shows no negative durations: they count from the latest
// time the capture reached.
func TestClockStepsBack(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.at(10 * time.Second).handshake()
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, false, false, 0) // the server holds TIME_WAIT
	g := newFlow(e, cli, srv, 10)
	v := g.at(time.Second).send(0, true, false, false, false, 0)
	if v.Reuse == nil || v.Reuse.Since < 0 || v.FinToSyn < 0 {
		t.Fatalf("reuse %+v, FIN to SYN %v", v.Reuse, v.FinToSyn)
	}
	v = g.send(1, false, false, false, true, 0)
	if v.Duration < 0 {
		t.Fatalf("duration %v", v.Duration)
	}
}

// TestReportRatesAndCounts: the mean connection rate counts the gaps
// between SYNs (n SYNs, n-1 gaps) and is never above the busiest second;
// a connection begun before the capture is partial, not complete, even
// once closed.
func TestReportRatesAndCounts(t *testing.T) {
	rate := func(times ...time.Duration) (float64, int) {
		e := New(Config{})
		for i, at := range times {
			f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
			f.at(at).send(0, true, false, false, false, 0)
		}
		p := e.Report(false).Pairs[0]
		return p.RateMean, p.RatePeak
	}
	if mean, peak := rate(0, 1001*time.Millisecond); mean > 1 || peak != 1 {
		t.Errorf("two SYNs 1 s apart: %.2f/s (peak %d/s), want 1", mean, peak)
	}
	var burst []time.Duration
	for i := range 40 {
		burst = append(burst, 900*time.Millisecond+time.Duration(i)*5*time.Millisecond) // straddles a second
	}
	if mean, peak := rate(burst...); mean > float64(peak) || peak < 20 {
		t.Errorf("40 SYNs in 0.2 s: %.2f/s, peak %d/s: the mean above the peak", mean, peak)
	}
	// 100 SYNs in 0.99 s across a second boundary: 100/s, not the 72 of
	// the busier calendar second.
	burst = burst[:0]
	for i := range 100 {
		burst = append(burst, 500*time.Millisecond+time.Duration(i)*10*time.Millisecond)
	}
	if mean, peak := rate(burst...); peak != 100 || mean != 99 {
		t.Errorf("100 SYNs in 0.99 s: %.2f/s (peak %d/s), want 99 and 100", mean, peak)
	}
	// 200/s for 1.5 s: the busiest second holds 200.
	burst = burst[:0]
	for i := range 300 {
		burst = append(burst, 300*time.Millisecond+time.Duration(i)*5*time.Millisecond)
	}
	if _, peak := rate(burst...); peak != 200 {
		t.Errorf("200/s: peak %d/s, want 200", peak)
	}
	// 100 SYNs in 0.5 s, every other one stamped 1 µs before the one
	// before it (ports through different queues): 100 in the second,
	// not a window cleared at each step back.
	burst = burst[:0]
	for i := range 100 {
		at := time.Duration(i) * 5 * time.Millisecond
		if i%2 == 1 {
			at = burst[i-1] - time.Microsecond
		}
		burst = append(burst, at)
	}
	if _, peak := rate(burst...); peak != 100 {
		t.Errorf("100 SYNs slightly out of order: peak %d/s, want 100", peak)
	}
	var steady []time.Duration
	for i := range 41 {
		steady = append(steady, time.Duration(i)*100*time.Millisecond)
	}
	if mean, _ := rate(steady...); mean < 9.99 || mean > 10.01 {
		t.Errorf("a SYN every 100 ms: %.3f/s, want 10", mean)
	}

	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.send(0, false, true, false, false, 10) // begun before the capture
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, true, false, 0)
	f.send(1, false, true, false, false, 0)
	if s := e.Report(false).Summary; s.Connections != 1 || s.Complete != 0 || s.Partial != 1 {
		t.Errorf("a connection begun before the capture, closed: %d connections, %d complete, %d partial", s.Connections, s.Complete, s.Partial)
	}
}

// TestOneRequestNeedsAKnownCount: only connections seen from the
// handshake with exactly one HTTP request count as closed after one
// request. Connections without a request seen (TLS, other protocols) and
// connections begun before the capture give no keep-alive advice.
func TestOneRequestNeedsAKnownCount(t *testing.T) {
	closeAll := func(e *Engine, f *flow) Verdict {
		f.send(0, false, true, true, false, 0)
		f.send(1, false, true, true, false, 0)
		return f.send(0, false, true, false, false, 0)
	}
	// 50 client-closed connections that carry no HTTP.
	e := New(Config{})
	for i := range 50 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 100 * time.Millisecond).handshake()
		f.send(0, false, true, false, false, 200) // TLS, say
		f.send(1, false, true, false, false, 900)
		if v := closeAll(e, f); !v.TWStarted || oneRequestClose(&v) {
			t.Fatalf("no request seen, yet one_request: %+v", v)
		}
	}
	r := e.Report(false)
	if p := r.Pairs[0]; p.OneRequestShare != 0 || len(r.Findings) != 0 {
		t.Fatalf("no requests seen: one-request share %.2f, findings %q", p.OneRequestShare, r.Findings)
	}
	// 50 connections begun before the capture, each with one request seen.
	e = New(Config{})
	for i := range 50 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 100 * time.Millisecond)
		f.send(0, false, true, false, false, 10)
		e.conns.get(f.ep[0], srv).req.clientPayload([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), false)
		f.send(1, false, true, false, false, 100)
		if v := closeAll(e, f); !v.TWStarted || oneRequestClose(&v) {
			t.Fatalf("begun before the capture, yet one_request: %+v", v)
		}
	}
	r = e.Report(false)
	if p := r.Pairs[0]; p.OneRequestShare != 0 || len(r.Findings) != 0 {
		t.Fatalf("begun before the capture: one-request share %.2f, findings %q", p.OneRequestShare, r.Findings)
	}
	// The same seen from the handshake: one request each.
	e = New(Config{})
	var v Verdict
	for i := range 50 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(40000+i)), srv, 1000)
		f.at(time.Duration(i) * 100 * time.Millisecond).handshake()
		f.send(0, false, true, false, false, 0)
		e.conns.get(f.ep[0], srv).req.clientPayload([]byte("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"), false)
		f.send(1, false, true, false, false, 100)
		v = closeAll(e, f)
	}
	if r = e.Report(false); r.Pairs[0].OneRequestShare != 1 || len(r.Findings) == 0 || !oneRequestClose(&v) {
		t.Fatalf("one request each: share %.2f, findings %q, verdict %+v", r.Pairs[0].OneRequestShare, r.Findings, v)
	}
}

// TestRefusedSYNResent: a SYN refused by the server's TIME_WAIT socket
// (answered with an ACK), the client's RST to that ACK (which kills the
// socket), and the same SYN again: one connection attempt with a
// retransmitted SYN, not an extra connection closed by RST.
func TestRefusedSYNResent(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.noTS = true
	f.handshake()
	f.send(0, false, true, false, false, 100)
	f.send(1, false, true, true, false, 10) // the server answers and closes
	f.send(0, false, true, true, false, 0)
	if v := f.send(1, false, true, false, false, 0); !v.TWStarted || v.Holder != srv {
		t.Fatalf("server TIME_WAIT: %+v", v)
	}
	// The same client port again, with an older sequence number: refused.
	g := newFlow(e, cli, srv, 10)
	g.noTS = true
	v := g.at(2*time.Second).send(0, true, false, false, false, 0)
	if v.Reuse == nil || v.Reuse.Accepted {
		t.Fatalf("reuse %+v", v.Reuse)
	}
	// The TIME_WAIT socket's ACK, and the client's RST to it.
	ack := tcpdecode.Segment{Src: srv, Dst: cli, Seq: f.seq[1], Ack: f.seq[0], ACK: true}
	e.Segment(g.t, &ack)
	rst := tcpdecode.Segment{Src: cli, Dst: srv, Seq: f.seq[0], RST: true}
	if v := *e.Segment(g.t, &rst); !v.Assassinated || v.Closer == CloserRST {
		t.Fatalf("RST to the ACK: %+v", v)
	}
	// The same SYN 12 ms later: a retransmission, then the connection.
	g.seq[0]--
	if v := g.at(2*time.Second+12*time.Millisecond).send(0, true, false, false, false, 0); v.SynRetry != 1 || v.Reuse != nil {
		t.Fatalf("the SYN again: %+v", v)
	}
	g.send(1, true, true, false, false, 0)
	g.send(0, false, true, false, false, 100)
	g.send(1, false, true, true, false, 10)
	g.send(0, false, true, true, false, 0)
	g.send(1, false, true, false, false, 0)
	r := e.Report(false)
	s := r.Summary
	if s.Connections != 2 || s.Complete != 2 || s.Closes["rst"] != 0 || s.Closes["server"] != 2 || s.SYNRetries != 1 || s.ReusesRefused != 1 || s.OpenAtEnd != 0 {
		t.Fatalf("summary %+v", s)
	}
	if r.Counts[string(EventAbortiveClose)] != 0 {
		t.Fatalf("events %v", r.Counts)
	}
}

// TestSYNToHalfOpenSocket: a client aborts with an RST that is lost
// (lossy_linger0), so the server's socket stays; the client's next
// connection on the same port reaches it, which answers the SYN with an
// ACK of the old connection (RFC 5961), the client resets it, and sends
// the same SYN again, and again once that RST was lost too: one
// connection attempt with two retransmitted SYNs, not three connections.
func TestSYNToHalfOpenSocket(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.handshake()
	f.send(0, false, true, false, false, 100)
	f.send(1, false, true, false, false, 10)
	f.send(0, false, true, false, true, 0) // the abort, lost after the capture
	g := newFlow(e, cli, srv, 5_000_000)
	for i := 0; i < 3; i++ {
		g.at(time.Duration(i+1) * time.Second)
		v := g.send(0, true, false, false, false, 0)
		g.seq[0]--
		if v.SynRetry != i {
			t.Fatalf("SYN %d: retry %d", i, v.SynRetry)
		}
		if i == 2 {
			break
		}
		ack := tcpdecode.Segment{Src: srv, Dst: cli, Seq: f.seq[1], Ack: f.seq[0], ACK: true}
		e.Segment(g.t, &ack)
		rst := tcpdecode.Segment{Src: cli, Dst: srv, Seq: f.seq[0], RST: true}
		if v := *e.Segment(g.t, &rst); v.Closer == CloserRST {
			t.Fatalf("the RST to the ACK closed the attempt: %+v", v)
		}
	}
	g.seq[0]++
	g.send(1, true, true, false, false, 0)
	g.send(0, false, true, false, false, 100)
	g.send(1, false, true, false, false, 10)
	g.send(0, false, true, false, true, 0)
	s := e.Report(false).Summary
	if s.Connections != 2 || s.Complete != 2 || s.Closes["rst"] != 2 || s.SYNRetries != 2 || s.FailedConnects != 0 || s.OpenAtEnd != 0 {
		t.Fatalf("summary %+v", s)
	}
}

// TestSYNAckMissed: a connection whose SYN-ACK the capture lacks. The
// server's ACKs of the client's data are not an earlier socket's answer
// to the SYN (TestSYNToHalfOpenSocket): the client's RST ends it.
func TestSYNAckMissed(t *testing.T) {
	e := New(Config{})
	f := newFlow(e, cli, srv, 1000)
	f.send(0, true, false, false, false, 0)
	f.seq[1]++ // the SYN-ACK, not captured
	f.send(0, false, true, false, false, 0)
	f.send(0, false, true, false, false, 100)
	f.send(1, false, true, false, false, 10)
	if v := f.send(0, false, true, false, true, 0); v.Closer != CloserRST {
		t.Fatalf("the client's RST: %+v", v)
	}
	if s := e.Report(false).Summary; s.Connections != 1 || s.Closes["rst"] != 1 || s.OpenAtEnd != 0 {
		t.Fatalf("summary %+v", s)
	}
}

// TestBegunBeforeTheCapture: connections whose handshake the capture
// lacks. Their server port is inside the ephemeral range, so the ports
// alone would take the client's lower port for the server; the endpoint
// that the other connections share is the server. Their lifetimes are
// unknown: no median of them, and "n/a" when no other connection closed.
func TestBegunBeforeTheCapture(t *testing.T) {
	e := New(Config{PortLo: 19780, PortHi: 19799})
	server := netip.MustParseAddrPort("10.0.0.2:19799")
	for i := range 10 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(19780+i)), server, 1000)
		f.at(time.Duration(i) * 10 * time.Millisecond)
		f.send(0, false, true, false, false, 0) // a keep-alive ACK
	}
	for i := range 10 {
		f := newFlow(e, netip.AddrPortFrom(cli.Addr(), uint16(19780+i)), server, 1001)
		f.at(time.Second + time.Duration(i)*10*time.Millisecond)
		f.send(0, false, true, true, false, 0) // the client closes
		f.send(1, false, true, true, false, 0)
		if v := f.send(0, false, true, false, false, 0); !v.TWStarted || v.Holder.Addr() != cli.Addr() || v.Closer != CloserClient {
			t.Fatalf("connection %d: %+v", i, v)
		}
	}
	r := e.Report(false)
	if len(r.Pairs) != 1 {
		t.Fatalf("pairs %+v", r.Pairs)
	}
	p := r.Pairs[0]
	if p.Client != "10.0.0.1" || p.Server != server.String() || p.Closers["client"] != 10 || p.Partial != 10 || p.MedianLifetime != nil {
		t.Fatalf("pair %+v", p)
	}
	var text strings.Builder
	r.WriteText(&text)
	if !strings.Contains(text.String(), "0 conns (and 10 begun before the capture), 0.0/s (peak 0/s), median life n/a, n/a req/conn") {
		t.Fatalf("report:\n%s", text.String())
	}
	// One connection seen from its handshake, 2 s long, next to them: its
	// lifetime is the median, not theirs.
	f := newFlow(e, netip.AddrPortFrom(cli.Addr(), 19790), server, 5000)
	f.at(2 * time.Second).handshake()
	f.at(4*time.Second).send(0, false, true, true, false, 0)
	f.send(1, false, true, true, false, 0)
	f.send(0, false, true, false, false, 0)
	if m := e.Report(false).Pairs[0].MedianLifetime; m == nil || *m != 2 {
		t.Fatalf("median life %v, want 2 s", m)
	}
}

// TestScoresKeepServers: a capture that begins on a busy server meets
// more clients' endpoints, each in one connection begun before it, than
// the engine scores; the server that a SYN named keeps its score.
func TestScoresKeepServers(t *testing.T) {
	e := New(Config{})
	e.score(srv, synScore)
	for i := range maxServers + 5000 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		e.score(netip.AddrPortFrom(ip, uint16(40000+i%20000)), 1)
	}
	if got := e.serverScore(srv); got < synScore {
		t.Errorf("the server's score %d after %d other endpoints", got, maxServers+5000)
	}
	if len(e.servers) > maxServers {
		t.Errorf("%d endpoints scored, at most %d", len(e.servers), maxServers)
	}
}
