// Package tcptw tracks TCP connections in a capture and estimates, the way
// the Linux kernel behaves, which endpoint holds each connection in
// TIME_WAIT and for how long, how many TIME_WAIT sockets each host holds
// over time, how many ephemeral ports each client ties up towards each
// server, and which requests the short connections carried.
//
// Kernel facts it follows (net/ipv4/tcp_minisocks.c):
//   - TIME_WAIT lasts TCP_TIMEWAIT_LEN, a fixed 60 s (tcp_fin_timeout is the
//     FIN_WAIT_2 timeout, not this).
//   - The side that sends the first FIN holds TIME_WAIT; after a
//     simultaneous close both do; a connection ended by RST leaves none.
//   - TIME_WAIT starts once the holder has both acknowledged the peer's FIN
//     and had its own FIN acknowledged.
//   - A segment from the peer that reaches the TIME_WAIT socket restarts
//     the 60 s (a bare in-window ACK, a retransmitted FIN); an in-window
//     RST kills the socket (tcp_rfc1337=0).
//   - A SYN for the 4-tuple is accepted by the TIME_WAIT socket when its
//     sequence number is after the old connection's, or its timestamp is
//     newer (RFC 6191); otherwise the kernel answers with an ACK.
package tcptw

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/internal/evict"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// Config sets the engine's model. Zero fields take defaults.
type Config struct {
	TimeWait time.Duration // TCP_TIMEWAIT_LEN; 60 s on Linux
	PortLo   uint16        // ephemeral port range (ip_local_port_range)
	PortHi   uint16
	MaxConns int // open connections tracked; the least recently active are dropped
	// MaxPairs bounds the client -> server pairs followed one by one
	// (default 65536): a SYN flood or a scan from random addresses makes
	// a pair of nearly every SYN. Past it, the connections of new pairs
	// are counted together, in one pair of "other clients".
	MaxPairs int
}

func (c Config) withDefaults() Config {
	if c.TimeWait <= 0 {
		c.TimeWait = 60 * time.Second
	}
	if c.PortLo == 0 && c.PortHi == 0 {
		c.PortLo, c.PortHi = 32768, 60999
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 1 << 20
	}
	if c.MaxPairs <= 0 {
		c.MaxPairs = 1 << 16
	}
	return c
}

// Closer says how a connection ended.
type Closer uint8

const (
	CloserNone Closer = iota
	CloserClient
	CloserServer
	CloserBoth // simultaneous close: both sides hold TIME_WAIT
	CloserRST
)

var closerNames = [...]string{"", "client", "server", "both", "rst"}

func (c Closer) String() string { return closerNames[c] }

// tupleKey orders a connection's endpoints so both directions share it.
// Its fields leave no padding, so that maps hash and compare it as one
// block of memory rather than field by field.
type tupleKey struct {
	loAddr, hiAddr netip.Addr
	loPort, hiPort uint16
	pad            uint32 // always 0
}

func keyOf(a, b netip.AddrPort) tupleKey {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return tupleKey{loAddr: a.Addr(), hiAddr: b.Addr(), loPort: a.Port(), hiPort: b.Port()}
}

// connTable maps a tuple to its open connection. A tuple of two IPv4
// endpoints (nearly all) is keyed by their endpoint codes in a connMap.
// Other tuples are in a Go map, keyed by tupleKey: codes would intern
// their addresses for good.
type connTable struct {
	v4    connMap
	other map[tupleKey]*conn
}

func newConnTable() connTable {
	return connTable{other: make(map[tupleKey]*conn)}
}

func key4(a, b netip.AddrPort) (twKey, bool) {
	if !a.Addr().Is4() || !b.Addr().Is4() {
		return twKey{}, false
	}
	return twKeyFrom(code4(a), code4(b)), true
}

func (t *connTable) get(a, b netip.AddrPort) *conn {
	if k, ok := key4(a, b); ok {
		return t.v4.get(k)
	}
	return t.other[keyOf(a, b)]
}

func (t *connTable) put(a, b netip.AddrPort, c *conn) {
	if k, ok := key4(a, b); ok {
		t.v4.put(k, c)
		return
	}
	t.other[keyOf(a, b)] = c
}

// remove forgets the tuple's connection if it is c.
func (t *connTable) remove(a, b netip.AddrPort, c *conn) {
	if k, ok := key4(a, b); ok {
		t.v4.remove(k, c)
		return
	}
	if k := keyOf(a, b); t.other[k] == c {
		delete(t.other, k)
	}
}

func (t *connTable) len() int { return t.v4.n + len(t.other) }

// all yields every open connection. The caller must not add or remove
// any meanwhile.
func (t *connTable) all(yield func(*conn) bool) {
	for c := range t.v4.all {
		if !yield(c) {
			return
		}
	}
	for _, c := range t.other {
		if !yield(c) {
			return
		}
	}
}

