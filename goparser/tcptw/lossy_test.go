package tcptw

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// pkt is one segment of a scripted connection: from the client (0) or
// the server (1), its flags (S, A, F, R, P; K for SACK-permitted, D for
// a D-SACK block), and its sequence and
// acknowledgement numbers relative to each side's ISN, as Wireshark
// shows them. at is the time since the previous segment.
type pkt struct {
	at       time.Duration
	from     int
	flags    string
	seq, ack uint32
	n        int
}

// isn are the initial sequence numbers of the client and the server.
var isn = [2]uint32{1000, 900000}

func (p pkt) segment() tcpdecode.Segment { return p.segmentOf(cli) }

// segmentOf is the segment of a connection of the given client.
func (p pkt) segmentOf(client netip.AddrPort) tcpdecode.Segment {
	src, dst := client, srv
	if p.from == 1 {
		src, dst = srv, client
	}
	s := tcpdecode.Segment{Src: src, Dst: dst, Seq: isn[p.from] + p.seq, PayloadLen: p.n,
		SYN: strings.Contains(p.flags, "S"), ACK: strings.Contains(p.flags, "A"),
		FIN: strings.Contains(p.flags, "F"), RST: strings.Contains(p.flags, "R"),
		SACKPerm: strings.Contains(p.flags, "K"), DSACK: strings.Contains(p.flags, "D")}
	if s.ACK {
		s.Ack = isn[1-p.from] + p.ack
	}
	return s
}

// play feeds the segments to e, from t0 on, and returns their verdicts.
func play(e *Engine, pkts []pkt) []Verdict { return playConn(e, cli, t0, pkts) }

// playConn is play for a connection of the given client, from start.
func playConn(e *Engine, client netip.AddrPort, start time.Time, pkts []pkt) []Verdict {
	t := start
	var vs []Verdict
	for _, p := range pkts {
		t = t.Add(p.at)
		s := p.segmentOf(client)
		vs = append(vs, *e.Segment(t, &s))
	}
	return vs
}

// exchange is a connection up to the close: a handshake, a 122-octet
// request, a 138-octet response, and the client's ACK of it.
var exchange = []pkt{
	{0, 0, "S", 0, 0, 0},
	{100 * time.Microsecond, 1, "SA", 0, 1, 0},
	{20 * time.Microsecond, 0, "A", 1, 1, 0},
	{200 * time.Microsecond, 0, "PA", 1, 1, 122},
	{200 * time.Microsecond, 1, "A", 1, 123, 0},
	{10 * time.Microsecond, 1, "PA", 1, 123, 138},
	{10 * time.Microsecond, 0, "A", 123, 139, 0},
}

func script(close ...pkt) []pkt { return append(append([]pkt(nil), exchange...), close...) }

const rto = 200 * time.Millisecond

