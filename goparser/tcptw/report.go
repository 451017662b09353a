package tcptw

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// EventKind names a notable event.
type EventKind string

const (
	EventReuseAccepted  EventKind = "tuple_reuse_accepted"
	EventReuseRefused   EventKind = "tuple_reuse_refused"
	EventSYNRetry       EventKind = "syn_retransmission"
	EventConnectRefused EventKind = "connect_refused"
	EventAbortiveClose  EventKind = "abortive_close"
	EventRSTAfterFIN    EventKind = "rst_after_fin"
	EventTWAssassinated EventKind = "rst_in_time_wait"
)

func reuseKind(accepted bool) EventKind {
	if accepted {
		return EventReuseAccepted
	}
	return EventReuseRefused
}

// Event is one notable event.
type Event struct {
	Time   float64   `json:"time"`
	Kind   EventKind `json:"kind"`
	Src    string    `json:"src"`
	Dst    string    `json:"dst"`
	Detail string    `json:"detail,omitempty"`
}

const maxEvents = 1000

type reportState struct {
	packets        int
	conns          int
	partial        int
	closes         [5]int
	complete       int // closed, and seen from the handshake
	twStarted      int
	twRestarts     int
	reusesAccepted int
	reusesRefused  int
	synRetries     int
	failedConnects int
	rstInTW        int
	evicted        int
	copies         int // second copies of segments, ignored
	short          int // TCP frames cut inside the fixed header (ShortFrame)
	events         []Event
	eventCounts    map[EventKind]int
}

func (r *reportState) reuse(accepted bool) {
	if accepted {
		r.reusesAccepted++
	} else {
		r.reusesRefused++
	}
}

func (r *reportState) closed(c *conn, t time.Time) {
	if c.rolesKnown {
		r.complete++
	}
	r.closes[c.closer]++
}