type conn struct {
	id         uint64
	ep         [2]netip.AddrPort // ep[0] is the client when rolesKnown
	rolesKnown bool
	start      time.Time
	last       time.Time
	synSeq     uint32
	synCount   int
	synAck     bool
	hsDone     bool // the client's ACK of the SYN-ACK was seen (pair.handshakeSeen)
	idle       bool // no request outstanding, reusable: the server's data came last, no FIN nor server GOAWAY (pair.beside)
	bytes      [2]uint64
	nxt        [2]uint32
	nxtOK      [2]bool
	ts         [2]uint32
	tsOK       [2]bool
	fin        [2]bool
	finSeq     [2]uint32
	finAcked   [2]bool // this side's FIN was acknowledged
	ackedPeer  [2]bool // this side acknowledged the peer's FIN
	closer     Closer
	closedAt   time.Time
	closed     bool
	tw         [2]uint32 // TIME_WAIT records started by this connection, index + 1
	twCheck    bool      // the tuple had a TIME_WAIT socket when this connection began
	// For a simultaneous close whose second FIN the capture lost
	// (closing): ackSeq is the sequence number of this side's first
	// segment that acknowledged the peer's FIN, ackFirst that it answered
	// the FIN's first arrival (the peer had sent nothing again since its
	// FIN by then, or the segment reports no duplicate where D-SACKs are
	// expected: sack), and resent that this side sent data or a FIN
	// again after its FIN.
	ackSeq   [2]uint32
	ackFirst [2]bool
	resent   [2]bool
	// sackSYN: the SYN offered SACK; sack: the SYN-ACK too.
	sackSYN, sack bool
	// pureAck: when this side's first acknowledgement of the peer's FIN
	// was a segment without FIN or data, sent before the peer resent
	// anything, and the FIN was bare, its time (Unix nanoseconds); 0
	// otherwise. bareFIN: this side's FIN carried no data, and the peer
	// had acknowledged everything before it (lastAck: the peer's last
	// acknowledgement number, from its last segment with ACK).
	pureAck [2]int64
	lastAck [2]uint32
	bareFIN [2]bool
	// refused: the SYN hit a socket of an earlier connection on the
	// tuple that answered it with an ACK: a TIME_WAIT socket that refused
	// it, or one whose peer's RST was lost (RFC 5961's challenge ACK).
	// The client's RST to that ACK does not end the attempt: its kernel
	// resends the same SYN, a retransmission.
	refused   bool
	req       reqTracker
	respClose bool      // an HTTP/1.x response said "Connection: close"
	lastData  time.Time // the last segment with data, either way (not HTTP/2 connection management, h2Control, nor TLS alerts)
	// alertAt: over TLS, when each side last sent a segment of records
	// that look like alerts alone (tlsAlert), at alertSeq, kept out of
	// lastData: its close_notify, unless the side sends more after it,
	// which makes it data (a TLS 1.3 record of 2 octets looks the same).
	// In ns since 1970; 0: none.
	alertAt   [2]int64
	alertSeq  [2]uint32
	idleAtFIN time.Duration // from lastData to the first FIN
	h2At      [2]uint32     // where each direction's next HTTP/2 frame begins, if h2Sync (h2Control)
	h2Sync    [2]bool
	// afterAlert: the server's FIN came first, after the client's TLS
	// alert (reqTracker.alertLast): its answer to the client's
	// close_notify.
	afterAlert bool
	// goaway: the server sent GOAWAY (in a segment of connection
	// management only) before any FIN, and the client has sent no
	// request since: a client FIN now answers it. srvGoaway: the server
	// sent one, whatever came after. idleAtGoaway: from lastData to the
	// server's first GOAWAY, its idle timeout: a call that crosses it
	// (grpc-go sends a second GOAWAY later) makes the last data newer,
	// not the timeout shorter. clientGoaway: the client sent GOAWAY
	// before the server's first, and before any FIN: the client began
	// the shutdown, and a server GOAWAY after it is the answer (Go's
	// server answers a client's GOAWAY with its own), not the cause.
	goaway       bool
	srvGoaway    bool
	clientGoaway bool
	idleAtGoaway time.Duration
	pair         *pair
	// copies: the last two segments of each direction that carried
	// data or a SYN, FIN or RST (see segSig).
	copies   [2][2]segSig
	copyNext [2]uint8 // which of copies[d] remember overwrites
}

// setIdle marks the connection idle or not, and counts it in its pair's
// idle connections.
func (c *conn) setIdle(on bool) {
	if c.idle == on || c.pair == nil {
		return
	}
	c.idle = on
	if on {
		c.pair.idle++
	} else {
		c.pair.idle--
	}
}

// segSig is what tells a second copy of a segment from a segment: a
// capture on several interfaces (-i any on a host whose traffic crosses
// veth and a bridge) holds each packet twice, microseconds apart, which
// the hosts' TCP never saw. A retransmission looks the same but comes a
// retransmission timeout later (200 ms at least on Linux; a tail loss
// probe 10 ms), so copies are the identical segments within copyWindow.
// Pure ACKs are left out: a receiver's duplicate ACKs can be identical
// and that close together, and a second copy of one changes nothing.
//
// A segment is kept as its time and a hash of what else tells it apart
// (sequence and acknowledgement numbers, timestamp, length, window and
// flags): 16 octets, as every tracked connection keeps four.
type segSig struct {
	at int64 // ns since 1970; 0: none
	h  uint64
}

const copyWindow = int64(time.Millisecond)

func sigOf(t time.Time, s *tcpdecode.Segment) segSig {
	var f uint8
	if s.SYN {
		f |= 1
	}
	if s.ACK {
		f |= 2
	}
	if s.FIN {
		f |= 4
	}
	if s.RST {
		f |= 8
	}
	if s.HasTS {
		f |= 16
	}
	h := uint64(s.Seq)<<32 | uint64(s.Ack)
	h ^= bits.RotateLeft64((uint64(s.TSval)<<32|uint64(uint32(s.PayloadLen)))*0x9e3779b97f4a7c15, 29)
	h ^= (uint64(s.Window)<<8 | uint64(f)) * 0xc2b2ae3d27d4eb4f
	return segSig{at: t.UnixNano(), h: h}
}

// telling: the segment carries data or a SYN, FIN or RST (not a pure ACK).
func telling(s *tcpdecode.Segment) bool { return s.PayloadLen > 0 || s.SYN || s.FIN || s.RST }