// TestCloseWithLosses: who holds TIME_WAIT when segments of the close
// were lost before the capture point (a capture at the client, so that
// every segment the client sent is in it). The kernel puts a side into
// TIME_WAIT when it sent its FIN before it received the peer's: its
// first acknowledgement of the peer's FIN then already counts its own
// FIN (sequence number FIN + 1), even when that FIN was lost and is seen
// only as a retransmission. A passive closer answers with FIN + 1 too,
// from LAST_ACK, once its FIN+ACK was lost, but only to a segment the
// peer sent again.
func TestCloseWithLosses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		close   []pkt
		closer  Closer
		holders string // the hosts holding TIME_WAIT at the end
	}{
		{"client closes", []pkt{
			{50 * time.Microsecond, 0, "FA", 123, 139, 0},
			{50 * time.Microsecond, 1, "FA", 139, 124, 0},
			{50 * time.Microsecond, 0, "A", 124, 140, 0},
		}, CloserClient, "10.0.0.1"},
		{"FINs cross", []pkt{
			{50 * time.Microsecond, 0, "FA", 123, 139, 0},
			{10 * time.Microsecond, 1, "FA", 139, 123, 0},
			{50 * time.Microsecond, 0, "A", 124, 140, 0},
			{10 * time.Microsecond, 1, "A", 140, 124, 0},
		}, CloserBoth, "10.0.0.1 10.0.0.2"},
		{
			// tw_lost_server_fin.pcap: the server's FIN (139) was lost;
			// its ACK of the client's FIN counts it (140); it resends
			// the FIN after its retransmission timeout.
			"server FIN lost, FINs crossed", []pkt{
				{50 * time.Microsecond, 0, "FA", 123, 139, 0},
				{30 * time.Microsecond, 1, "A", 140, 124, 0},
				{rto, 1, "FA", 139, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, CloserBoth, "10.0.0.1 10.0.0.2"},
		{
			// The same seen from the server (a capture there): the
			// client's FIN was lost, its ACK of the server's FIN counts
			// it.
			"client FIN lost, FINs crossed", []pkt{
				{50 * time.Microsecond, 1, "FA", 139, 123, 0},
				{30 * time.Microsecond, 0, "A", 124, 140, 0},
				{rto, 0, "FA", 123, 140, 0},
				{50 * time.Microsecond, 1, "A", 140, 124, 0},
			}, CloserBoth, "10.0.0.1 10.0.0.2"},
		{
			// The server acknowledged the client's FIN before it closed
			// (139), then its FIN was lost and resent.
			"passive close, server FIN lost", []pkt{
				{50 * time.Microsecond, 0, "FA", 123, 139, 0},
				{30 * time.Microsecond, 1, "A", 139, 124, 0},
				{rto, 1, "FA", 139, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, CloserClient, "10.0.0.1"},
		{
			// The server's FIN+ACK, its first acknowledgement of the
			// client's FIN, was lost. The client resends its FIN, and
			// the server, in LAST_ACK, answers it with 140: it did not
			// send its FIN first.
			"passive close, server FIN+ACK lost, client FIN resent", []pkt{
				{50 * time.Microsecond, 0, "FA", 123, 139, 0},
				{rto, 0, "FA", 123, 139, 0},
				{30 * time.Microsecond, 1, "A", 140, 124, 0},
				{rto, 1, "FA", 139, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, CloserClient, "10.0.0.1"},
		{
			// The same, with the server's FIN resent first.
			"passive close, server FIN+ACK lost, server FIN resent first", []pkt{
				{50 * time.Microsecond, 0, "FA", 123, 139, 0},
				{rto, 0, "FA", 123, 139, 0},
				{rto / 2, 1, "FA", 139, 124, 0},
				{30 * time.Microsecond, 1, "A", 140, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, CloserClient, "10.0.0.1"},
		{
			// The server's ACK of the request and its FIN+ACK were lost;
			// the client resends the request, the server answers it
			// (a duplicate) with 140.
			"passive close, server FIN+ACK lost, client data resent", []pkt{
				{50 * time.Microsecond, 0, "FA", 123, 139, 0},
				{rto, 0, "PA", 1, 139, 122},
				{30 * time.Microsecond, 1, "A", 140, 124, 0},
				{rto, 1, "FA", 139, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, CloserClient, "10.0.0.1"},
		{
			// The server closes first; the client's FIN+ACK was lost
			// and the server resends its FIN: the client answers from
			// LAST_ACK.
			"server closes, client FIN+ACK lost", []pkt{
				{50 * time.Microsecond, 1, "FA", 139, 123, 0},
				{rto, 1, "FA", 139, 123, 0},
				{30 * time.Microsecond, 0, "A", 124, 140, 0},
				{rto, 0, "FA", 123, 140, 0},
				{50 * time.Microsecond, 1, "A", 140, 124, 0},
			}, CloserServer, "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkClose(t, script(tc.close...), tc.closer, tc.holders)
		})
	}
}

// checkClose plays a connection and checks its closer, the hosts that
// held TIME_WAIT, and that it is the only connection, closed.
func checkClose(t *testing.T, pkts []pkt, closer Closer, holders string) {
	t.Helper()
	e := New(Config{})
	vs := play(e, pkts)
	last := vs[len(vs)-1]
	r := e.Report(false)
	var held []string
	for _, h := range r.Hosts {
		if h.Peak > 0 {
			held = append(held, h.Address)
		}
	}
	got := strings.Join(held, " ")
	if last.Closer != closer || got != holders || r.Summary.Connections != 1 || r.Summary.OpenAtEnd != 0 {
		t.Fatalf("closer %v, holders %q, %d connections, %d open; want %v, %q, 1, 0",
			last.Closer, got, r.Summary.Connections, r.Summary.OpenAtEnd, closer, holders)
	}
}

// TestCloseWithLossesDSACK: where both sides negotiated SACK, the answer
// to a resent FIN tells whether it had the first copy: Linux reports a
// duplicate with a D-SACK, though not every stack does (trusted once the
// host was seen sending one). lossy_race: the client's FIN was lost after
// the capture, the server's FIN before it, and the server's ACK of the
// resent FIN, its first, counts its own FIN (140) and has no D-SACK:
// both closed at once. The same ACK with a D-SACK is the passive
// closer's answer from LAST_ACK to a copy, its FIN+ACK lost; and without
// SACK, nothing tells the two apart, and the likelier (one loss, not
// two) is taken.
func TestCloseWithLossesDSACK(t *testing.T) {
	withSACK := func(close []pkt) []pkt {
		p := script(close...)
		p[0].flags, p[1].flags = "SK", "SAK"
		return p
	}
	// The request again, and the server's D-SACK for it: the server
	// sends D-SACKs.
	dupRequest := []pkt{
		{rto, 0, "PA", 1, 139, 122},
		{30 * time.Microsecond, 1, "AD", 139, 123, 0},
	}
	lost := func(ack string) []pkt {
		return []pkt{
			{50 * time.Microsecond, 0, "FA", 123, 139, 0},
			{rto, 0, "FA", 123, 139, 0},
			{30 * time.Microsecond, 1, ack, 140, 124, 0},
			{10 * time.Microsecond, 1, "FA", 139, 124, 0},
			{50 * time.Microsecond, 0, "A", 124, 140, 0},
		}
	}
	for _, tc := range []struct {
		name    string
		pkts    []pkt
		closer  Closer
		holders string
	}{
		{"SACK, no D-SACK: FINs crossed", withSACK(append(dupRequest, lost("A")...)), CloserBoth, "10.0.0.1 10.0.0.2"},
		{"SACK, D-SACK: passive close", withSACK(append(dupRequest, lost("AD")...)), CloserClient, "10.0.0.1"},
		{"SACK, no D-SACK from a server never seen sending one", withSACK(lost("A")), CloserClient, "10.0.0.1"},
		{"no SACK: the likelier passive close", script(append(dupRequest, lost("A")...)...), CloserClient, "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkClose(t, tc.pkts, tc.closer, tc.holders)
		})
	}
}

// TestDeferredFIN: a server that had closed, its FIN not yet sent, when
// the client's FIN arrived acknowledges the client's FIN at once without
// counting its own (Linux, FIN_WAIT_1 to CLOSING), and its FIN follows
// microseconds later: both hold TIME_WAIT (lossy_race, twice in a run).
// In CLOSE_WAIT the same host delays that ACK until its FIN carries it,
// as its other connections show; without seeing that, or with the FIN
// later than a softirq's microseconds, the close is the client's.
func TestDeferredFIN(t *testing.T) {
	passive := script(
		pkt{50 * time.Microsecond, 0, "FA", 123, 139, 0},
		pkt{50 * time.Microsecond, 1, "FA", 139, 124, 0},
		pkt{50 * time.Microsecond, 0, "A", 124, 140, 0},
	)
	deferred := func(gap time.Duration) []pkt {
		return script(
			pkt{50 * time.Microsecond, 0, "FA", 123, 139, 0},
			pkt{20 * time.Microsecond, 1, "A", 139, 124, 0},
			pkt{gap, 1, "FA", 139, 124, 0},
			pkt{10 * time.Microsecond, 0, "A", 124, 140, 0},
		)
	}
	// The client's FIN comes with data, which Linux acknowledges at
	// once in CLOSE_WAIT too (the application reads it), and a
	// passive close's FIN can follow as closely.
	withData := script(
		pkt{50 * time.Microsecond, 0, "FPA", 123, 139, 10},
		pkt{20 * time.Microsecond, 1, "A", 139, 134, 0},
		pkt{2 * time.Microsecond, 1, "FA", 139, 134, 0},
		pkt{10 * time.Microsecond, 0, "A", 134, 140, 0},
	)
	// Data between the ACK and the FIN: the ACK did not come from
	// FIN_WAIT_1.
	dataBetween := script(
		pkt{50 * time.Microsecond, 0, "FA", 123, 139, 0},
		pkt{20 * time.Microsecond, 1, "A", 139, 124, 0},
		pkt{1 * time.Microsecond, 1, "PA", 139, 124, 5},
		pkt{1 * time.Microsecond, 1, "FA", 144, 124, 0},
		pkt{10 * time.Microsecond, 0, "A", 124, 145, 0},
	)
	other := netip.MustParseAddrPort("10.0.0.1:40001")
	for _, tc := range []struct {
		name   string
		seen   bool // the server's passive close on another connection first
		pkts   []pkt
		closer Closer
		server int // the server's TIME_WAIT sockets at the end
	}{
		{"after a passive close, FIN 2 µs behind", true, deferred(2 * time.Microsecond), CloserBoth, 1},
		{"nothing seen before", false, deferred(2 * time.Microsecond), CloserClient, 0},
		{"after a passive close, FIN 50 ms behind", true, deferred(50 * time.Millisecond), CloserClient, 0},
		{"after a passive close, the client's FIN with data", true, withData, CloserClient, 0},
		{"after a passive close, data between", true, dataBetween, CloserClient, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			if tc.seen {
				if v := playConn(e, other, t0, passive); v[len(v)-1].Closer != CloserClient {
					t.Fatalf("the passive close: closer %v", v[len(v)-1].Closer)
				}
			}
			vs := playConn(e, cli, t0.Add(time.Second), tc.pkts)
			server := 0
			for _, h := range e.Report(false).Hosts {
				if h.Address == srv.Addr().String() {
					server = h.AtEnd
				}
			}
			if c := vs[len(vs)-1].Closer; c != tc.closer || server != tc.server {
				t.Errorf("closer %v, server's TIME_WAIT sockets %d; want %v, %d", c, server, tc.closer, tc.server)
			}
		})
	}
}

// TestLateSegmentsAfterTimeWait: a segment other than a SYN on a tuple
// whose connection closed and left a socket in TIME_WAIT belongs to that
// connection (a duplicate or retransmission the path delayed, the closed
// peer's RST to it): it does not begin another, begun before the
// capture. After the TIME_WAIT period it does.
func TestLateSegmentsAfterTimeWait(t *testing.T) {
	const far = 50_000_000
	serverCloses := []pkt{
		{50 * time.Microsecond, 1, "FA", 139, 123, 0},
		{30 * time.Microsecond, 0, "A", 123, 140, 0},
		{50 * time.Microsecond, 0, "FA", 123, 140, 0},
		{30 * time.Microsecond, 1, "A", 140, 124, 0}, // the server enters TIME_WAIT
	}
	clientCloses := []pkt{
		{50 * time.Microsecond, 0, "FA", 123, 139, 0},
		{50 * time.Microsecond, 1, "FA", 139, 124, 0},
		{50 * time.Microsecond, 0, "A", 124, 140, 0}, // the client enters TIME_WAIT
	}
	crossed := []pkt{
		{50 * time.Microsecond, 0, "FA", 123, 139, 0},
		{10 * time.Microsecond, 1, "FA", 139, 123, 0},
		{50 * time.Microsecond, 0, "A", 124, 140, 0},
		{10 * time.Microsecond, 1, "A", 140, 124, 0},
	}
	for _, tc := range []struct {
		name  string
		close []pkt
		late  []pkt
		// want: per late segment, "same" (the closed connection's),
		// "new"; then the report's connections, partial ones, open
		// ones, TIME_WAIT restarts and RSTs in TIME_WAIT.
		want                            []string
		conns, partial, open, restarts  int
		assassinations, holders, closer int
	}{
		{
			// tw_phantom_partial.pcap: the server's duplicate ACK, and
			// the client's RST to it, which ends the server's socket.
			"server holds, its duplicate ACK, client RST", serverCloses, []pkt{
				{10 * time.Millisecond, 1, "A", 140, 124, 0},
				{50 * time.Microsecond, 0, "R", 124, 0, 0},
			}, []string{"same", "same"}, 1, 0, 0, 0, 1, 1, int(CloserServer)},
		{
			// The server's FIN again (its ACK of the client's FIN was
			// lost): the client's socket starts its 60 s again.
			"client holds, server FIN resent", clientCloses, []pkt{
				{rto, 1, "FA", 139, 124, 0},
				{50 * time.Microsecond, 0, "A", 124, 140, 0},
			}, []string{"same", "same"}, 1, 0, 0, 1, 0, 1, int(CloserClient)},
		{
			// The server's SYN-ACK to a resent SYN, after the
			// connection its first one began has closed: it restarts
			// the client's socket, as any segment but an RST does.
			"client holds, a late SYN-ACK", clientCloses, []pkt{
				{rto, 1, "SA", 0, 1, 0},
			}, []string{"same"}, 1, 0, 0, 1, 0, 1, int(CloserClient)},
		{
			"both hold, a duplicate ACK", crossed, []pkt{
				{10 * time.Millisecond, 0, "A", 124, 140, 0},
			}, []string{"same"}, 1, 0, 0, 1, 0, 2, int(CloserBoth)},
		{
			// A new connection on the tuple 5 s later whose handshake the
			// capture missed: numbers far from the closed one's (a fresh
			// ISN), so not its late segments; the server closes it. Its
			// segments to the client still restart the client's socket:
			// unseen, the reuse that ended it cannot be known.
			"client holds, a new connection begun unseen", clientCloses, []pkt{
				{5 * time.Second, 0, "PA", far + 1, far + 1, 100},
				{time.Millisecond, 1, "PA", far + 1, far + 101, 200},
				{time.Millisecond, 0, "A", far + 101, far + 201, 0},
				{time.Millisecond, 1, "FA", far + 201, far + 101, 0},
				{time.Millisecond, 0, "FA", far + 101, far + 202, 0},
				{time.Millisecond, 1, "A", far + 202, far + 102, 0},
			}, []string{"new", "new", "new", "new", "new", "new"}, 2, 1, 0, 3, 0, 2, int(CloserClient)},
		{
			// 61 s later the socket is gone: the segment is of a
			// connection the capture did not see begin.
			"after the TIME_WAIT period", serverCloses, []pkt{
				{61 * time.Second, 1, "A", 140, 124, 0},
			}, []string{"new"}, 2, 1, 1, 0, 0, 1, int(CloserServer)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			closed, t1 := closeConn(e, tc.close)
			if !closed.TWStarted {
				t.Fatalf("the close did not start TIME_WAIT: %+v", closed)
			}
			checkLate(t, e, closed, t1, tc.late, tc.want, func(v *Verdict, p pkt) bool {
				return v.Closer == Closer(tc.closer) && v.Holder == closed.Holder && v.Holder2 == closed.Holder2 && v.RolesKnown && v.FromClient == (p.from == 0)
			})
			r := e.Report(false)
			got := fmt.Sprintf("%d conns, %d partial, %d open, %d restarts, %d RSTs in TIME_WAIT, %d TIME_WAIT sockets",
				r.Summary.Connections, r.Summary.Partial, r.Summary.OpenAtEnd, r.Summary.Restarts, r.Counts["rst_in_time_wait"], r.Summary.TimeWaitTotal)
			want := fmt.Sprintf("%d conns, %d partial, %d open, %d restarts, %d RSTs in TIME_WAIT, %d TIME_WAIT sockets",
				tc.conns, tc.partial, tc.open, tc.restarts, tc.assassinations, tc.holders)
			if got != want {
				t.Fatalf("%s, want %s", got, want)
			}
		})
	}
}

// closeConn plays the exchange and then close, and returns the verdict
// of close's last segment and its time.
func closeConn(e *Engine, close []pkt) (Verdict, time.Time) {
	sc := script(close...)
	vs := play(e, sc)
	t := t0
	for _, p := range sc {
		t = t.Add(p.at)
	}
	return vs[len(vs)-1], t
}

// checkLate plays late segments from t on: each must be the closed
// connection's (want "same"), with a verdict that fits, or another's.
func checkLate(t *testing.T, e *Engine, closed Verdict, at time.Time, late []pkt, want []string, fits func(v *Verdict, p pkt) bool) {
	t.Helper()
	for i, p := range late {
		at = at.Add(p.at)
		s := p.segment()
		v := *e.Segment(at, &s)
		same := v.Conn == closed.Conn
		if same != (want[i] == "same") {
			t.Fatalf("late segment %d: conn %d, the closed one %d, want %s", i, v.Conn, closed.Conn, want[i])
		}
		if same && !fits(&v, p) {
			t.Fatalf("late segment %d: %+v, after the close %+v", i, v, closed)
		}
	}
}

// TestLateSegmentsAfterReset: segments of a connection that an RST ended,
// which leaves no TIME_WAIT socket, are still that connection's: what was
// in flight, a peer's retransmission when the RST was lost, and the
// closed side's RSTs in answer. Numbers of their own (a connection begun
// unseen) or a TIME_WAIT length later, they begin another connection.
func TestLateSegmentsAfterReset(t *testing.T) {
	const far = 50_000_000
	reset := pkt{50 * time.Microsecond, 0, "RA", 123, 139, 0} // the client aborts (SO_LINGER 0)
	for _, tc := range []struct {
		name                 string
		late                 []pkt
		want                 []string // per late segment: "same" or "new"
		conns, partial, open int
	}{
		{"data in flight, and the RST in answer", []pkt{
			{time.Millisecond, 1, "PA", 139, 123, 100},
			{50 * time.Microsecond, 0, "R", 123, 0, 0},
		}, []string{"same", "same"}, 1, 0, 0},
		{"the RST lost: the server resends", []pkt{
			{rto, 1, "PA", 139, 123, 100},
			{50 * time.Microsecond, 0, "R", 123, 0, 0},
			{2 * rto, 1, "PA", 139, 123, 100},
		}, []string{"same", "same", "same"}, 1, 0, 0},
		{"the client's late ACK", []pkt{
			{time.Millisecond, 0, "A", 123, 139, 0},
		}, []string{"same"}, 1, 0, 0},
		// lossy_linger0: the SYN was resent, and the server's SYN-ACK to
		// the second comes after the reset.
		{"the server's SYN-ACK to a resent SYN", []pkt{
			{100 * time.Microsecond, 1, "SA", 0, 1, 0},
			{10 * time.Microsecond, 0, "R", 1, 0, 0},
		}, []string{"same", "same"}, 1, 0, 0},
		{"a connection begun unseen", []pkt{
			{5 * time.Second, 0, "PA", far + 1, far + 1, 100},
			{time.Millisecond, 1, "A", far + 1, far + 101, 0},
		}, []string{"new", "new"}, 2, 1, 1},
		{"a TIME_WAIT length later", []pkt{
			{61 * time.Second, 1, "PA", 139, 123, 100},
		}, []string{"new"}, 2, 1, 1},
		// lossy_linger0: Go's server probes its half-open socket every
		// 15 s (a keep-alive: one octet before its next), and loss ate
		// the client's answers; the window runs from the last segment.
		{"the RST lost: keep-alive probes answered, the last 60.3 s after it", []pkt{
			{15 * time.Second, 1, "A", 138, 123, 0},
			{20 * time.Microsecond, 0, "R", 123, 0, 0},
			{30 * time.Second, 1, "A", 138, 123, 0},
			{20 * time.Microsecond, 0, "R", 123, 0, 0},
			{15300 * time.Millisecond, 1, "A", 138, 123, 0},
			{20 * time.Microsecond, 0, "R", 123, 0, 0},
		}, []string{"same", "same", "same", "same", "same", "same"}, 1, 0, 0},
		{"a TIME_WAIT length after the last late segment", []pkt{
			{15 * time.Second, 1, "A", 138, 123, 0},
			{20 * time.Microsecond, 0, "R", 123, 0, 0},
			{61 * time.Second, 1, "A", 138, 123, 0},
		}, []string{"same", "same", "new"}, 2, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			closed, t1 := closeConn(e, []pkt{reset})
			checkLate(t, e, closed, t1, tc.late, tc.want, func(v *Verdict, p pkt) bool {
				return v.Closer == CloserRST && v.RolesKnown && v.FromClient == (p.from == 0)
			})
			r := e.Report(false)
			got := fmt.Sprintf("%d conns, %d partial, %d open", r.Summary.Connections, r.Summary.Partial, r.Summary.OpenAtEnd)
			if want := fmt.Sprintf("%d conns, %d partial, %d open", tc.conns, tc.partial, tc.open); got != want {
				t.Fatalf("%s, want %s", got, want)
			}
		})
	}
}

// TestResetsBounded: the oldest reset connections are forgotten first,
// and a new connection on a tuple drops its reset one.
func TestResetsBounded(t *testing.T) {
	var r resets
	c := &conn{}
	for i := range resetSlots + 10 {
		c.id = uint64(i)
		r.add(twKey{uint64(i), 0}, c, t0)
	}
	if r.n != resetSlots {
		t.Fatalf("%d remembered, want %d", r.n, resetSlots)
	}
	if _, ok := r.get(twKey{9, 0}); ok {
		t.Error("the oldest is still remembered")
	}
	if i, ok := r.get(twKey{10, 0}); !ok || r.ring[i].id != 10 {
		t.Error("the oldest kept is not")
	}
	// The same tuple again takes a new slot; the old one is not deleted
	// with the slot's next use.
	c.id = 1000
	r.add(twKey{20, 0}, c, t0)
	for range resetSlots - 1 {
		r.add(twKey{1 << 40, 0}, c, t0)
	}
	if i, ok := r.get(twKey{20, 0}); !ok || r.ring[i].id != 1000 {
		t.Error("a tuple reset twice lost its latest connection")
	}
	r.forget(twKey{20, 0})
	if _, ok := r.get(twKey{20, 0}); ok {
		t.Error("forget did not")
	}
}

// TestResetsIndex: the index agrees with a map kept alongside, through
// resets that wrap the ring, tuples reset again, and forgets, over few
// tuples and many (the ring's 4,096 slots in use, the index half full).
func TestResetsIndex(t *testing.T) {
	for _, tuples := range []int{50, 3 * resetSlots} {
		r := resets{seed: tupleSeed{1, uint64(tuples)}}
		r.ring = make([]resetConn, resetSlots)
		r.index = make([]uint64, resetIndexSlots)
		want := map[twKey]uint64{} // tuple → id of its remembered reset
		slotOf := map[int]twKey{}  // ring slot → tuple, to model eviction
		rng := rand.New(rand.NewPCG(1, uint64(tuples)))
		c := &conn{}
		for step := range 20 * resetSlots {
			k := twKey{uint64(rng.IntN(tuples)), 7}
			if rng.IntN(4) == 0 {
				r.forget(k)
				delete(want, k)
				continue
			}
			if old, ok := slotOf[r.next]; ok && r.used == resetSlots {
				if id, ok := want[old]; ok && r.ring[r.next].id == id {
					delete(want, old)
				}
			}
			slotOf[r.next] = k
			c.id = uint64(step)
			r.add(k, c, t0)
			want[k] = c.id
			if r.n != len(want) {
				t.Fatalf("%d tuples, step %d: %d in the index, want %d", tuples, step, r.n, len(want))
			}
		}
		for i := range tuples {
			k := twKey{uint64(i), 7}
			n, ok := r.get(k)
			id, wantOK := want[k]
			if ok != wantOK || ok && r.ring[n].id != id {
				t.Fatalf("%d tuples: tuple %d: found %v (id %d), want %v (id %d)", tuples, i, ok, r.ring[n].id, wantOK, id)
			}
		}
	}
}

// TestLossyCaptures: two captures at the client of a path that lost and
// reordered segments (a relay between network namespaces).
func TestLossyCaptures(t *testing.T) {
	for _, tc := range []struct {
		file string
		want string
	}{
		// A simultaneous close twice, the server's FIN (139) lost each
		// time: its ACK 140 of the client's FIN, its FIN 200 ms later.
		// The kernel had both sides in TIME_WAIT.
		{"tw_lost_server_fin.pcap", "2 conns, 0 partial, 0 open; closes client 0 server 0 both 2; TIME_WAIT 10.77.0.1 2, 10.77.0.2 2"},
		// The server closes first and holds TIME_WAIT; a duplicate of
		// its last ACK comes 10 ms later, and the client, closed,
		// answers with a RST, which ends the server's socket.
		{"tw_late_ack_rst.pcap", "1 conns, 0 partial, 0 open; closes client 0 server 1 both 0; TIME_WAIT 10.77.0.2 1"},
		// Three connections the client resets, and segments of each
		// after the RST: the response again, a SYN-ACK to a resent SYN,
		// a late ACK; the client answers each with an RST.
		{"tw_late_after_rst.pcap", "3 conns, 0 partial, 0 open; closes client 0 server 0 both 0; TIME_WAIT"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			frames, lt, err := testpcaps.Frames(tc.file, 0)
			if err != nil {
				t.Fatal(err)
			}
			e := New(Config{})
			dec := tcpdecode.New()
			ts := t0
			for _, fr := range frames {
				ts = ts.Add(10 * time.Millisecond)
				var s tcpdecode.Segment
				if err := dec.Decode(lt, fr, &s); err != nil {
					t.Fatal(err)
				}
				e.Segment(ts, &s)
			}
			r := e.Report(false)
			got := fmt.Sprintf("%d conns, %d partial, %d open; closes client %d server %d both %d; TIME_WAIT",
				r.Summary.Connections, r.Summary.Partial, r.Summary.OpenAtEnd, r.Summary.Closes["client"], r.Summary.Closes["server"], r.Summary.Closes["both"])
			for i, h := range r.Hosts {
				if i > 0 {
					got += ","
				}
				got += fmt.Sprintf(" %s %d", h.Address, h.Peak)
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