func (e *Engine) event(t time.Time, k EventKind, src, dst netip.AddrPort, detail string) {
	if e.rep.eventCounts == nil {
		e.rep.eventCounts = make(map[EventKind]int)
	}
	e.rep.eventCounts[k]++
	if len(e.rep.events) < maxEvents {
		e.rep.events = append(e.rep.events, Event{Time: unix(t), Kind: k, Src: src.String(), Dst: dst.String(), Detail: detail})
	}
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Report is the analysis of a whole capture, for humans (Write) and for
// pipelines (JSON).
type Report struct {
	Summary  Summary        `json:"summary"`
	Hosts    []HostReport   `json:"hosts"`
	Pairs    []PairReport   `json:"pairs"`
	Events   []Event        `json:"events"`
	Counts   map[string]int `json:"event_counts"`
	Requests []Ranked       `json:"short_connection_requests"`
	Agents   []Ranked       `json:"short_connection_user_agents"`
	Findings []string       `json:"findings"`
	// What makes the report less than the capture: frames it could not
	// use.
	Warnings []string `json:"warnings"`
}

// Summary is the capture-wide summary.
type Summary struct {
	Start          *float64       `json:"start"` // null: no TCP packet, no span
	End            *float64       `json:"end"`
	Seconds        float64        `json:"seconds"`
	Packets        int            `json:"tcp_packets"`
	Connections    int            `json:"connections"`
	Complete       int            `json:"complete"`
	Partial        int            `json:"partial"`
	Closes         map[string]int `json:"closes"`
	TimeWaitLen    float64        `json:"time_wait_seconds"`
	PortRange      [2]int         `json:"port_range"`
	TimeWaitTotal  int            `json:"time_wait_sockets"`
	Restarts       int            `json:"time_wait_restarts"`
	Evicted        int            `json:"evicted_connections"`
	OpenAtEnd      int            `json:"open_at_end"`
	TimeWaitAtEnd  int            `json:"time_wait_at_end"`
	ReusesAccepted int            `json:"tuple_reuses_accepted"`
	ReusesRefused  int            `json:"tuple_reuses_refused"`
	SYNRetries     int            `json:"syn_retransmissions"`
	FailedConnects int            `json:"failed_connects"`
	Copies         int            `json:"second_copies,omitempty"` // segments captured twice, ignored
	TooShort       int            `json:"tcp_frames_too_short,omitempty"`
}

// HostReport is one host that held TIME_WAIT sockets.
type HostReport struct {
	Address  string       `json:"address"`
	Peak     int          `json:"peak"`
	PeakTime float64      `json:"peak_time"`
	AtEnd    int          `json:"at_end"`
	Ports    []PortUsage  `json:"port_usage,omitempty"`
	Timeline [][2]float64 `json:"timeline,omitempty"`
}

// PortUsage is a client host's ephemeral ports tied up towards a server.
type PortUsage struct {
	Server           string  `json:"server"`
	InUseAtEnd       int     `json:"in_use_at_end"`
	PeakInUse        int     `json:"peak_in_use"`
	PeakTimeWait     int     `json:"peak_time_wait"`
	RangeSize        int     `json:"range_size"`
	Exhausted        bool    `json:"exhausted"` // every port of the range was tied up at some time
	SecondsToExhaust float64 `json:"seconds_to_exhaustion,omitempty"`
}

// PairReport is one client host talking to one server endpoint.
type PairReport struct {
	Client            string         `json:"client"`
	Server            string         `json:"server"`
	Connections       int            `json:"connections"`
	Partial           int            `json:"partial_connections"` // closed, begun before the capture (not in connections)
	RateMean          float64        `json:"new_conns_per_second_mean"`
	RatePeak          int            `json:"new_conns_per_second_peak"`
	MedianLifetime    *float64       `json:"median_lifetime_seconds"` // null: no connection seen from its start closed
	RequestsPerConn   float64        `json:"requests_per_connection"`
	OneRequestShare   float64        `json:"one_request_share"`
	Closers           map[string]int `json:"closers"`
	ConnectionClose   int            `json:"connection_close_requests"`
	MedianFinToSyn    *float64       `json:"median_fin_to_syn_seconds"`
	PredictedTimeWait float64        `json:"predicted_time_wait"`
	ObservedTimeWait  int            `json:"observed_time_wait_peak"`
	// Each side's share: the client's predicted count is capped by its
	// port range (each of its TIME_WAIT sockets holds a port).
	PredictedClientTimeWait float64 `json:"predicted_client_time_wait"`
	PredictedServerTimeWait float64 `json:"predicted_server_time_wait"`
	ClientTimeWaitPeak      int     `json:"client_time_wait_peak"`
	ServerTimeWaitPeak      int     `json:"server_time_wait_peak"`
	// The TIME_WAIT sockets each side entered: fewer than the closes it
	// made first when RSTs ended connections before (rst_after_fin).
	ClientTimeWaitEntered int `json:"client_time_wait_entered"`
	ServerTimeWaitEntered int `json:"server_time_wait_entered"`
	RSTAfterFIN           int `json:"rst_after_fin"`
	OneRequest            int `json:"one_request_connections"`
	// Of the closed connections seen from the handshake, those whose
	// client began with a TLS handshake: their requests are not seen
	// (requests_per_connection and one_request_share count none).
	TLS int `json:"tls_connections"`
	// Of those, the ones whose client sent nothing after its
	// ClientHello but alerts: the handshake failed (an untrusted
	// certificate, no common version or cipher), and no request went.
	TLSHandshakesFailed int `json:"tls_handshakes_failed"`
	// Of the TLS connections, those whose client sent no application
	// data after the handshake, only alerts: these failed handshakes, and
	// handshakes that failed after they completed (the client's check of
	// the name, a client certificate refused) or TLS health checks.
	TLSWithoutRequest      int `json:"tls_without_request"`
	ConnectionCloseReplies int `json:"connection_close_responses"`
	// Server-closed connections: the median time from the last data to
	// the server's FIN (about 0: it closes after its response; long: an
	// idle timeout).
	MedianIdleBeforeServerClose *float64 `json:"median_idle_before_server_close_seconds"`
	// Client-closed connections (closer "client"): the median time from
	// the last data to the client's FIN, connection management frames of
	// HTTP/2 not counted as data (about 0: it closes after the response,
	// no keep-alive; 100 ms or more: its own idle timeout, shorter than
	// its pause between requests). Past 64 such connections, the median
	// of a fair sample of 64. null when there are none.
	MedianIdleBeforeClientClose *float64 `json:"median_idle_before_client_close_seconds"`
	BytesToServer               uint64   `json:"bytes_to_server"`
	BytesToClient               uint64   `json:"bytes_to_client"`
	// Of the closes counted as the client's (closers "client" and
	// "both"), those that answer the server's GOAWAY: on HTTP/2 the
	// client's FIN came after a server segment of connection management
	// frames only, one of them a GOAWAY, with no request after it and
	// no GOAWAY of the client's before it (a server's GOAWAY that
	// follows the client's answers it: Go's server does). The server
	// ended these connections (an idle timeout, an age limit, a
	// shutdown) although the client holds their TIME_WAIT sockets.
	ClosedAfterGoaway int `json:"closed_after_goaway"`
	// Of those, the median time from the last data to the server's first
	// GOAWAY (connection management frames are not data): about the
	// server's idle timeout, or little when the server ends connections
	// by age or as it shuts down. null when there are none.
	MedianIdleBeforeGoaway *float64 `json:"median_idle_before_goaway_seconds"`
	// Of the server's closes (closer "server"), those whose server sent
	// GOAWAY first (in a segment of connection management frames, with no
	// request after it): the median time from the last data to that
	// GOAWAY. Go's HTTP/2 server sends GOAWAY when its IdleTimeout fires
	// and closes 1 s later, so this, not the idle at the FIN, is its idle
	// timeout. null when there are none.
	MedianIdleBeforeServerGoaway *float64 `json:"median_idle_before_server_goaway_seconds"`
	// afterClose: of Connections, those begun after a connection of the
	// pair closed; beside: those begun while another sat idle, one the
	// client could have used (see pair.beside); serverGoaway: the server's closes after its
	// GOAWAY; client: the client library that the User-Agents of its
	// one-request connections name (pair.agents), an index in clientFixes;
	// http10: of ConnectionClose, the HTTP/1.0 requests without
	// keep-alive.
	// afterAlert: of the server's closes of TLS connections, those that
	// answered the client's close_notify (pair.afterAlert).
	// tlsFew: of TLS, those of a request or two (pair.tlsFew); tlsH2:
	// those that offered HTTP/2.
	afterClose, beside, serverGoaway, client, http10, afterAlert, tlsFew, tlsH2 int
	// others: the pair of the connections of pairs past Config.MaxPairs.
	others bool
	// oneAgent: one User-Agent names all the requests of those
	// connections: one kind of client.
	oneAgent bool
	// handshake: the shortest time from a SYN to the client's ACK of
	// the SYN-ACK (pair.handshake), in seconds.
	handshake float64
	// clients: for the merged pairs of a server's clients
	// (serverFindings), how many clients; 0 for one pair.
	clients int
}

// Ranked is a label and how often it was seen.
type Ranked struct {
	Label  string `json:"label"`
	Count  int    `json:"count"`
	Client string `json:"client"` // the client host and the server that saw it
	Server string `json:"server"`
}

// Report builds the report at the end of the capture. With timeline, each
// host carries the change points of its TIME_WAIT population.
func (e *Engine) Report(timeline bool) *Report {
	cfg := e.cfg
	// What has expired by the end of the capture is gone at its end.
	e.expire(e.now)
	r := &Report{Counts: map[string]int{}}
	s := &r.Summary
	if !e.first.IsZero() {
		start, end := unix(e.first), unix(e.now)
		s.Start, s.End = &start, &end
		s.Seconds = e.now.Sub(e.first).Seconds()
	}
	s.Packets = e.rep.packets
	s.Copies = e.rep.copies
	s.TooShort = e.rep.short
	s.Connections = e.rep.conns
	s.Partial = e.rep.partial
	s.Complete = e.rep.complete
	s.Closes = map[string]int{}
	for i, n := range e.rep.closes {
		if i > 0 {
			s.Closes[Closer(i).String()] = n
		}
	}
	s.TimeWaitLen = cfg.TimeWait.Seconds()
	s.PortRange = [2]int{int(cfg.PortLo), int(cfg.PortHi)}
	s.TimeWaitTotal = e.rep.twStarted
	s.Restarts = e.rep.twRestarts
	s.Evicted = e.rep.evicted
	s.OpenAtEnd = e.conns.len()
	s.ReusesAccepted, s.ReusesRefused = e.rep.reusesAccepted, e.rep.reusesRefused
	s.SYNRetries, s.FailedConnects = e.rep.synRetries, e.rep.failedConnects
	rangeSize := int(cfg.PortHi) - int(cfg.PortLo) + 1

	// The pairs whose clients held TIME_WAIT sockets, by client: a fleet
	// has thousands of each.
	byClient := map[netip.Addr][]*pair{}
	for _, p := range e.pairList {
		if p.twClientPk > 0 && p != e.others {
			byClient[p.key.client] = append(byClient[p.key.client], p)
		}
	}
	for _, h := range e.hosts {
		if h.peak == 0 {
			continue
		}
		s.TimeWaitAtEnd += h.count
		hr := HostReport{Address: h.addr.String(), Peak: h.peak, PeakTime: unix(h.peakTime), AtEnd: h.count}
		if !h.addr.IsValid() {
			hr.Address = otherHosts // the hosts of the pairs past Config.MaxPairs
		}
		for _, p := range byClient[h.addr] {
			// Exhausted when every port was tied up and TIME_WAIT held at
			// least half of them: attempts that no one answered (a client
			// retrying a dead backend) tie ports up for a connect timeout
			// only, and the range may be wider than the one configured.
			pu := PortUsage{Server: p.key.server.String(), InUseAtEnd: min(p.portsInUse(), rangeSize), PeakInUse: min(p.portsPeak, rangeSize),
				PeakTimeWait: p.twClientPk, RangeSize: rangeSize, Exhausted: p.portsPeak >= rangeSize && 2*p.twClientPk >= rangeSize}
			if rate := p.rate(); !pu.Exhausted && rate > 0 && p.twClient > 0 {
				// Each new connection ties a port up for the TIME_WAIT length.
				if free := rangeSize - pu.InUseAtEnd; free > 0 && rate*cfg.TimeWait.Seconds() > float64(rangeSize) {
					pu.SecondsToExhaust = float64(free) / rate
				}
			}
			hr.Ports = append(hr.Ports, pu)
		}
		sort.Slice(hr.Ports, func(i, j int) bool {
			if hr.Ports[i].PeakTimeWait != hr.Ports[j].PeakTimeWait {
				return hr.Ports[i].PeakTimeWait > hr.Ports[j].PeakTimeWait
			}
			return hr.Ports[i].Server < hr.Ports[j].Server
		})
		if timeline {
			hr.Timeline = make([][2]float64, 0, len(h.timeline))
			for _, pt := range h.timeline {
				hr.Timeline = append(hr.Timeline, [2]float64{unix(pt.time()), float64(pt.count)})
			}
		}
		r.Hosts = append(r.Hosts, hr)
	}
	sort.Slice(r.Hosts, func(i, j int) bool {
		if r.Hosts[i].Peak != r.Hosts[j].Peak {
			return r.Hosts[i].Peak > r.Hosts[j].Peak
		}
		return r.Hosts[i].Address < r.Hosts[j].Address
	})

	// Labels stay with their client and server: the point is which client
	// and which code path make the short connections.
	var labels, agents []Ranked
	for _, p := range e.pairList {
		if p.conns == 0 && p.closedConns == 0 {
			continue
		}
		pr := e.pairReport(p, 1)
		r.Pairs = append(r.Pairs, pr)
		for l, n := range p.labels {
			labels = append(labels, Ranked{l, n, pr.Client, pr.Server})
		}
		for a, n := range p.agents {
			agents = append(agents, Ranked{a, n, pr.Client, pr.Server})
		}
	}
	sort.Slice(r.Pairs, func(i, j int) bool {
		if r.Pairs[i].Connections != r.Pairs[j].Connections {
			return r.Pairs[i].Connections > r.Pairs[j].Connections
		}
		return r.Pairs[i].Client+r.Pairs[i].Server < r.Pairs[j].Client+r.Pairs[j].Server
	})
	r.Requests = ranked(labels, 20)
	r.Agents = ranked(agents, 20)
	r.Events = append([]Event(nil), e.rep.events...)
	for k, n := range e.rep.eventCounts {
		r.Counts[string(k)] = n
	}
	r.Findings = e.findings(r)
	r.Warnings = []string{}
	if o := e.others; o != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("More than %d client -> server pairs (a SYN flood, or a scan, from many "+
			"addresses?): the %d connections of the later ones are counted together as %s -> %s, with no findings, "+
			"and their TIME_WAIT sockets as those of %s (a connection whose handshake completed has a pair of its own, "+
			"for %d pairs more at most).", e.cfg.MaxPairs, o.conns+o.partialClosed, otherClients, otherServers, otherHosts, e.cfg.MaxPairs))
	}
	if n := s.TooShort; n > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d TCP frames were too short to use and are left out: the capture's snap length "+
			"cut them inside the first 20 octets of the TCP header. Capture with a larger snap length (-s 512 keeps the headers "+
			"and the requests).", n))
	}
	// Empty lists are [] in the JSON, not null: pipelines iterate them.
	if r.Hosts == nil {
		r.Hosts = []HostReport{}
	}
	if r.Pairs == nil {
		r.Pairs = []PairReport{}
	}
	if r.Events == nil {
		r.Events = []Event{}
	}
	if r.Requests == nil {
		r.Requests = []Ranked{}
	}
	if r.Agents == nil {
		r.Agents = []Ranked{}
	}
	if r.Findings == nil {
		r.Findings = []string{}
	}
	return r
}

