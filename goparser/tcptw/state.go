package tcptw

import (
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Verdict is the engine's view of one packet.
type Verdict struct {
	Conn         uint64
	FromClient   bool
	RolesKnown   bool
	Closer       Closer
	Holder       netip.AddrPort // who holds (or will hold) TIME_WAIT
	Holder2      netip.AddrPort // the second holder after a simultaneous close
	TWStart      time.Time
	TWUntil      time.Time
	TWActive     bool
	TWStarted    bool // this packet put the holder into TIME_WAIT
	TWRestarted  bool // this packet restarted a TIME_WAIT timer
	Assassinated bool // this RST killed a TIME_WAIT socket
	Population   int  // TIME_WAIT sockets of the holder's host now; -1 when no holder
	Population2  int  // the same of Holder2's host, when there is one
	SynRetry     int  // retransmission number of this SYN
	Reuse        *Reuse
	Duration     time.Duration // connection age at a closing packet
	Requests     int
	FinToSyn     time.Duration // since the same client's last close towards this server; -1 if none
	PortsInUse   int           // the client's ports tied up towards this server, at a SYN
	PortRange    int
	Evicted      int // open connections this packet made the engine forget (MaxConns)
	// Copy: a second copy of a segment (see segSig), which changed nothing.
	Copy bool
}

// Reuse describes a SYN on a 4-tuple still in TIME_WAIT.
type Reuse struct {
	Since    time.Duration // since the TIME_WAIT began
	Accepted bool
	Holder   netip.AddrPort
}

// hostState is one host's TIME_WAIT population over time.
type hostState struct {
	addr      netip.Addr
	idx       uint32 // in Engine.hostList
	count     int
	peak      int
	peakTime  time.Time
	timeline  []point
	maxPoints int
	// delaysFINAck: the host was seen to acknowledge a peer's FIN first
	// with its own FIN, as Linux does in CLOSE_WAIT (see closing).
	delaysFINAck bool
	// sendsDSACK: the host was seen to send a D-SACK.
	sendsDSACK bool
}

// point is a change point of a population: a time as Unix seconds and
// nanoseconds, and the count from then on. 16 octets and no pointer,
// where a time.Time alone takes 24 with one.
type point struct {
	sec   int64
	nsec  int32
	count int32
}

func (p point) time() time.Time { return time.Unix(p.sec, int64(p.nsec)) }

const maxTimelinePoints = 1 << 20

func (e *Engine) host(a netip.Addr) *hostState {
	h := e.hosts[a]
	if h == nil {
		h = &hostState{addr: a, idx: uint32(len(e.hostList)), maxPoints: maxTimelinePoints}
		e.hosts[a] = h
		e.hostList = append(e.hostList, h)
	}
	return h
}

func (h *hostState) change(t time.Time, delta int) {
	h.count += delta
	if h.count > h.peak {
		h.peak, h.peakTime = h.count, t
	}
	pt := point{t.Unix(), int32(t.Nanosecond()), int32(h.count)}
	n := len(h.timeline)
	switch {
	case n > 0 && h.timeline[n-1].sec == pt.sec && h.timeline[n-1].nsec == pt.nsec:
		h.timeline[n-1].count = pt.count
	case n < h.maxPoints:
		h.timeline = append(h.timeline, pt)
	default:
		// Bounded memory: thin the timeline to every second point.
		for i := 0; i < n/2; i++ {
			h.timeline[i] = h.timeline[2*i+1]
		}
		h.timeline = append(h.timeline[:n/2], pt)
	}
}

// pairMapKey is a pairKey laid out without padding, so that the map of
// pairs hashes and compares it as one block of memory.
type pairMapKey struct {
	client, server netip.Addr
	port           uint16
	pad            [3]uint16 // always 0
}

// pairKey is a client host talking to one server endpoint.
type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

// pair aggregates the connections of one client host to one server.
type pair struct {
	key           pairKey
	idx           uint32        // in Engine.pairList
	idle          int32         // of the open connections, those idle (conn.idle)
	hosts         [2]*hostState // the client's and the server's, once looked up
	conns         int
	closedConns   int
	partialClosed int // of closedConns, begun before the capture
	// SYN times (ns) of the last second, for the busiest one-second
	// window of capture: window[head:] are within a second of the last.
	window     []int64
	head       int
	peakRate   int
	firstSyn   time.Time
	lastSyn    time.Time
	lifetimes  sample
	finToSyn   sample
	requests   int
	oneRequest int
	closers    [5]int
	connClose  int // closes after an HTTP/1.x "Connection: close" request
	http10     int // ... of which HTTP/1.0 without keep-alive
	lastClose  time.Time
	open       int
	beside     int           // connections begun while another of the pair sat idle (connStarted)
	handshake  time.Duration // the shortest from a SYN to the client's ACK of the SYN-ACK: the round trip at the capture point (0: none)
	twClient   int           // TIME_WAIT sockets the client holds for this pair
	twServer   int
	twPeak     int // both sides' TIME_WAIT sockets of this pair
	twPeakTime time.Time
	twClientPk int // the client's own, which tie up its ports
	twServerPk int // the server's own for this pair
	// twEntered: the TIME_WAIT sockets the client [0] and the server
	// [1] entered. A side that closed first enters none when an RST
	// ends its socket first (a TLS client's close_notify reaching a
	// server that has closed makes its kernel answer with one).
	twEntered [2]int
	// rstAfterFIN: connections that an RST ended after a FIN.
	rstAfterFIN  int
	respClose    int    // connections whose HTTP/1.x response said "Connection: close"
	serverIdle   sample // server-closed connections: seconds from the last data to the server's FIN
	clientIdle   sample // client-closed connections: the same to the client's FIN, at most clientIdleCap
	tls          int    // closed connections seen from the handshake that are TLS (reqTracker.tls)
	tlsFew       int    // of those, with tlsFewTurns client turns or fewer: a request or two
	tlsH2        int    // of those, whose ClientHello offered HTTP/2 (reqTracker.offersH2)
	tlsNoRequest int    // of those, whose client sent no application data (reqTracker.requested), the failed among them
	tlsFailed    int    // of those, whose client sent nothing after its ClientHello but alerts: the handshake failed
	afterAlert   int    // of the server's closes of those, the FINs that answered the client's close_notify (conn.afterAlert)
	clientPorts  int
	portsPeak    int            // most client ports tied up towards the server at once
	labels       map[string]int // first request of short connections
	agents       map[string]int
	withReq      int
	bytes        [2]uint64 // payload octets client→server, server→client, of closed connections

	// Connections the client closed first (or at the same time as the
	// server) in answer to the server's GOAWAY (conn.goaway), and their
	// seconds from the last data to that GOAWAY.
	goawayCloses int
	goawayIdle   sample
	// Server-closed connections whose server sent GOAWAY before its FIN
	// (conn.goaway): seconds from the last data to that GOAWAY, the idle
	// timeout of Go's HTTP/2 server, which closes 1 s after it. A
	// pointer, made at the first: a pair stays in its size class, and
	// pairs without HTTP/2 server closes pay 8 octets.
	serverGoaway *sample
}

const maxLabels = 10000

func (e *Engine) pair(client netip.Addr, server netip.AddrPort) *pair {
	mk := pairMapKey{client: client, server: server.Addr(), port: server.Port()}
	p := e.pairs[mk]
	if p == nil && len(e.pairList) >= e.cfg.MaxPairs {
		if e.others == nil {
			e.others = e.addPair(pairKey{})
		}
		return e.others
	}
	if p == nil {
		p = e.addPair(pairKey{client, server})
		e.pairs[mk] = p
	}
	return p
}

// addPair makes a pair and puts it in pairList.
func (e *Engine) addPair(key pairKey) *pair {
	p := &pair{key: key, idx: uint32(len(e.pairList)), labels: make(map[string]int), agents: make(map[string]int)}
	e.pairList = append(e.pairList, p)
	return p
}

// rehome moves a connection counted in the other pairs to a pair of its
// own when its handshake completes: a SYN flood from spoofed addresses,
// whose handshakes never do, must not hide the clients that came after
// it. Up to MaxPairs such pairs are made; the other pairs keep the SYN
// in their rate and FIN-to-SYN gaps.
func (e *Engine) rehome(c *conn) {
	client, server := c.ep[0].Addr(), c.ep[1]
	mk := pairMapKey{client: client, server: server.Addr(), port: server.Port()}
	p := e.pairs[mk]
	if p == nil {
		if e.rehomed >= e.cfg.MaxPairs {
			return
		}
		e.rehomed++
		p = e.addPair(pairKey{client, server})
		e.pairs[mk] = p
	}
	o := e.others
	o.conns--
	if c.rolesKnown && o.open > 0 {
		o.open--
	}
	c.pair = p
	p.connStarted(c.start)
}

// pairHost returns the host state of the pair's client (side 0) or
// server (side 1).
func (e *Engine) pairHost(p *pair, side int) *hostState {
	if p.hosts[side] == nil {
		a := p.key.client
		if side == 1 {
			a = p.key.server.Addr()
		}
		p.hosts[side] = e.host(a)
	}
	return p.hosts[side]
}

func (p *pair) connStarted(t time.Time) {
	p.conns++
	// Beside another connection of the client's that it could have
	// used: an idle one (conn.idle). One still in its handshake or
	// waiting for its response is busy, and a client that shares its
	// connections among workers opens its next one beside it; so it does
	// beside one the server sent GOAWAY on, which Go's server closes
	// only a second after.
	if p.idle > 0 {
		p.beside++
	}
	p.open++
	if p.firstSyn.IsZero() {
		p.firstSyn = t
	}
	p.lastSyn = t
	p.portsPeak = max(p.portsPeak, p.portsInUse())
	p.slide(t.UnixNano())
}

func (p *pair) handshakeSeen(d time.Duration) {
	if d > 0 && (p.handshake == 0 || d < p.handshake) {
		p.handshake = d
	}
}

// connGone forgets an open connection that left without closing: an
// attempt replaced by a new SYN on its tuple, or one evicted.
func (p *pair) connGone(c *conn) {
	if c.rolesKnown && p.open > 0 {
		p.open--
	}
	c.setIdle(false)
}

// slide adds a SYN at ns to the one-second window and keeps the most
// SYNs any window (t-1 s, t] held: two SYNs a second apart are 1/s, and a
// burst that straddles a calendar second counts whole.
func (p *pair) slide(ns int64) {
	if n := len(p.window); n > 0 && ns < p.window[n-1] {
		if ns < p.window[n-1]-int64(time.Second) {
			p.window, p.head = p.window[:0], 0 // the clock stepped back (appended files)
		} else {
			// A little out of order (SYNs of different ports through
			// different queues, or merged captures): in its place.
			i := p.head + sort.Search(n-p.head, func(i int) bool { return p.window[p.head+i] > ns })
			p.window = slices.Insert(p.window, i, ns)
			ns = p.window[len(p.window)-1]
			p.expire(ns)
			p.peakRate = max(p.peakRate, len(p.window)-p.head)
			return
		}
	}
	p.expire(ns)
	if p.head > 1024 && p.head > len(p.window)/2 {
		p.window = append(p.window[:0], p.window[p.head:]...)
		p.head = 0
	}
	p.window = append(p.window, ns)
	p.peakRate = max(p.peakRate, len(p.window)-p.head)
}

// expire drops from the window the SYNs that (ns-1 s, ns] no longer holds.
func (p *pair) expire(ns int64) {
	for p.head < len(p.window) && p.window[p.head] <= ns-int64(time.Second) {
		p.head++
	}
}

func (p *pair) requestSeen() { p.withReq++ }

func (p *pair) connClosed(c *conn, t time.Time) {
	p.closedConns++
	if c.rolesKnown && p.open > 0 {
		p.open--
	}
	c.setIdle(false)
	// A connection's TIME_WAIT socket starts with its last segment: it
	// holds the port once, not as well as the open connection.
	p.portsPeak = max(p.portsPeak, p.portsInUse())
	if c.rolesKnown {
		// A connection begun before the capture has no known start, nor
		// a known number of requests.
		p.lifetimes.add(t.Sub(c.start).Seconds())
		p.requests += c.req.count
	} else {
		p.partialClosed++
	}
	p.closers[c.closer]++
	p.bytes[0] += c.bytes[0]
	p.bytes[1] += c.bytes[1]
	if c.req.connClose {
		p.connClose++
		if c.req.http10 {
			p.http10++
		}
	}
	if c.respClose {
		p.respClose++
	}
	if c.closer == CloserServer && c.rolesKnown {
		p.serverIdle.add(c.idleAtFIN.Seconds())
		if c.goaway {
			if p.serverGoaway == nil {
				p.serverGoaway = new(sample)
			}
			p.serverGoaway.add(c.idleAtGoaway.Seconds())
		}
	}
	if c.closer == CloserClient && c.rolesKnown {
		p.clientIdle.addUpTo(c.idleAtFIN.Seconds(), clientIdleCap)
	}
	if c.rolesKnown && c.req.tls {
		p.tls++
		if c.req.fewTurns() {
			p.tlsFew++
		}
		if c.req.offersH2 {
			p.tlsH2++
		}
		if c.req.turns <= 1 {
			p.tlsFailed++
		}
		if !c.req.requested {
			p.tlsNoRequest++
		}
		if c.closer == CloserServer && c.afterAlert {
			p.afterAlert++
		}
	}
	if c.goaway && (c.closer == CloserClient || c.closer == CloserBoth) && c.rolesKnown {
		p.goawayCloses++
		p.goawayIdle.add(c.idleAtGoaway.Seconds())
	}
	p.lastClose = t
	if knownOneRequest(c) {
		p.oneRequest++
	}
	// The requests behind short connections: those that left a TIME_WAIT
	// socket (an RST leaves none).
	if knownOneRequest(c) && c.closer != CloserRST {
		if c.req.label != "" && (len(p.labels) < maxLabels || p.labels[c.req.label] > 0) {
			p.labels[c.req.label]++
		}
		if c.req.ua != "" && (len(p.agents) < maxLabels || p.agents[c.req.ua] > 0) {
			p.agents[c.req.ua]++
		}
	}
}

// knownOneRequest reports whether the connection is known to have carried
// exactly one request: seen from its handshake (a connection begun before
// the capture may have carried others), with one HTTP request. A
// connection without a request seen (TLS, other protocols) tells nothing
// about HTTP keep-alive.
func knownOneRequest(c *conn) bool { return c.rolesKnown && c.req.count == 1 }

func (p *pair) twChange(t time.Time, delta int, byClient bool) {
	if byClient {
		p.twClient += delta
	} else {
		p.twServer += delta
	}
	if n := p.twClient + p.twServer; n > p.twPeak {
		p.twPeak, p.twPeakTime = n, t
	}
	if delta > 0 && byClient {
		p.twEntered[0]++
	} else if delta > 0 {
		p.twEntered[1]++
	}
	p.twClientPk = max(p.twClientPk, p.twClient)
	p.twServerPk = max(p.twServerPk, p.twServer)
}

// portsInUse counts the client's ports tied up towards the server: open
// connections and the TIME_WAIT sockets the client itself holds.
func (p *pair) portsInUse() int { return p.open + p.twClient }

// sample keeps a bounded reservoir of values for medians.
type sample struct {
	n    int
	vals []float64
	sum  float64
}

const sampleCap = 4096

// clientIdleCap bounds the client's idle sample: client-closed storms are
// the common case, and the finding needs no more than whether the median
// is a second or more, and about how long. 64 values (512 octets a pair)
// keep the memory per connection of a capture of many small pairs within
// 2 octets of what it was without them; the median is exact up to 64
// client closes a pair.
const clientIdleCap = 64

func (s *sample) add(v float64) { s.addUpTo(v, sampleCap) }

// addUpTo adds v to a sample that keeps at most limit values.
func (s *sample) addUpTo(v float64, limit int) {
	s.n++
	s.sum += v
	if len(s.vals) < limit {
		s.vals = append(s.vals, v)
		return
	}
	// Reservoir sampling (Vitter's algorithm R): the n-th value replaces
	// a slot with probability limit/n, so every value seen is kept with
	// the same probability. The "random" index is a hash of n, so that
	// every pass over a capture (tshark -2, a single pass, twreport) keeps
	// the same values.
	if i := splitmix64(uint64(s.n)) % uint64(s.n); i < uint64(limit) {
		s.vals[i] = v
	}
}

// merge adds from's counts to s, and its values as addUpTo would with
// limit: offered counts the values offered to s by merges so far, as
// s.n counts those added.
func (s *sample) merge(from *sample, limit int, offered *int) {
	s.n += from.n
	s.sum += from.sum
	for _, v := range from.vals {
		*offered++
		if len(s.vals) < limit {
			s.vals = append(s.vals, v)
		} else if i := splitmix64(uint64(*offered)) % uint64(*offered); i < uint64(limit) {
			s.vals[i] = v
		}
	}
}

// splitmix64 is a bijective mix of x with good avalanche, for a
// deterministic pseudo-random number per count.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// medianOrNil is the median, or nil (the report's null) for a sample
// that has seen no value.
func (s *sample) medianOrNil() *float64 {
	if s.n == 0 {
		return nil
	}
	m := s.median()
	return &m
}

func (s *sample) median() float64 {
	if len(s.vals) == 0 {
		return 0
	}
	v := append([]float64(nil), s.vals...)
	return nth(v, len(v)/2)
}

// nth returns the value at index k of v sorted, as sort.Float64s would
// place it, reordering v: a selection in linear time rather than a sort
// (the report takes two medians of up to 4,096 values per pair).
func nth(v []float64, k int) float64 {
	for _, x := range v {
		if x != x {
			sort.Float64s(v) // NaNs: leave their order to sort
			return v[k]
		}
	}
	lo, hi := 0, len(v)-1
	for lo < hi {
		// Hoare partition around the middle element.
		p := v[lo+(hi-lo)/2]
		i, j := lo, hi
		for i <= j {
			for v[i] < p {
				i++
			}
			for v[j] > p {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}

// mergePairs is the pairs of several clients of one server as one, for
// the server's findings: counts add up and samples join. Its rate is the
// server's, over the time from the first SYN of any of them to the last,
// never above the sum of their busiest seconds.
func mergePairs(ps []*pair) *pair {
	m := &pair{key: ps[0].key, labels: map[string]int{}, agents: map[string]int{}}
	// The merged samples keep no more values than a pair's: all of every
	// pair's took 73 MiB more to report a million connections. offered
	// counts the values offered to each (lifetimes, finToSyn, serverIdle,
	// clientIdle, goawayIdle, serverGoaway).
	var offered [6]int
	for _, p := range ps {
		m.conns += p.conns
		m.closedConns += p.closedConns
		m.partialClosed += p.partialClosed
		m.peakRate += p.peakRate
		if !p.firstSyn.IsZero() && (m.firstSyn.IsZero() || p.firstSyn.Before(m.firstSyn)) {
			m.firstSyn = p.firstSyn
		}
		if p.lastSyn.After(m.lastSyn) {
			m.lastSyn = p.lastSyn
		}
		m.lifetimes.merge(&p.lifetimes, sampleCap, &offered[0])
		m.finToSyn.merge(&p.finToSyn, sampleCap, &offered[1])
		m.serverIdle.merge(&p.serverIdle, sampleCap, &offered[2])
		m.clientIdle.merge(&p.clientIdle, clientIdleCap, &offered[3])
		m.goawayIdle.merge(&p.goawayIdle, sampleCap, &offered[4])
		if p.serverGoaway != nil {
			if m.serverGoaway == nil {
				m.serverGoaway = new(sample)
			}
			m.serverGoaway.merge(p.serverGoaway, sampleCap, &offered[5])
		}
		m.tls += p.tls
		m.tlsFew += p.tlsFew
		m.tlsH2 += p.tlsH2
		m.tlsFailed += p.tlsFailed
		m.tlsNoRequest += p.tlsNoRequest
		m.afterAlert += p.afterAlert
		m.requests += p.requests
		m.oneRequest += p.oneRequest
		for i, n := range p.closers {
			m.closers[i] += n
		}
		m.connClose += p.connClose
		m.http10 += p.http10
		m.respClose += p.respClose
		m.beside += p.beside
		m.handshakeSeen(p.handshake)
		m.twPeak += p.twPeak
		m.twClientPk += p.twClientPk
		m.twServerPk += p.twServerPk
		m.twEntered[0] += p.twEntered[0]
		m.twEntered[1] += p.twEntered[1]
		m.rstAfterFIN += p.rstAfterFIN
		m.goawayCloses += p.goawayCloses
		m.bytes[0] += p.bytes[0]
		m.bytes[1] += p.bytes[1]
		for l, n := range p.labels {
			m.labels[l] += n
		}
		for a, n := range p.agents {
			m.agents[a] += n
		}
	}
	return m
}
