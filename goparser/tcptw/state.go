package tcptw

import (
	"net/netip"
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
	SynRetry     int  // retransmission number of this SYN
	Reuse        *Reuse
	Duration     time.Duration // connection age at a closing packet
	Requests     int
	FinToSyn     time.Duration // since the same client's last close towards this server; -1 if none
	PortsInUse   int           // the client's ports tied up towards this server, at a SYN
	PortRange    int
	Evicted      int // open connections this packet made the engine forget (MaxConns)
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
	count     int
	peak      int
	peakTime  time.Time
	timeline  []Point
	maxPoints int
}

// Point is a change point of a population.
type Point struct {
	Time  time.Time
	Count int
}

const maxTimelinePoints = 1 << 20

func (e *Engine) host(a netip.Addr) *hostState {
	h := e.hosts[a]
	if h == nil {
		h = &hostState{addr: a, maxPoints: maxTimelinePoints}
		e.hosts[a] = h
	}
	return h
}

func (h *hostState) change(t time.Time, delta int) {
	h.count += delta
	if h.count > h.peak {
		h.peak, h.peakTime = h.count, t
	}
	n := len(h.timeline)
	switch {
	case n > 0 && h.timeline[n-1].Time.Equal(t):
		h.timeline[n-1].Count = h.count
	case n < h.maxPoints:
		h.timeline = append(h.timeline, Point{t, h.count})
	default:
		// Bounded memory: thin the timeline to every second point.
		for i := 0; i < n/2; i++ {
			h.timeline[i] = h.timeline[2*i+1]
		}
		h.timeline = append(h.timeline[:n/2], Point{t, h.count})
	}
}

// pairKey is a client host talking to one server endpoint.
type pairKey struct {
	client netip.Addr
	server netip.AddrPort
}

// pair aggregates the connections of one client host to one server.
type pair struct {
	key         pairKey
	conns       int
	closedConns int
	perSecond   map[int64]int // new connections per second of capture
	firstSyn    time.Time
	lastSyn     time.Time
	lifetimes   sample
	finToSyn    sample
	requests    int
	oneRequest  int
	closers     [5]int
	connClose   int // closes after an HTTP/1.x "Connection: close" request
	lastClose   time.Time
	open        int
	twClient    int // TIME_WAIT sockets the client holds for this pair
	twServer    int
	twPeak      int // both sides' TIME_WAIT sockets of this pair
	twPeakTime  time.Time
	twClientPk  int // the client's own, which tie up its ports
	clientPorts int
	labels      map[string]int // first request of short connections
	agents      map[string]int
	withReq     int
	bytes       [2]uint64 // payload octets client→server, server→client, of closed connections
}

const maxLabels = 10000

func (e *Engine) pair(client netip.Addr, server netip.AddrPort) *pair {
	k := pairKey{client, server}
	p := e.pairs[k]
	if p == nil {
		p = &pair{key: k, perSecond: make(map[int64]int), labels: make(map[string]int), agents: make(map[string]int)}
		e.pairs[k] = p
	}
	return p
}

func (p *pair) connStarted(t time.Time) {
	p.conns++
	p.open++
	if p.firstSyn.IsZero() {
		p.firstSyn = t
	}
	p.lastSyn = t
	if len(p.perSecond) < 1<<20 {
		p.perSecond[t.Unix()]++
	}
}

func (p *pair) requestSeen() { p.withReq++ }

func (p *pair) connClosed(c *conn, t time.Time) {
	p.closedConns++
	if c.rolesKnown && p.open > 0 {
		p.open--
	}
	p.lifetimes.add(t.Sub(c.start).Seconds())
	p.requests += c.req.count
	p.closers[c.closer]++
	p.bytes[0] += c.bytes[0]
	p.bytes[1] += c.bytes[1]
	if c.req.connClose {
		p.connClose++
	}
	p.lastClose = t
	if c.req.count <= 1 {
		p.oneRequest++
		if c.req.label != "" && (len(p.labels) < maxLabels || p.labels[c.req.label] > 0) {
			p.labels[c.req.label]++
		}
		if c.req.ua != "" && (len(p.agents) < maxLabels || p.agents[c.req.ua] > 0) {
			p.agents[c.req.ua]++
		}
	}
}

func (p *pair) twChange(t time.Time, delta int, byClient bool) {
	if byClient {
		p.twClient += delta
	} else {
		p.twServer += delta
	}
	if n := p.twClient + p.twServer; n > p.twPeak {
		p.twPeak, p.twPeakTime = n, t
	}
	p.twClientPk = max(p.twClientPk, p.twClient)
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

func (s *sample) add(v float64) {
	s.n++
	s.sum += v
	if len(s.vals) < sampleCap {
		s.vals = append(s.vals, v)
		return
	}
	// Deterministic reservoir: replace a slot chosen by the count.
	if i := int(uint64(s.n) * 2654435761 % uint64(s.n)); i < sampleCap {
		s.vals[i] = v
	}
}

func (s *sample) median() float64 {
	if len(s.vals) == 0 {
		return 0
	}
	v := append([]float64(nil), s.vals...)
	sort.Float64s(v)
	return v[len(v)/2]
}