// pairReport is the report of a pair, or of several merged into one
// (mergePairs) for the clients of a server, whose TIME_WAIT sockets each
// hold a port of their own client: clients range sizes in all.
func (e *Engine) pairReport(p *pair, clients int) PairReport {
	cfg := e.cfg
	rangeSize := int(cfg.PortHi) - int(cfg.PortLo) + 1
	pr := PairReport{
		Client: p.key.client.String(), Server: p.key.server.String(), Connections: p.conns,
		Partial:  p.partialClosed,
		RateMean: p.rate(), RatePeak: p.busiestSecond(),
		ConnectionClose: p.connClose, ObservedTimeWait: p.twPeak,
		ClientTimeWaitPeak: p.twClientPk, ServerTimeWaitPeak: p.twServerPk,
		ClientTimeWaitEntered: p.twEntered[0], ServerTimeWaitEntered: p.twEntered[1], RSTAfterFIN: p.rstAfterFIN,
		OneRequest: p.oneRequest, ConnectionCloseReplies: p.respClose, TLS: p.tls, TLSHandshakesFailed: p.tlsFailed, TLSWithoutRequest: p.tlsNoRequest,
		BytesToServer: p.bytes[0], BytesToClient: p.bytes[1],
		Closers: map[string]int{}, afterClose: p.finToSyn.n, beside: p.beside, http10: p.http10, afterAlert: p.afterAlert, tlsFew: p.tlsFew, tlsH2: p.tlsH2,
		MedianLifetime: p.lifetimes.medianOrNil(), MedianFinToSyn: p.finToSyn.medianOrNil(),
		MedianIdleBeforeServerClose: p.serverIdle.medianOrNil(), MedianIdleBeforeClientClose: p.clientIdle.medianOrNil(),
		ClosedAfterGoaway: p.goawayCloses, MedianIdleBeforeGoaway: p.goawayIdle.medianOrNil(),
	}
	if p == e.others {
		pr.Client, pr.Server, pr.others = otherClients, otherServers, true
	}
	pr.client, pr.oneAgent = clientOf(p.agents, grpcCalls(p.labels)), len(p.agents) == 1
	pr.handshake = p.handshake.Seconds()
	if clients > 1 {
		pr.clients = clients
	}
	if g := p.serverGoaway; g != nil {
		pr.serverGoaway, pr.MedianIdleBeforeServerGoaway = g.n, g.medianOrNil()
	}
	if n := p.closedConns - p.partialClosed; n > 0 {
		// Of the connections seen from the handshake.
		pr.RequestsPerConn = float64(p.requests) / float64(n)
		pr.OneRequestShare = float64(p.oneRequest) / float64(n)
	}
	for i, n := range p.closers {
		if i > 0 && n > 0 {
			pr.Closers[Closer(i).String()] = n
		}
	}
	if p.closedConns > 0 {
		// Each side holds TIME_WAIT for the connections it closes
		// first (both after a simultaneous close), unless an RST ends
		// the socket before it enters TIME_WAIT; neither holds more than
		// one socket per client port, so neither more than the port
		// range of each client.
		perConn := pr.RateMean * cfg.TimeWait.Seconds() / float64(p.closedConns)
		pr.PredictedClientTimeWait = min(perConn*float64(p.twEntered[0]), float64(rangeSize*clients))
		pr.PredictedServerTimeWait = min(perConn*float64(p.twEntered[1]), float64(rangeSize*clients))
		pr.PredictedTimeWait = pr.PredictedClientTimeWait + pr.PredictedServerTimeWait
	}
	return pr
}

// rate is the pair's new connections per second: the connections after
// the first over the time from the first SYN to the last (n SYNs make n-1
// gaps), over at least a second so that a burst of two connections does
// not read as hundreds a second, and never above the busiest one-second
// window of capture (busiestSecond).
func (p *pair) rate() float64 {
	if p.conns < 2 {
		return 0 // one connection has no rate
	}
	r := float64(p.conns-1) / max(p.lastSyn.Sub(p.firstSyn).Seconds(), 1)
	return min(r, float64(p.busiestSecond()))
}

func (p *pair) busiestSecond() int { return p.peakRate }