// copyOf reports whether g is a second copy of o.
func (g *segSig) copyOf(o *segSig) bool {
	return g.h == o.h && o.at != 0 && g.at >= o.at && g.at-o.at <= copyWindow
}

// copied reports whether g, a segment of direction d, is a second copy of
// one of the last two that remember kept.
func (c *conn) copied(d int, g *segSig) bool {
	return g.copyOf(&c.copies[d][0]) || g.copyOf(&c.copies[d][1])
}

// remember keeps g, a telling segment of direction d, for copied.
func (c *conn) remember(d int, g *segSig) {
	c.copies[d][c.copyNext[d]] = *g
	c.copyNext[d] ^= 1
}

// finalSeg is a segment that finished a connection, for its second copy:
// the connection is no longer tracked when that comes.
type finalSeg struct {
	src, dst netip.AddrPort
	sig      segSig
}

func (c *conn) side(src netip.AddrPort) int {
	if src == c.ep[0] {
		return 0
	}
	return 1
}

// Engine is the connection tracker. Feed it segments in capture order.
type Engine struct {
	cfg      Config
	conns    connTable
	tw       twStore
	tws      twIndex          // at most one TIME_WAIT socket per tuple and holder side
	tws2     map[twKey]uint32 // the second holder of a simultaneous close
	expiry   expiryQueue
	addrIDs  map[netip.Addr]uint32 // endpoint codes of addresses other than IPv4
	addrs    []netip.Addr
	hosts    map[netip.Addr]*hostState
	hostList []*hostState // by hostState.idx
	pairs    map[pairMapKey]*pair
	pairList []*pair // by pair.idx
	// others: the pair of the connections of pairs past MaxPairs, made
	// at the first; its key's addresses are not valid ones. rehomed:
	// the pairs made past MaxPairs for connections that completed their
	// handshake (rehome), at most MaxPairs too.
	others  *pair
	rehomed int
	servers map[netip.AddrPort]int32 // serverScore
	spare   []*conn                  // closed connections, for reuse
	reqs    reqCache
	nextID  uint64
	now     time.Time
	first   time.Time
	rep     reportState
	verdict Verdict
	finals  [8]finalSeg // the last segments that finished connections
	nFinals int
	resets  resets // the last connections that RSTs ended
}

// New returns an Engine.
func New(cfg Config) *Engine {
	return &Engine{
		cfg:     cfg.withDefaults(),
		conns:   newConnTable(),
		tws2:    make(map[twKey]uint32),
		addrIDs: make(map[netip.Addr]uint32),
		hosts:   make(map[netip.Addr]*hostState),
		pairs:   make(map[pairMapKey]*pair),
		servers: make(map[netip.AddrPort]int32),
	}
}

// Config returns the engine's configuration with defaults applied.
func (e *Engine) Config() Config { return e.cfg }

// Advance moves the engine's clock to t (the end of a capture that went
// on after its last packet), ending the TIME_WAIT sockets that expire by
// then.
func (e *Engine) Advance(t time.Time) {
	if t.After(e.now) {
		e.now = t
	}
	e.expire(t)
}

// ShortFrame counts a TCP frame that the capture's snap length cut inside
// the fixed TCP header (tcpdecode.ErrShort): the report warns of them, as
// a capture of nothing else would otherwise read as one without TCP.
func (e *Engine) ShortFrame() { e.rep.short++ }

func seqAfter(a, b uint32) bool { return int32(a-b) > 0 }

// newConn starts tracking a connection. mayHaveTW is false when the
// caller knows that the tuple has no TIME_WAIT socket.
func (e *Engine) newConn(client, server netip.AddrPort, known, mayHaveTW bool, t time.Time) *conn {
	if e.conns.len() >= e.cfg.MaxConns {
		e.evict()
	}
	e.nextID++
	var c *conn
	if n := len(e.spare); n > 0 {
		c, e.spare = e.spare[n-1], e.spare[:n-1]
	} else {
		c = new(conn)
	}
	*c = conn{id: e.nextID, ep: [2]netip.AddrPort{client, server}, rolesKnown: known, start: t}
	c.req.cache = &e.reqs
	c.pair = e.pair(client.Addr(), server)
	// Only this connection can put its tuple into TIME_WAIT while it is
	// tracked (and it is finished when it does): unless the tuple already
	// has a TIME_WAIT socket, its segments need no look-up for one.
	c.twCheck = mayHaveTW && e.hasTW(e.twKeyOf(client, server))
	e.conns.put(client, server, c)
	e.rep.conns++
	if !known {
		e.rep.partial++
	}
	return c
}

// evict drops the least recently active eighth of the open connections,
// so that hostile captures (SYN floods with random tuples) stay bounded.
func (e *Engine) evict() {
	n := e.conns.len() / 8
	if n < 1 {
		n = 1
	}
	times := make([]int64, 0, e.conns.len())
	for c := range e.conns.all {
		times = append(times, c.last.UnixNano())
	}
	cut := time.Unix(0, evict.Cutoff(times, n))
	var gone []*conn
	for c := range e.conns.all {
		if !c.last.After(cut) {
			gone = append(gone, c)
		}
	}
	// In the order they began, not the table's, which follows its seed.
	slices.SortFunc(gone, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })
	for _, c := range gone {
		e.conns.remove(c.ep[0], c.ep[1], c)
		if c.pair != nil {
			c.pair.connGone(c)
		}
		e.rep.evicted++
		e.verdict.Evicted++
	}
}