func ranked(out []Ranked, n int) []Ranked {
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		return a.Client+" "+a.Server < b.Client+" "+b.Server
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// findings turns the numbers into advice. The fixes are those that work
// for Go's net/http, with the settings of grpc-go and of gRPC's C core
// (and the languages built on it, Python's among them) where the cause
// is a gRPC setting, and they name the side to change. A client that
// does not reuse its connections is told how in the terms of the library
// its User-Agents name (clientFixes).
func (e *Engine) findings(r *Report) []string {
	var f []string
	tw := e.cfg.TimeWait.Seconds()
	rangeSize := int(e.cfg.PortHi) - int(e.cfg.PortLo) + 1
	found := map[string]bool{} // the pairs with a finding on their short connections
	for _, p := range r.Pairs {
		closed := closedOf(p)
		if closed < 10 || p.others {
			continue
		}
		if s := shortConnFinding(p, closed, tw, rangeSize); s != "" {
			f = append(f, s)
			found[p.Client+" "+p.Server] = true
		}
		if rst := p.Closers["rst"]; rst > 0 && float64(rst) >= 0.5*float64(closed) {
			f = append(f, fmt.Sprintf("%d of %d connections from %s to %s end with RST (abortive close, e.g. SO_LINGER 0): "+
				"they leave no TIME_WAIT, but unsent data is lost and the peer sees errors.", rst, closed, p.Client, p.Server))
		}
	}
	f = append(f, e.serverFindings(found, tw, rangeSize)...)
	for _, h := range r.Hosts {
		for _, pu := range h.Ports {
			switch {
			case pu.Exhausted:
				f = append(f, fmt.Sprintf("%s has tied up all %d of its ephemeral ports towards %s (%d at the peak): new "+
					"connections to it fail (EADDRNOTAVAIL) until TIME_WAIT sockets expire. Reuse connections; tcp_tw_reuse "+
					"(outgoing connections only, needs TCP timestamps) only treats the symptom.", h.Address, pu.RangeSize, pu.Server, pu.PeakInUse))
			case pu.SecondsToExhaust > 0:
				f = append(f, fmt.Sprintf("%s ties up its ephemeral ports towards %s faster than TIME_WAIT frees them: "+
					"at the observed rate the %d ports run out in about %.0f s. Reuse connections; tcp_tw_reuse (outgoing "+
					"connections only, needs TCP timestamps) only treats the symptom.", h.Address, pu.Server, pu.RangeSize, pu.SecondsToExhaust))
			}
		}
	}
	if n := r.Summary.ReusesRefused; n > 0 {
		f = append(f, fmt.Sprintf("%d SYNs hit a 4-tuple still in TIME_WAIT on the server and were refused (their sequence "+
			"number and timestamp were not newer); the clients see connect delays.", n))
	}
	return f
}

func closedOf(p PairReport) int {
	closed := 0
	for _, n := range p.Closers {
		closed += n
	}
	return closed
}

// serverFindings are the findings on short connections per server, for
// the clients whose pairs have none of their own (found): a fleet of
// clients, each with a few connections to one service, makes as many
// TIME_WAIT sockets as one client with all of them, and the cause and
// the fix are the same for each of the fleet's clients.
func (e *Engine) serverFindings(found map[string]bool, tw float64, rangeSize int) []string {
	groups := map[netip.AddrPort][]*pair{}
	var servers []netip.AddrPort
	for _, p := range e.pairList {
		if (p.conns == 0 && p.closedConns == 0) || p == e.others || found[p.key.client.String()+" "+p.key.server.String()] {
			continue
		}
		if groups[p.key.server] == nil {
			servers = append(servers, p.key.server)
		}
		groups[p.key.server] = append(groups[p.key.server], p)
	}
	type merged struct {
		pr     PairReport
		closed int
	}
	var ms []merged
	for _, s := range servers {
		g := groups[s]
		if len(g) < 2 {
			continue // one client: its pair's findings say it all
		}
		sort.Slice(g, func(i, j int) bool {
			if g[i].conns != g[j].conns {
				return g[i].conns > g[j].conns
			}
			return g[i].key.client.Less(g[j].key.client)
		})
		pr := e.pairReport(mergePairs(g), len(g))
		// Each client's peak came at its own time: their sum may be more
		// than the server ever held at once, its host's peak.
		pr.ServerTimeWaitPeak = min(pr.ServerTimeWaitPeak, e.pairHost(g[0], 1).peak)
		var names []string
		for _, p := range g[:min(len(g), 3)] {
			names = append(names, p.key.client.String())
		}
		more := ""
		if len(g) > 3 {
			more = fmt.Sprintf(" and %d more", len(g)-3)
		}
		pr.Client = fmt.Sprintf("%d clients (%s%s)", len(g), strings.Join(names, ", "), more)
		ms = append(ms, merged{pr, closedOf(pr)})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].pr.Connections > ms[j].pr.Connections })
	var f []string
	for _, m := range ms {
		if m.closed < 10 {
			continue
		}
		if s := shortConnFinding(m.pr, m.closed, tw, rangeSize); s != "" {
			f = append(f, s)
		}
	}
	return f
}

// idleTimeoutMin is the shortest median idle, in seconds, from the last
// data to a side's close, that is taken for an idle timeout: a side
// without keep-alive closes right after the response, within a few
// milliseconds of its last data (the client a round trip later, when the
// capture is near the server), and an idle timeout, however short, leaves
// the connection idle for hundreds of milliseconds or more.
const idleTimeoutMin = 0.1

// shortConnFinding is the finding for a pair whose connections carry one
// request each and leave TIME_WAIT behind, or "". It fires on what
// matters, whichever side closes: Go's http.Client without keep-alive
// races the server's close, so that both sides hold TIME_WAIT sockets
// (about a fifth on the client). It names each side's TIME_WAIT sockets,
// and the cause that the capture shows.
func shortConnFinding(p PairReport, closed int, tw float64, rangeSize int) string {
	cs, ss, both := p.Closers["client"], p.Closers["server"], p.Closers["both"]
	if 2*(cs+ss+both) < closed || closed-p.Partial < 10 {
		return ""
	}
	closed -= p.Partial // the requests of the others are unknown
	// Most of the client's closes answer the server's GOAWAY: the server's doing.
	g := p.ClosedAfterGoaway
	goaway := g > 0 && 2*g >= cs+both
	// The client closes most connections itself after an idle time (not
	// right after the response), and begins most after one closed. A
	// capture near the server sees the client's FIN a round trip after
	// the response, which the handshake's time shows.
	clientIdle := 2*cs > closed && p.MedianIdleBeforeClientClose != nil &&
		*p.MedianIdleBeforeClientClose >= idleTimeoutMin+p.handshake &&
		2*p.afterClose >= p.Connections
	// The server's idle when it ended its connections: at its FIN, or at
	// its GOAWAY when most of its closes came after one (Go's HTTP/2
	// server closes 1 s after the GOAWAY of its idle timeout: the idle at
	// the FIN is the timeout plus that second).
	serverIdle, serverIdleTo, goIdle := p.MedianIdleBeforeServerClose, "", "http.Server.IdleTimeout"
	if p.serverGoaway > 0 && 2*p.serverGoaway >= ss {
		serverIdle, serverIdleTo, goIdle = p.MedianIdleBeforeServerGoaway, ", from the last data to its GOAWAY", goH2Idle
	}
	serverIdles := ss > cs+both && serverIdle != nil && *serverIdle >= idleTimeoutMin
	// Over TLS, of a request or two each: closed at once after the last
	// data, or short, is a connection per request (tls); closed after an
	// idle time, a timeout's doing (tlsIdle, the idle causes below),
	// unless the server's FINs answer the client's close_notify, whose
	// idle no FIN of the client's shows.
	tls, tlsIdle := false, false
	if tlsFewRequests(p, closed) {
		// Over HTTP/2 an idle timeout's GOAWAY, encrypted, is data as
		// far as the capture shows, right before the close (the server's,
		// or the client's in answer): neither the idle before the close
		// nor its coming at once tell the cause when most offered it.
		// (Told by size, a GOAWAY is as long as a short response.)
		idleKnown := 2*p.tlsH2 <= p.TLS
		atOnce := idleKnown && tlsClosedAtOnce(p) != nil
		answers := ss > cs+both && 2*p.afterAlert >= ss
		tlsIdle = idleKnown && !atOnce && !answers && (serverIdles || clientIdle)
		tls = !tlsIdle && (atOnce || *p.MedianLifetime <= tlsShortLife)
	}
	// Most are handshakes that failed, or carried no request at all:
	// no request, whatever the timing.
	tlsFailed := tlsFewRequests(p, closed) && 5*p.TLSHandshakesFailed >= 4*closed
	tlsNoRequest := !tlsFailed && tlsFewRequests(p, closed) && 5*p.TLSWithoutRequest >= 4*closed
	if tlsFailed || tlsNoRequest {
		tls, tlsIdle = true, false
	}
	if p.OneRequestShare < 0.8 && !tls && !tlsIdle {
		return ""
	}
	var b strings.Builder
	together, conns := "", "the connections"
	if p.clients > 1 {
		together, conns = "no one client makes enough connections for a finding of its own, but together ", "their connections to the server"
	}
	leaves := fmt.Sprintf("each leaves a socket in TIME_WAIT for %.0f s on the side that closes first", tw)
	if p.RSTAfterFIN > 0 {
		leaves += ", unless an RST ends it"
	}
	switch {
	case tlsFailed:
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s are TLS handshakes that failed (%d of %d): the client sent nothing "+
			"after its ClientHello but alerts, at %.1f new connections/s, and %s. ",
			p.Client, p.Server, together, pct(p.TLSHandshakesFailed, closed), conns, p.TLSHandshakesFailed, closed, p.RateMean, leaves)
	case tlsNoRequest:
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s are TLS connections that carried no request (%d of %d): the client "+
			"sent nothing after the handshake but alerts, at %.1f new connections/s, and %s. ",
			p.Client, p.Server, together, pct(p.TLSWithoutRequest, closed), conns, p.TLSWithoutRequest, closed, p.RateMean, leaves)
	case tls && *p.MedianLifetime <= tlsShortLife:
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s are TLS (%d of %d), whose requests the capture cannot show, and short: "+
			"%.3f s (median) from the SYN to the close, at %.1f new connections/s, and %s. ",
			p.Client, p.Server, together, pct(p.TLS, closed), conns, p.TLS, closed, *p.MedianLifetime, p.RateMean, leaves)
	case tlsIdle:
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s are TLS (%d of %d), whose requests the capture cannot show, of a "+
			"request or two each (the client's turns to send), at %.1f new connections/s, and %s. ",
			p.Client, p.Server, together, pct(p.TLS, closed), conns, p.TLS, closed, p.RateMean, leaves)
	case tls:
		// Slow responses: as long as a pool's connection, but of one
		// exchange, closed as soon as it ended.
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s are TLS (%d of %d), whose requests the capture cannot show, and each "+
			"is closed as soon as its exchange ends: %.3f s (median) from the last data to the close, after %.3f s from "+
			"the SYN, at %.1f new connections/s, and %s. ",
			p.Client, p.Server, together, pct(p.TLS, closed), conns, p.TLS, closed, *tlsClosedAtOnce(p), *p.MedianLifetime,
			p.RateMean, leaves)
	default:
		fmt.Fprintf(&b, "%s -> %s: %s%.0f%% of %s carry a single request (%d of %d), at %.1f new connections/s, "+
			"and %s. ", p.Client, p.Server, together, pct(p.OneRequest, closed), conns, p.OneRequest, closed, p.RateMean, leaves)
	}
	var holders []string
	// closedFirst is what a side's closes left: an RST after a FIN ends
	// the closing side's socket before TIME_WAIT.
	closedFirst := func(n, entered int) string {
		if entered < n && p.RSTAfterFIN > 0 {
			return fmt.Sprintf("it closed %d first, %d of them reaching TIME_WAIT: RSTs ended the others", n, entered)
		}
		return fmt.Sprintf("it closed %d first", n)
	}
	if p.ServerTimeWaitPeak > 0 {
		holders = append(holders, fmt.Sprintf("the server %s holds %d (peak; %s), about %.0f at this rate",
			p.Server, p.ServerTimeWaitPeak, closedFirst(ss+both, p.ServerTimeWaitEntered), p.PredictedServerTimeWait))
	}
	switch {
	case p.ClientTimeWaitPeak == 0:
	case p.clients > 1:
		holders = append(holders, fmt.Sprintf("the clients hold %d (the sum of each one's peak; they closed %d first), about %.0f at this rate, each on one of its client's ephemeral ports",
			p.ClientTimeWaitPeak, cs+both, p.PredictedClientTimeWait))
	default:
		capped := ""
		if p.PredictedClientTimeWait >= float64(rangeSize) {
			capped = " (its whole port range)"
		}
		holders = append(holders, fmt.Sprintf("the client %s holds %d (peak; %s), about %.0f%s at this rate, each one of its ephemeral ports",
			p.Client, p.ClientTimeWaitPeak, closedFirst(cs+both, p.ClientTimeWaitEntered), p.PredictedClientTimeWait, capped))
	}
	if len(holders) == 0 {
		// Every socket that would have held TIME_WAIT was ended first
		// (an RST after the FIN, as over TLS), or none had yet.
		holders = append(holders, "neither side held any in the capture")
		if p.RSTAfterFIN > 0 {
			holders[0] = fmt.Sprintf("neither side held any: RSTs ended %d of the connections after their FIN", p.RSTAfterFIN)
		}
	}
	fmt.Fprintf(&b, "TIME_WAIT: %s", strings.Join(holders, "; "))
	// Both hold many when neither entered less than a fifth of the
	// sockets: the closes tell it unless RSTs ended the sockets of one
	// side's (over TLS, most of them).
	if ce, se := p.ClientTimeWaitEntered, p.ServerTimeWaitEntered; len(holders) == 2 && 5*min(ce, se) >= ce+se {
		// A race when one kind of client made the requests (Go's
		// without keep-alive races the server); with several, each may
		// close its own way (one asks the server to close, another
		// closes itself).
		switch {
		case p.oneAgent && p.clients > 1:
			b.WriteString(" (both sides hold many: the clients and the server race to close)")
		case p.oneAgent:
			b.WriteString(" (both sides hold many: the client and the server race to close)")
		default:
			b.WriteString(" (both sides hold many: they race to close, or its clients close in different ways)")
		}
	}
	b.WriteString(". ")
	client := clientFixes[p.client]
	if tlsFailed {
		b.WriteString("No request went on them: the client gives up on what the server sent in the handshake (a " +
			"certificate it does not trust, expired or for another name; no TLS version or cipher suite in common) or " +
			"the server refuses the client, and then connects again. Fix the TLS setup (the server's certificate chain " +
			"and the client's trust store, then the versions and cipher suites each allows), and have the client back " +
			"off between failed attempts.")
		return b.String()
	}
	if tlsNoRequest {
		b.WriteString("Either the handshakes failed once they were done (the client's check of the server's name, a " +
			"client certificate that the server refused) or these are checks of TLS alone, a load balancer's or a " +
			"monitor's health checks. Find what makes them: a check this frequent can run less often, or over one " +
			"kept connection; a failing client needs its TLS setup fixed, and to back off between attempts.")
		return b.String()
	}
	if tls {
		b.WriteString(tlsCause(p, cs, ss, both, client.fix))
		return b.String()
	}
	switch {
	case 2*p.ConnectionClose >= closed:
		// HTTP/1.0 asks for a close by saying nothing: an analyst looking
		// for the header would not find it.
		asks := "ask for \"Connection: close\""
		switch {
		case p.http10 == p.ConnectionClose:
			asks = "are HTTP/1.0 without \"Connection: keep-alive\", which asks the server to close after its response"
		case p.http10 > 0:
			asks = "ask for \"Connection: close\" or are HTTP/1.0 without keep-alive"
		}
		fmt.Fprintf(&b, "The requests %s (%d of %d), so the fix belongs to the client. %s",
			asks, p.ConnectionClose, closed, client.fix)
	case 2*p.ConnectionCloseReplies >= closed:
		fmt.Fprintf(&b, "The server's responses say \"Connection: close\" (%d of %d) although the requests do not: keep-alive "+
			"is off on the server, so the fix belongs to the server. In Go: do not call http.Server.SetKeepAlivesEnabled(false), "+
			"and do not set \"Connection: close\" in handlers.", p.ConnectionCloseReplies, closed)
	case serverIdles && 2*p.beside >= p.Connections:
		// The server's idle timeout ends the connections, but most
		// began while others of the client's own sat idle: it does
		// not reuse them (a client, Transport or channel per request),
		// and each sits idle until the server's timeout. A longer
		// timeout would only keep more open, and once the client's own
		// idle timeout (Go's: 90 s) fires first, the TIME_WAIT sockets
		// move to the client.
		fmt.Fprintf(&b, "The server closes connections idle for %.1f s (median%s), but the client began %d of its %d "+
			"connections while others of its own to this server sat idle: it opens a new connection per request (%s) "+
			"and leaves the idle ones unused until the server's idle timeout closes them. The fix belongs to the client. "+
			"%s The server's idle timeout only decides which side holds the TIME_WAIT sockets: a longer one leaves more "+
			"idle connections open, and the client's own idle timeout closes them instead. (If several workers share one "+
			"client and each pauses longer than the server's idle timeout, raise that timeout above the pause.)",
			*serverIdle, serverIdleTo, p.beside, p.Connections, client.perRequest, client.fix)
	case serverIdles:
		// One connection at a time, each closed by the server before the
		// next request: the client's pause is longer than the timeout.
		fmt.Fprintf(&b, "The server closes connections idle for %.1f s (median%s): its idle timeout (%s; "+
			"grpc-go: keepalive.ServerParameters.MaxConnectionIdle; gRPC C core and Python: grpc.max_connection_idle_ms) is shorter than the client's pause between requests. Have "+
			"the client reuse its connections sooner, or raise the server's idle timeout above the client's request interval.",
			*serverIdle, serverIdleTo, goIdle)
	case ss > cs+both:
		idle := medianIdleNote(serverIdle, serverIdleTo)
		fmt.Fprintf(&b, "The server closes each connection right after its response%s, without a \"Connection: close\" "+
			"the capture shows: keep-alive is off in the server or in a proxy in front of it (in Go: "+
			"http.Server.SetKeepAlivesEnabled(false), or a handler that closes), not an idle timeout. Fix the server; "+
			"if the client does not reuse connections either, fix it too. %s", idle, client.fix)
	case goaway && p.MedianIdleBeforeGoaway != nil && *p.MedianIdleBeforeGoaway >= 1:
		fmt.Fprintf(&b, "The server ends these connections, not the client: %d of the client's %d closes answer a GOAWAY "+
			"that the server sent after the connection was idle for %.1f s (median, from the last data to the GOAWAY). The "+
			"client then closes, so it holds the TIME_WAIT sockets although it reuses its connections: the server's idle "+
			"timeout (grpc-go keepalive.ServerParameters.MaxConnectionIdle, %s; gRPC C core and Python: "+
			"grpc.max_connection_idle_ms) is shorter than the client's pause between calls. Raise it above the client's "+
			"call interval, or have the client call more often.",
			g, cs+both, *p.MedianIdleBeforeGoaway, goH2Idle)
	case goaway:
		idle := medianIdleNote(p.MedianIdleBeforeGoaway, "")
		fmt.Fprintf(&b, "The server ends these connections, not the client: %d of the client's %d closes answer a GOAWAY "+
			"that the server sent with little idle%s, not an idle timeout: it limits the connections' age (grpc-go "+
			"keepalive.ServerParameters.MaxConnectionAge; gRPC C core and Python: grpc.max_connection_age_ms) or shuts "+
			"down gracefully (restarts, grpc.Server.GracefulStop, http.Server.Shutdown). The client then closes, so it "+
			"holds the TIME_WAIT sockets although it reuses its connections. Raise the server's connection age limit, or "+
			"restart it less often.", g, cs+both, idle)
	case clientIdle && 2*p.beside < p.Connections:
		// The client does reuse its connections, but they sit idle
		// longer than its own idle timeout between requests: more
		// idle connections per host would change nothing. Its new
		// connections replace those it closed, so most come after a
		// close, and with none of its others open (else the next case).
		fmt.Fprintf(&b, "The client closes %d of them itself, after they were idle for %.1f s (median, from the last data "+
			"to its FIN): its idle timeout (Go: http.Transport.IdleConnTimeout; grpc-go: grpc.WithIdleTimeout, 30 min by "+
			"default; gRPC C core and Python: grpc.client_idle_timeout_ms) is shorter than its pause between requests, so "+
			"each request finds no idle connection to reuse. Raise the client's idle timeout above its request interval, "+
			"or have it send requests more often.",
			cs+both, *p.MedianIdleBeforeClientClose)
	case clientIdle:
		// Idle connections closed by the client, but most new ones begun
		// beside others of its own: a Transport per request whose idle
		// timeout closes each, or workers with a Transport each and
		// pauses longer than its idle timeout. TCP alone cannot tell
		// them apart; one fix covers both.
		fmt.Fprintf(&b, "The client closes %d of them itself, after they were idle for %.1f s (median, from the last data "+
			"to its FIN), and began %d of its %d connections while others of its own to this server sat idle: either it "+
			"makes a new http.Client or Transport per request (or per worker), whose idle timeout then closes each "+
			"connection, or its idle timeout (Go: http.Transport.IdleConnTimeout; gRPC C core and Python: "+
			"grpc.client_idle_timeout_ms) is shorter than its pause between requests. Share one http.Client/Transport "+
			"among all requests, and raise its idle timeout above the pause between requests.",
			cs+both, *p.MedianIdleBeforeClientClose, p.beside, p.Connections)
	case client.grpc:
		fmt.Fprintf(&b, "The client closes %d of them itself: it does not reuse its connections (%s), "+
			"so the fix belongs to the client. %s", cs+both, client.perRequest, client.fix)
	default:
		fmt.Fprintf(&b, "The client closes %d of them itself: keep-alive is off or connections are not reused (%s), "+
			"so the fix belongs to the client. %s", cs+both, client.perRequest, client.fix)
	}
	return b.String()
}