// Segment processes one TCP segment seen at time t and returns the
// verdict for its packet. The verdict is valid until the next call.
func (e *Engine) Segment(t time.Time, s *tcpdecode.Segment) *Verdict {
	if e.first.IsZero() {
		e.first = t
	}
	if t.After(e.now) {
		e.now = t
	}
	e.expire(t)
	v := &e.verdict
	*v = Verdict{Population: -1, FinToSyn: -1}
	e.rep.packets++

	c := e.conns.get(s.Src, s.Dst)
	// Second copies (see segSig): of a telling segment of a tracked
	// connection, or of a segment that finished one (no SYN).
	var sig segSig
	tell := telling(s)
	synOnly := s.SYN && !s.ACK
	if tell || (c == nil && !synOnly && e.nFinals > 0) {
		sig = sigOf(t, s)
		if c != nil {
			if c.copied(c.side(s.Src), &sig) {
				return e.copyVerdict(c, s, v)
			}
		} else if !synOnly && e.finalCopy(s, &sig) {
			return e.copyVerdict(nil, s, v)
		}
	}

	if s.SYN && !s.ACK && !s.RST {
		c = e.syn(c, t, s, v)
	} else if c == nil {
		if k := e.twKeyOf(s.Src, s.Dst); e.late(k, t, s, v) || e.afterReset(k, t, s, v) {
			return v
		}
		// Mid-stream: guess the client from the ports.
		client, server := s.Src, s.Dst
		if s.SYN && s.ACK {
			client, server = s.Dst, s.Src
		} else if e.looksLikeServer(s.Src, s.Dst) {
			client, server = s.Dst, s.Src
		}
		if !(s.SYN && s.ACK) {
			e.seenMidStream(client, server)
		}
		c = e.newConn(client, server, s.SYN && s.ACK, true, t)
	} else if !c.rolesKnown && (s.FIN || s.RST) && !c.fin[0] && !c.fin[1] && e.serverScore(c.ep[0]) > e.serverScore(c.ep[1]) {
		// Begun before the capture, and the guess of its first packet
		// was wrong: later connections showed which endpoint serves.
		e.swapRoles(c)
	}
	c.last = t
	d := c.side(s.Src)
	o := 1 - d
	v.Conn = c.id
	v.FromClient = d == 0
	v.RolesKnown = c.rolesKnown

	// Segments reaching a TIME_WAIT socket of the receiver.
	if c.twCheck && !(s.SYN && !s.ACK) {
		if tw, ok := e.twFor(e.twKeyOf(s.Src, s.Dst), s.Dst); ok {
			e.toTimeWait(tw, t, s, v)
		}
	}

	if s.SYN && s.ACK {
		c.synAck = true
		c.sack = c.sackSYN && s.SACKPerm
	} else if d == 0 && c.synAck && !c.hsDone && s.ACK && c.rolesKnown && c.pair != nil {
		// The client's ACK of the SYN-ACK: the time from the SYN is the
		// round trip as the capture point sees it, which a client's
		// close right after a response it waited for carries too.
		c.hsDone = true
		if c.pair == e.others {
			e.rehome(c)
		}
		c.pair.handshakeSeen(t.Sub(c.start))
	}
	// The direction's first payload, right after its SYN.
	start := s.PayloadLen > 0 && c.bytes[d] == 0 && c.synAck && c.nxtOK[d] && s.Seq == c.nxt[d]
	c.bytes[d] += uint64(s.PayloadLen)
	end := s.Seq + uint32(s.PayloadLen)
	if s.SYN {
		end++
	}
	if s.FIN {
		end++
	}
	if !c.nxtOK[d] || seqAfter(end, c.nxt[d]) {
		c.nxt[d], c.nxtOK[d] = end, true
	}
	if s.HasTS {
		c.ts[d], c.tsOK[d] = s.TSval, true
	}
	// alert: over TLS, the segment ends with an alert record, as a
	// close_notify does; onlyAlerts: it holds nothing else (tlsAlert).
	var alert, onlyAlerts bool
	if c.req.tls && s.PayloadLen > 0 {
		alert, onlyAlerts = tlsAlert(s.Payload)
	}
	if d == 0 && s.PayloadLen > 0 && !c.fin[0] {
		before := c.req.count
		c.req.clientPayload(s.Payload, alert)
		if c.req.count > before {
			// A request after the server's GOAWAY (it crossed the
			// GOAWAY, or the client ignores it): a later close is not
			// the answer to that GOAWAY.
			c.goaway = false
			if before == 0 && c.pair != nil {
				c.pair.requestSeen()
			}
		}
	}

	if d == 1 && s.PayloadLen > 0 && !c.respClose && c.req.count > 0 && responseSaysClose(s.Payload) {
		c.respClose = true
	}
	if d == 1 && s.PayloadLen > 0 && c.req.tls {
		c.req.srvSpoke = true
		if !c.fin[1] && alert {
			c.req.srvAlert = true // the server began the close (a client's alert after it answers it)
		}
	}

	// An alert is the close, not an exchange: a connection is as idle
	// at its close as before its close_notify (a response sent with it
	// is data).
	data := s.PayloadLen > 0
	if data && c.req.tls {
		if a := c.alertAt[d]; a != 0 && s.Seq != c.alertSeq[d] {
			// More after it (not the same again): it was data.
			if at := time.Unix(0, a); at.After(c.lastData) {
				c.lastData = at
			}
			c.alertAt[d] = 0
		}
		if onlyAlerts {
			c.alertAt[d], c.alertSeq[d] = t.UnixNano(), s.Seq
			data = false
		}
	}
	if data && (c.h2Sync[d] || start) {
		if ctl, goaway := e.h2Control(c, d, s, start); ctl {
			data = false
			// The server's GOAWAYs (grpc-go sends a second once its
			// PING is acked) before either side closed: a GOAWAY after
			// the client's FIN answers nothing, and one after the
			// client's own GOAWAY answers that. The idle is the first's.
			switch {
			case !goaway || c.fin[0] || c.fin[1]:
			case d == 0 && !c.srvGoaway:
				c.clientGoaway = true
			case d == 1 && !c.clientGoaway:
				c.goaway = true
				if !c.srvGoaway {
					c.srvGoaway = true
					c.idleAtGoaway = c.idleSince(t)
				}
			}
		}
	}

	if !c.closed {
		e.closing(c, d, o, t, s, v, data)
		if c.closed {
			if sig.at == 0 {
				sig = sigOf(t, s)
			}
			e.finals[e.nFinals%len(e.finals)] = finalSeg{s.Src, s.Dst, sig}
			e.nFinals++
		}
	}
	if data {
		c.lastData = t
	}
	// Idle after the server's data (the response came) until the
	// client's next; going away from the first FIN or the server's
	// GOAWAY on.
	if c.rolesKnown && !c.closed {
		switch {
		case c.fin[0] || c.fin[1] || c.srvGoaway:
			c.setIdle(false)
		case data:
			c.setIdle(d == 1)
		}
	}
	e.fill(c, v)
	if tell {
		c.remember(d, &sig)
	}
	if c.closed && len(e.spare) < 1024 {
		// Nothing refers to a finished connection any more.
		e.spare = append(e.spare, c)
	}
	return v
}