// maxTextPairs bounds the pairs the text report lists, and the hosts
// that hold TIME_WAIT and the servers of each.
const maxTextPairs = 200

// The names of the pair, and its hosts, of the connections of pairs past
// Config.MaxPairs.
const (
	otherClients = "other clients"
	otherServers = "other servers"
	otherHosts   = "other hosts"
)

// tlsShortLife is the longest median lifetime, in seconds, of TLS
// connections taken for a connection per request: their requests cannot
// be counted, and a connection per request lasts one exchange, where one
// of a pool lasts for many.
const tlsShortLife = 1.0

// tlsFewRequests reports whether most of a pair's closed connections
// (closed, seen from the handshake) are TLS, with no request seen, of a
// request or two each (tlsFewTurns).
func tlsFewRequests(p PairReport, closed int) bool {
	return p.OneRequest == 0 && 5*p.TLS >= 4*closed && 5*p.tlsFew >= 4*closed && p.MedianLifetime != nil
}

// tlsClosedAtOnce is the median idle, in seconds, from the last data to
// the first FIN of the side that closes most of a pair's connections, if
// under idleTimeoutMin, else nil: closed at once, not by an idle
// timeout. The idle runs to the close_notify before the FIN (the engine
// takes no alert for data), and a FIN that answers the peer's
// close_notify comes a round trip later, seen near the other side.
func tlsClosedAtOnce(p PairReport) *float64 {
	idle := p.MedianIdleBeforeClientClose
	if cs, ss, both := p.Closers["client"], p.Closers["server"], p.Closers["both"]; ss > cs+both {
		idle = p.MedianIdleBeforeServerClose
	}
	if idle == nil || *idle >= idleTimeoutMin+p.handshake {
		return nil
	}
	return idle
}

// tlsFewTurns is the most turns to send (reqTracker.turns) of a TLS
// client that made one request, or two, on its connection: a handshake
// takes two (TLS 1.3) or three (TLS 1.2, whose request waits for the
// server's Finished). A client that reuses its connection takes one more
// for each request, and a short connection of many requests is reuse,
// not a connection per request. A client whose ClientHello offers
// HTTP/2 (reqTracker.offersH2) may take two more: its preface and its
// acknowledgement of the server's SETTINGS may each follow something the
// server sent first (a TLS 1.3 session ticket, its SETTINGS): curl's
// take four against nginx, five against Go's server.
const tlsFewTurns = 3

// fewTurns reports whether a TLS client took few turns to send
// (tlsFewTurns).
func (r *reqTracker) fewTurns() bool {
	if r.offersH2 {
		return r.turns <= tlsFewTurns+2
	}
	return r.turns <= tlsFewTurns
}

// tlsCause is the cause of short TLS connections, as far as TCP shows
// it: which side closes. A "Connection: close" is inside TLS, and so is
// an alert that goes before a FIN, so neither the request's header nor
// the idle before the close can be read.
func tlsCause(p PairReport, cs, ss, both int, fix string) string {
	// Over HTTP/2 one turn may carry many requests at once.
	per := "per request"
	if 2*p.tlsH2 > p.TLS {
		per = "per request, or per batch of requests sent at once over HTTP/2"
	}
	if ss > cs+both && 2*p.afterAlert >= ss {
		// The client ends them with its close_notify, and the server
		// closes at once in answer (nginx does): its FIN comes first.
		return fmt.Sprintf("The server sends the first FIN of most of them (%d of %d), but %d of those answer the client's "+
			"TLS close_notify, which came just before: the client ends its connections, and the server closes in answer, "+
			"so the fix belongs to the client: keep-alive is off or connections are not reused (a new client, or a new "+
			"process, %s). %s Each new connection costs a TLS handshake as well.", ss, cs+ss+both, p.afterAlert, per, fix)
	}
	if ss > cs+both {
		return fmt.Sprintf("The server closes most of them (%d of %d): keep-alive is off in the server or in a proxy in "+
			"front of it, or the client asks for \"Connection: close\", which TLS hides from the capture. Check the server "+
			"(in Go: http.Server.SetKeepAlivesEnabled(false), or a handler that closes), then the client (in Go: "+
			"Transport.DisableKeepAlives, Request.Close, a new http.Client or Transport per request). Each new connection "+
			"costs a TLS handshake as well.", ss, cs+ss+both)
	}
	return fmt.Sprintf("The client closes %d of them itself: keep-alive is off or connections are not reused (a new "+
		"client %s), so the fix belongs to the client. %s Each new connection costs a TLS handshake as well.", cs+both, per, fix)
}

// clientFixes is how the client libraries that the User-Agents name make
// a connection per request (perRequest), and how they reuse one (fix);
// grpc: a gRPC library, whose "keepalive" means pings, so that its
// advice does not speak of keep-alive. A library is named by a product
// token of the header that begins with token: gRPC's C core adds its own
// to those of the languages built on it ("grpc-python/1.51.1
// grpc-c/29.0.0 (linux; chttp2)"). The last two entries, without a
// token, are for gRPC calls that no one library made most of (grpc-java,
// or a mix), and for other clients and for none named.
var clientFixes = [...]struct {
	token, perRequest, fix string
	grpc                   bool
}{
	{"Go-http-client/", "a new http.Client or Transport per request", goFix, false},
	{"python-requests/", "requests.get and the like without a Session, each a connection of its own", "In Python's " +
		"requests: make one requests.Session and send all requests through it, and read or close every response.", false},
	{"ApacheBench/", "ab without -k, a connection per request", "In ApacheBench: add -k, which keeps the connections " +
		"alive; without it every request has a connection of its own, and the TIME_WAIT sockets are the benchmark's doing.", false},
	{"grpc-go/", "a new grpc.ClientConn per call", "In grpc-go: create one grpc.ClientConn (grpc.NewClient) and " +
		"share it among all calls instead of dialing per call, and do not Close it after each call.", true},
	{"grpc-c/", "a new channel per call", "In gRPC's C core and the languages built on it (Python, Ruby, PHP and others): " +
		"create one channel (Python: grpc.insecure_channel or grpc.secure_channel) and use it for all calls instead of " +
		"a channel per call.", true},
	{"", "a new channel or ClientConn per call", "Create one channel per server and share it among all calls instead of " +
		"one per call: in grpc-go one grpc.ClientConn (grpc.NewClient), not Closed after each call; in gRPC's C core and " +
		"Python one grpc.insecure_channel or grpc.secure_channel; in Java one ManagedChannel.", true},
	{"", "a new client per request; in Go, a new http.Client or Transport per request", "Keep keep-alive on and share " +
		"one client (one connection pool) among all requests. " + goFix, false},
}

// The entries of clientFixes without a token.
const (
	grpcClient  = len(clientFixes) - 2
	otherClient = len(clientFixes) - 1
)

// goH2Idle names the idle timeouts of Go's HTTP/2 servers, which send
// GOAWAY when it fires: net/http's own, and x/net/http2's, which a
// server made with h2c.NewHandler goes by (http.Server.IdleTimeout did
// not make one send GOAWAY).
const goH2Idle = "http.Server.IdleTimeout; x/net/http2, as with h2c.NewHandler or http2.ConfigureServer: http2.Server.IdleTimeout"

const goFix = "In Go: do not set Transport.DisableKeepAlives or Request.Close, reuse one http.Client/Transport for all " +
	"requests, raise Transport.MaxIdleConnsPerHost to the request concurrency (the default is 2), and drain and close " +
	"every response body."

// clientOf is the index in clientFixes of the library that most of the
// requests with a User-Agent name (agents counts requests per
// User-Agent); else, if most requests are gRPC calls (grpc), of its
// entry for gRPC; else of its last entry.
func clientOf(agents map[string]int, grpc bool) int {
	var n [grpcClient + 1]int
	total := 0
	for ua, c := range agents {
		k := grpcClient // a library the table does not know
		for i, f := range clientFixes[:grpcClient] {
			if strings.HasPrefix(ua, f.token) || strings.Contains(ua, " "+f.token) {
				k = i
				break
			}
		}
		n[k] += c
		total += c
	}
	for k, c := range n[:grpcClient] {
		if 2*c > total {
			return k
		}
	}
	if grpc {
		return grpcClient
	}
	return otherClient
}