// copyVerdict is the verdict of a second copy of a segment: it changes
// nothing and counts for nothing but itself.
func (e *Engine) copyVerdict(c *conn, s *tcpdecode.Segment, v *Verdict) *Verdict {
	e.rep.copies++
	v.Copy = true
	if c != nil {
		v.Conn = c.id
		v.FromClient = c.side(s.Src) == 0
		v.RolesKnown = c.rolesKnown
	}
	return v
}

// finalCopy reports whether s is a second copy of a segment that finished
// a connection.
func (e *Engine) finalCopy(s *tcpdecode.Segment, g *segSig) bool {
	for i := range min(e.nFinals, len(e.finals)) {
		if f := &e.finals[i]; g.copyOf(&f.sig) && f.src == s.Src && f.dst == s.Dst {
			return true
		}
	}
	return false
}

// serverScore says how much an endpoint looks like a server: SYNs sent
// to it count much, and every other tuple begun before the capture that
// it is part of counts one (a server's endpoint is in many, a client's
// ephemeral port in few).
func (e *Engine) serverScore(ap netip.AddrPort) int32 { return e.servers[ap] }

const (
	synScore    = 1 << 16
	maxServers  = 1 << 16 // endpoints scored; the least telling go beyond
	maxSrvScore = 1 << 30
)

func (e *Engine) score(ap netip.AddrPort, n int32) {
	if len(e.servers) >= maxServers {
		if _, ok := e.servers[ap]; !ok {
			e.forgetScores()
		}
	}
	e.servers[ap] = min(e.servers[ap]+n, maxSrvScore)
}

// forgetScores makes room among the scored endpoints, keeping those that
// tell the most: a capture that begins on a busy server meets thousands
// of clients' ephemeral endpoints, each in one connection, which must
// not push out the servers that SYNs named. It drops the endpoints seen
// once, then those no SYN named, then all.
func (e *Engine) forgetScores() {
	for _, below := range []int32{2, synScore, maxSrvScore + 1} {
		for ap, sc := range e.servers {
			if sc < below {
				delete(e.servers, ap)
			}
		}
		if len(e.servers) < maxServers*3/4 {
			return
		}
	}
}

func (e *Engine) seenMidStream(client, server netip.AddrPort) {
	e.score(client, 1)
	e.score(server, 1)
}

// looksLikeServer guesses, for a connection begun before the capture,
// whether src is its server: the endpoint seen as a server before, else
// by the ports.
func (e *Engine) looksLikeServer(src, dst netip.AddrPort) bool {
	if a, b := e.serverScore(src), e.serverScore(dst); a != b {
		return a > b
	}
	return e.looksLikeServerPort(src.Port(), dst.Port())
}

// swapRoles turns a connection begun before the capture around: its
// client becomes its server. Nothing has been counted for its pair yet
// (that happens when it closes), and its requests were the wrong side's.
func (e *Engine) swapRoles(c *conn) {
	c.ep[0], c.ep[1] = c.ep[1], c.ep[0]
	c.bytes[0], c.bytes[1] = c.bytes[1], c.bytes[0]
	c.nxt[0], c.nxt[1] = c.nxt[1], c.nxt[0]
	c.nxtOK[0], c.nxtOK[1] = c.nxtOK[1], c.nxtOK[0]
	c.ts[0], c.ts[1] = c.ts[1], c.ts[0]
	c.tsOK[0], c.tsOK[1] = c.tsOK[1], c.tsOK[0]
	c.fin[0], c.fin[1] = c.fin[1], c.fin[0]
	c.finSeq[0], c.finSeq[1] = c.finSeq[1], c.finSeq[0]
	c.finAcked[0], c.finAcked[1] = c.finAcked[1], c.finAcked[0]
	c.ackedPeer[0], c.ackedPeer[1] = c.ackedPeer[1], c.ackedPeer[0]
	c.ackSeq[0], c.ackSeq[1] = c.ackSeq[1], c.ackSeq[0]
	c.ackFirst[0], c.ackFirst[1] = c.ackFirst[1], c.ackFirst[0]
	c.pureAck[0], c.pureAck[1] = c.pureAck[1], c.pureAck[0]
	c.lastAck[0], c.lastAck[1] = c.lastAck[1], c.lastAck[0]
	c.bareFIN[0], c.bareFIN[1] = c.bareFIN[1], c.bareFIN[0]
	c.resent[0], c.resent[1] = c.resent[1], c.resent[0]
	c.tw[0], c.tw[1] = c.tw[1], c.tw[0]
	c.copies[0], c.copies[1] = c.copies[1], c.copies[0]
	c.copyNext[0], c.copyNext[1] = c.copyNext[1], c.copyNext[0]
	c.req = reqTracker{cache: &e.reqs}
	c.h2Sync = [2]bool{}
	c.goaway = false
	c.srvGoaway = false
	c.clientGoaway = false
	c.respClose = false
	c.pair = e.pair(c.ep[0].Addr(), c.ep[1])
}

func (e *Engine) looksLikeServerPort(src, dst uint16) bool {
	inRange := func(p uint16) bool { return p >= e.cfg.PortLo && p <= e.cfg.PortHi }
	if inRange(src) != inRange(dst) {
		return !inRange(src)
	}
	return src < dst
}

// syn handles a SYN without ACK: a new connection, a retransmission, or
// an attempt to reuse a 4-tuple that is still in TIME_WAIT.
func (e *Engine) syn(c *conn, t time.Time, s *tcpdecode.Segment, v *Verdict) *conn {
	if c != nil && !c.closed && c.rolesKnown && c.ep[0] == s.Src && c.synSeq == s.Seq && !c.synAck {
		c.synCount++
		v.SynRetry = c.synCount
		e.rep.synRetries++
		e.event(t, EventSYNRetry, c.ep[0], c.ep[1], "")
		return c
	}
	reuse, refused := false, false
	tk := e.twKeyOf(s.Src, s.Dst)
	e.resets.forget(tk)
	hadTW := e.hasTW(tk)
	if hadTW {
		// The receiver (server) holds the tuple in TIME_WAIT: RFC 6191.
		if i, ok := e.twFor(tk, s.Dst); ok {
			tw := e.tw.at(i)
			reuse = true
			accepted := seqAfter(s.Seq, tw.rcvNxt) || (s.HasTS && tw.flags&twTSOK != 0 && int32(tw.tsRecent-s.TSval) < 0)
			// Durations count to the latest time seen, never negative
			// when the capture's clock steps back (appended files).
			v.Reuse = &Reuse{Since: e.now.Sub(tw.start()), Accepted: accepted, Holder: s.Dst}
			e.rep.reuse(accepted)
			e.event(t, reuseKind(accepted), s.Src, s.Dst, s.Dst.String())
			if accepted {
				e.endTW(i, t)
			} else {
				refused = true
			}
		}
		// The sender itself holds the tuple: the kernel let it reuse the
		// port (tcp_tw_reuse), which ends its TIME_WAIT socket.
		if i, ok := e.twFor(tk, s.Src); ok {
			reuse = true
			v.Reuse = &Reuse{Since: e.now.Sub(e.tw.at(i).start()), Accepted: true, Holder: s.Src}
			e.rep.reuse(true)
			e.event(t, EventReuseAccepted, s.Src, s.Dst, s.Src.String())
			e.endTW(i, t)
		}
	}
	_ = reuse
	if e.servers[s.Dst] < synScore {
		e.score(s.Dst, synScore)
	}
	if c != nil && !c.closed && c.pair != nil {
		// The new connection takes the tuple: the old one's port is
		// counted in use once, by the new one.
		c.pair.connGone(c)
	}
	if c != nil {
		// Out of the table first, so that newConn's eviction cannot
		// count it gone again.
		e.conns.remove(c.ep[0], c.ep[1], c)
	}
	nc := e.newConn(s.Src, s.Dst, true, hadTW, t)
	nc.synSeq = s.Seq
	nc.sackSYN = s.SACKPerm
	nc.refused = refused
	if c != nil && c.pair == nc.pair && !c.closed {
		// An earlier attempt on this tuple that never completed.
		e.rep.failedConnects++
	}
	p := nc.pair
	if !p.lastClose.IsZero() {
		v.FinToSyn = e.now.Sub(p.lastClose)
		p.finToSyn.add(v.FinToSyn.Seconds())
	}
	p.connStarted(t)
	v.PortsInUse = p.portsInUse()
	v.PortRange = int(e.cfg.PortHi) - int(e.cfg.PortLo) + 1
	return nc
}

// toTimeWait applies a segment from the peer to a TIME_WAIT socket.
func (e *Engine) toTimeWait(tw uint32, t time.Time, s *tcpdecode.Segment, v *Verdict) {
	inWindow := s.Seq == e.tw.at(tw).rcvNxt
	switch {
	case s.RST && inWindow:
		e.event(t, EventTWAssassinated, s.Src, s.Dst, "")
		e.rep.rstInTW++
		e.endTW(tw, t)
		v.Assassinated = true
	case s.RST:
		// Out of window: ignored by the kernel.
	case s.ACK:
		e.restartTW(tw, t)
		v.TWRestarted = true
		e.rep.twRestarts++
	}
}