// grpcCalls reports whether most of the first requests of a pair's short
// connections are gRPC calls: their labels (pair.labels) are grpcLabel
// and the method, so the count costs nothing per connection.
func grpcCalls(labels map[string]int) bool {
	g, total := 0, 0
	for l, n := range labels {
		if strings.HasPrefix(l, grpcLabel) {
			g += n
		}
		total += n
	}
	return 2*g > total
}

// medianIdleNote is " (median N s after the last data)", or with to
// ", from the last data to X" " (median N s, from the last data to X)",
// or "" when there is no median.
func medianIdleNote(median *float64, to string) string {
	switch {
	case median == nil:
		return ""
	case to != "":
		return fmt.Sprintf(" (median %.3f s%s)", *median, to)
	}
	return fmt.Sprintf(" (median %.3f s after the last data)", *median)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// WriteText writes the report for humans.
func (r *Report) WriteText(w io.Writer) {
	s := r.Summary
	fmt.Fprintf(w, "TIME_WAIT report (TIME_WAIT %g s, ports %d-%d)\n", s.TimeWaitLen, s.PortRange[0], s.PortRange[1])
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nWarnings\n")
		for _, m := range r.Warnings {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
	fmt.Fprintf(w, "\nSummary\n  span %.3f s, %d TCP packets, %d connections (%d complete, %d partial), %d open at the end\n",
		s.Seconds, s.Packets, s.Connections, s.Complete, s.Partial, s.OpenAtEnd)
	fmt.Fprintf(w, "  closes: client %d, server %d, simultaneous %d, RST %d\n", s.Closes["client"], s.Closes["server"], s.Closes["both"], s.Closes["rst"])
	fmt.Fprintf(w, "  TIME_WAIT sockets: %d (%d restarts), %d at the end; tuple reuses: %d accepted, %d refused; SYN retransmissions %d; failed connects %d\n",
		s.TimeWaitTotal, s.Restarts, s.TimeWaitAtEnd, s.ReusesAccepted, s.ReusesRefused, s.SYNRetries, s.FailedConnects)
	if s.Copies > 0 {
		fmt.Fprintf(w, "  second copies of segments with data, SYN, FIN or RST, not counted: %d (the same segment again within 1 ms: -i any captures each packet twice on a host with veth and bridges; a host also answers in-flight segments with identical RSTs)\n", s.Copies)
	}
	fmt.Fprintf(w, "\nTIME_WAIT holders\n")
	for i, h := range r.Hosts {
		if i == maxTextPairs {
			// The most held come first; a flood of short connections
			// from many addresses has tens of thousands.
			fmt.Fprintf(w, "  ... and %d more hosts with fewer TIME_WAIT sockets (--json lists every host)\n", len(r.Hosts)-i)
			break
		}
		fmt.Fprintf(w, "  %-39s peak %6d at %s, %d at the end\n", h.Address, h.Peak, fmtTime(h.PeakTime), h.AtEnd)
		for j, pu := range h.Ports {
			if j == maxTextPairs {
				fmt.Fprintf(w, "    ... and %d more servers (--json lists every one)\n", len(h.Ports)-j)
				break
			}
			ex := ""
			switch {
			case pu.Exhausted:
				ex = fmt.Sprintf(", all %d tied up at the peak: exhausted", pu.RangeSize)
			case pu.SecondsToExhaust > 0:
				ex = fmt.Sprintf(", exhausted in ~%.0f s at the observed rate", pu.SecondsToExhaust)
			}
			fmt.Fprintf(w, "    -> %-30s ports in use %d of %d (peak TIME_WAIT %d)%s\n", pu.Server, pu.InUseAtEnd, pu.RangeSize, pu.PeakTimeWait, ex)
		}
	}
	fmt.Fprintf(w, "\nClient -> server\n")
	for i, p := range r.Pairs {
		if i == maxTextPairs {
			// The busiest come first; a fleet, or a flood, has thousands.
			fmt.Fprintf(w, "  ... and %d more pairs with fewer connections (--json lists every pair)\n", len(r.Pairs)-i)
			break
		}
		gap := "n/a"
		if p.MedianFinToSyn != nil {
			gap = fmt.Sprintf("%.3f s", *p.MedianFinToSyn)
		}
		life := "n/a"
		if p.MedianLifetime != nil {
			life = fmt.Sprintf("%.3f s", *p.MedianLifetime)
		}
		conns := fmt.Sprintf("%d conns", p.Connections)
		if p.Partial > 0 {
			conns += fmt.Sprintf(" (and %d begun before the capture)", p.Partial)
		}
		reqs := "n/a req/conn"
		switch {
		case p.MedianLifetime == nil:
		case p.TLS > 0 && p.RequestsPerConn == 0:
			reqs = fmt.Sprintf("TLS %d (requests not seen)", p.TLS)
			switch {
			case p.TLSWithoutRequest > p.TLSHandshakesFailed && p.TLSHandshakesFailed > 0:
				reqs = fmt.Sprintf("TLS %d (requests not seen; %d without a request, %d of them failed handshakes)", p.TLS, p.TLSWithoutRequest, p.TLSHandshakesFailed)
			case p.TLSHandshakesFailed > 0:
				reqs = fmt.Sprintf("TLS %d (requests not seen; %d failed handshakes)", p.TLS, p.TLSHandshakesFailed)
			case p.TLSWithoutRequest > 0:
				reqs = fmt.Sprintf("TLS %d (requests not seen; %d without a request)", p.TLS, p.TLSWithoutRequest)
			}
		default:
			reqs = fmt.Sprintf("%.1f req/conn", p.RequestsPerConn)
		}
		closes := closersText(p.Closers, p.ClosedAfterGoaway)
		fmt.Fprintf(w, "  %s -> %s: %s, %.1f/s (peak %d/s), median life %s, %s, %d/%d bytes out/in, closes %s, FIN->SYN median %s, TIME_WAIT predicted %.0f observed peak %d\n",
			p.Client, p.Server, conns, p.RateMean, p.RatePeak, life, reqs,
			p.BytesToServer, p.BytesToClient, closes, gap, p.PredictedTimeWait, p.ObservedTimeWait)
	}
	fmt.Fprintf(w, "\nEvents\n")
	kinds := make([]string, 0, len(r.Counts))
	for k := range r.Counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-24s %d\n", k, r.Counts[k])
	}
	fmt.Fprintf(w, "\nRequests behind short connections\n")
	for _, q := range r.Requests {
		fmt.Fprintf(w, "  %8d  %s  (%s -> %s)\n", q.Count, q.Label, q.Client, q.Server)
	}
	for _, a := range r.Agents {
		fmt.Fprintf(w, "  %8d  User-Agent: %s  (%s -> %s)\n", a.Count, a.Label, a.Client, a.Server)
	}
	fmt.Fprintf(w, "\nFindings\n")
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "  none\n")
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  - %s\n", f)
	}
}

func fmtTime(t float64) string {
	return time.Unix(0, int64(t*1e9)).UTC().Format("2006-01-02 15:04:05.000")
}

// closersText lists the closes by closer. afterGoaway, of the client's
// (closers "client" and "both"), is noted beside the client's count, or
// beside the simultaneous closes when the client has none of its own.
func closersText(m map[string]int, afterGoaway int) string {
	note := "client"
	if m["client"] == 0 {
		note = "both"
	}
	var parts []string
	for _, k := range []string{"client", "server", "both", "rst"} {
		if m[k] > 0 {
			part := fmt.Sprintf("%s %d", k, m[k])
			if k == note && afterGoaway > 0 {
				part += fmt.Sprintf(" (%d after the server's GOAWAY)", afterGoaway)
			}
			parts = append(parts, part)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