// late handles a segment other than a SYN on a tuple without an open
// connection, whose last connection left a socket in TIME_WAIT: a late
// segment of that connection (a duplicate ACK or retransmission the path
// delayed or repeated, a SYN-ACK to a resent SYN, the closed peer's RST
// in answer to one), not one begun before the capture. It reports
// whether the tuple (k) had such a socket.
func (e *Engine) late(k twKey, t time.Time, s *tcpdecode.Segment, v *Verdict) bool {
	// The tuple's sockets, one per holder: the first holder's, and the
	// second's after a simultaneous close. Copied, as an RST may end one.
	type held struct {
		idx    uint32
		holder netip.AddrPort
		host   uint32
	}
	var socks [2]held
	n := 0
	if i, ok := e.tws.get(e, k); ok {
		socks[n] = held{i, e.holder(e.tw.at(i)), e.tw.at(i).host}
		n++
	}
	if i, ok := e.tws2[k]; ok {
		socks[n] = held{i, e.holder(e.tw.at(i)), e.tw.at(i).host}
		n++
	}
	if n == 0 {
		return false
	}
	// A late segment carries the closed connection's numbers: towards a
	// holder, near what it expects next; from a holder, acknowledging
	// about that. A new connection on the tuple whose handshake the
	// capture missed has numbers of its own (a fresh ISN).
	fits := false
	for _, h := range socks[:n] {
		next := e.tw.at(h.idx).rcvNxt
		if (h.holder == s.Dst && near(s.Seq, next)) || (h.holder == s.Src && s.ACK && near(s.Ack, next)) {
			fits = true
		}
	}
	if !fits {
		return false
	}
	r := e.tw.at(socks[0].idx)
	client, _ := e.endpoints(r)
	v.Conn = e.connID(r)
	v.FromClient = s.Src == client
	v.RolesKnown = r.flags&twRolesKnown != 0
	v.Closer = r.closer()
	v.TWStart = r.start()
	for _, h := range socks[:n] {
		if h.holder == s.Dst {
			e.toTimeWait(h.idx, t, s, v)
		}
	}
	v.Holder = socks[0].holder
	v.Population = e.hostList[socks[0].host].count
	if n == 2 {
		v.Holder2, v.Population2 = socks[1].holder, e.hostList[socks[1].host].count
	}
	if r := e.tw.at(socks[0].idx); r.active() {
		v.TWUntil, v.TWActive = r.until(), true
	} else {
		// Ended by this RST.
		v.TWUntil = t
	}
	return true
}

// near reports whether sequence numbers a and b are within lateWindow of
// each other.
func near(a, b uint32) bool {
	d := int32(a - b)
	return d >= -lateWindow && d <= lateWindow
}

// lateWindow is how far from a TIME_WAIT socket's numbers a late segment
// of its connection may be: more than any window in flight, and a 2^-11
// chance for a random ISN.
const lateWindow = 1 << 20

// closing follows FINs, their acknowledgements and RSTs. data: the
// segment carries data (see conn.lastData).
func (e *Engine) closing(c *conn, d, o int, t time.Time, s *tcpdecode.Segment, v *Verdict, data bool) {
	if d == 1 && !c.synAck && c.rolesKnown && s.ACK && !s.SYN && !s.RST && (seqAfter(c.synSeq+1, s.Ack) || seqAfter(s.Ack, c.nxt[0])) {
		// The server answers the SYN with an ACK of nothing the
		// client sent: an earlier connection's socket is still there.
		// (An ACK within what the client sent follows a SYN-ACK the
		// capture missed.)
		c.refused = true
	}
	if s.RST {
		if c.refused && !c.synAck && d == 0 {
			// The client's answer to the ACK of the socket that
			// refused its SYN (toTimeWait saw a TIME_WAIT one reach
			// it): the connect goes on, with the same SYN again.
			return
		}
		if !c.synAck && c.rolesKnown && d == 1 {
			e.rep.failedConnects++
			e.event(t, EventConnectRefused, c.ep[0], c.ep[1], "")
		}
		if c.closer == CloserNone {
			c.closer = CloserRST
			e.event(t, EventAbortiveClose, s.Src, s.Dst, "")
		} else {
			e.event(t, EventRSTAfterFIN, s.Src, s.Dst, "")
			if c.pair != nil {
				c.pair.rstAfterFIN++
			}
		}
		e.resets.add(e.twKeyOf(c.ep[0], c.ep[1]), c, t)
		e.finish(c, t)
		return
	}
	if s.DSACK {
		e.pairHost(c.pair, d).sendsDSACK = true
	}
	if s.ACK {
		c.lastAck[d] = s.Ack // read only for the other side below
	}
	if c.fin[d] && (s.FIN || s.PayloadLen > 0) {
		c.resent[d] = true
	}
	newFIN := s.FIN && !c.fin[d]
	if newFIN {
		c.bareFIN[d] = s.PayloadLen == 0 && c.lastAck[o] == s.Seq
		if !c.fin[o] {
			// How long the connection was idle when it was closed: 0
			// when the FIN comes with data.
			if !data {
				c.idleAtFIN = c.idleSince(t)
			}
		}
		c.fin[d] = true
		c.finSeq[d] = s.Seq + uint32(s.PayloadLen)
		switch {
		case c.closer == CloserNone:
			if d == 0 {
				c.closer = CloserClient
			} else {
				c.closer = CloserServer
				c.afterAlert = c.req.tls && c.req.alertLast
			}
		case c.fin[o] && !(s.ACK && !seqAfter(c.finSeq[o]+1, s.Ack)):
			// This FIN was sent before its sender saw the peer's FIN.
			c.closer = CloserBoth
		case c.fin[o] && c.ackFirst[d] && c.ackSeq[d] == c.finSeq[d]+1:
			// A FIN seen late (a retransmission: the first was lost
			// before the capture), which this side's first
			// acknowledgement of the peer's FIN had already counted:
			// it had sent its FIN before the peer's reached it, and
			// went from FIN_WAIT_1 to CLOSING. A passive closer whose
			// FIN+ACK was lost acknowledges the peer's FIN as FIN + 1
			// too (from LAST_ACK), but only in answer to something the
			// peer sent again: its retransmitted FIN, or data. (Or to
			// an older segment of the peer's that a reordering path
			// delivered after its FIN: taken for a simultaneous close,
			// it needs a loss and a reordering together.)
			c.closer = CloserBoth
		case c.fin[o] && c.pureAck[d] != 0 && c.ackSeq[d] == s.Seq && t.UnixNano() >= c.pureAck[d] && t.UnixNano()-c.pureAck[d] <= deferredFIN.Nanoseconds() &&
			e.pairHost(c.pair, d).delaysFINAck:
			// A FIN right behind this side's ACK of the peer's bare
			// FIN, which did not count it: the side had closed
			// (FIN_WAIT_1) with its FIN not yet sent when the peer's
			// arrived, and Linux answers that at once, going to
			// CLOSING; in CLOSE_WAIT it delays the ACK of a bare FIN
			// with nothing else to acknowledge (delayed-ACK mode
			// after a FIN), so that it rides on the FIN when the
			// application closes: a host seen doing so
			// (delaysFINAck, per address: hosts behind one NAT
			// address count as one). Not so with quick ACKs forced
			// (TCP_QUICKACK, a route's quickack).
			c.closer = CloserBoth
		}
	}
	if s.ACK && c.fin[o] && !seqAfter(c.finSeq[o]+1, s.Ack) {
		if !c.ackedPeer[d] && newFIN && !c.resent[o] {
			// The FIN carries the first acknowledgement of the
			// peer's: a passive closer that waited for its
			// application's close to acknowledge the peer's FIN.
			e.pairHost(c.pair, d).delaysFINAck = true
		}
		if !c.ackedPeer[d] && !s.FIN && s.PayloadLen == 0 && !c.resent[o] && c.bareFIN[o] {
			c.pureAck[d] = t.UnixNano()
		}
		if !c.ackedPeer[d] {
			// After the peer resent its FIN, this may answer the
			// copy (from LAST_ACK, or from CLOSING after FINs that
			// crossed: the same segments). A receiver that
			// negotiated SACK and sends D-SACKs (RFC 2883; Linux
			// unless tcp_dsack=0, but not every stack, so only a
			// host seen sending one) reports that duplicate with
			// one. Without one, the first copy was lost and this
			// answers the FIN's first arrival.
			c.ackSeq[d], c.ackFirst[d] = s.Seq, !c.resent[o] || (c.sack && !s.DSACK && e.pairHost(c.pair, d).sendsDSACK)
		}
		c.ackedPeer[d] = true
		c.finAcked[o] = true
	}
	for x := 0; x < 2; x++ {
		holds := (c.closer == CloserBoth) || (c.closer == CloserClient && x == 0) || (c.closer == CloserServer && x == 1)
		if holds && c.tw[x] == 0 && c.finAcked[x] && c.ackedPeer[x] {
			e.startTW(c, x, t)
			v.TWStarted = true
		}
	}
	if c.finAcked[0] && c.finAcked[1] {
		e.finish(c, t)
	}
}

// deferredFIN is how soon after a side's ACK of the peer's FIN its own
// FIN must follow for both to count as one answer (see closing): the
// kernel sends a FIN it held back microseconds after that ACK (1-2 µs in
// lossy_race), or when TCP small queues or pacing release it.
const deferredFIN = time.Millisecond

// idleSince is how long the connection has been idle at t: since its
// last data, or its start if it carried none.
func (c *conn) idleSince(t time.Time) time.Duration {
	if !c.lastData.IsZero() {
		return max(t.Sub(c.lastData), 0)
	}
	return max(t.Sub(c.start), 0)
}

// finish records a closed connection and shrinks it to its TIME_WAIT
// sockets, which live on in the expiry heap.
func (e *Engine) finish(c *conn, t time.Time) {
	c.closed = true
	c.closedAt = t
	e.conns.remove(c.ep[0], c.ep[1], c)
	e.rep.closed(c, t)
	if c.pair != nil {
		c.pair.connClosed(c, t)
	}
}

// fill adds what is known of the connection to the verdict.
func (e *Engine) fill(c *conn, v *Verdict) {
	v.Closer = c.closer
	v.Requests = c.req.count
	if c.closed || c.fin[0] || c.fin[1] {
		v.Duration = e.now.Sub(c.start)
	}
	for x := 0; x < 2; x++ {
		if c.tw[x] == 0 {
			continue
		}
		// The record's holder is c.ep[x]; it is still the one startTW
		// made: a connection ends with the segment that starts its
		// TIME_WAIT, before any socket can expire.
		if v.Holder.IsValid() {
			v.Holder2 = c.ep[x]
			v.Population2 = e.hostList[e.tw.at(c.tw[x]-1).host].count
			continue
		}
		tw := e.tw.at(c.tw[x] - 1)
		v.Holder = c.ep[x]
		v.TWStart = tw.start()
		v.TWUntil = tw.until()
		v.TWActive = tw.active()
		v.Population = e.hostList[tw.host].count
	}
	if !v.Holder.IsValid() && c.closer != CloserNone && c.closer != CloserRST {
		// Closing, not yet in TIME_WAIT: name who will hold it.
		x := 0
		if c.closer == CloserServer {
			x = 1
		}
		v.Holder = c.ep[x]
		v.Population = e.pairHost(c.pair, x).count
	}
}
