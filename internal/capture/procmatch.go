package capture

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
	"github.com/gotcpdump/gotcpdump/internal/sockowner"
)

// ProcMatcher decides which TCP packets belong to the chosen processes.
//
// With eBPF (internal/sockowner), every connection a process opens is
// attributed by the kernel before its SYN is sent, so the kernel filter
// passes all TCP and each new 4-tuple is looked up once. Listening ports
// and the connections that exist at the start come from /proc, read
// again every second. Without eBPF, the kernel filter lists the
// processes' ports, read from /proc every 100 ms, and a packet is theirs
// when /proc showed its connection or listener: connections that open
// and close between two reads are missed.
type ProcMatcher struct {
	byPID  map[int]Proc
	procs  []Proc
	owner  *sockowner.Tracker // nil: polling /proc only
	listen map[uint16][]listener
	local  map[netip.Addr]bool // this host's addresses, for wildcard listeners
	conns  map[tuple]Proc      // (local, remote) of known connections (polling mode: all seen)
	miss   map[tuple]struct{}  // 4-tuples known to belong to nobody (eBPF mode)
	ports  map[uint16]Proc     // polling mode: the processes' local ports, for the kernel filter
	last   time.Time
	// started holds the start time of each process still running (a
	// PID is reused: the two name one process); exited, those that
	// polls found gone since Exited last told.
	started map[int]uint64
	exited  []Proc
}

type tuple struct{ local, remote netip.AddrPort }

type listener struct {
	addr netip.Addr // unspecified for a wildcard
	proc Proc
}

// maxTuples bounds each cache; when one is full it starts again empty.
const maxTuples = 1 << 20

// Poll intervals of /proc.
const (
	PollEBPF    = time.Second
	PollNoEBPF  = 100 * time.Millisecond
	eperm       = "needs CAP_BPF and CAP_PERFMON"
	noEBPFTrail = "; falling back to reading /proc every 100 ms, which misses connections that open and close between two reads"
)

// NewProcMatcher prepares the matching of the processes' packets. A
// non-nil warning comes with a usable matcher and says why it polls /proc
// instead of using eBPF. useEBPF false goes straight to /proc.
func NewProcMatcher(procs []Proc, useEBPF bool) (m *ProcMatcher, warning error) {
	m = &ProcMatcher{byPID: make(map[int]Proc), procs: procs, started: make(map[int]uint64)}
	pids := make([]int, len(procs))
	for i, p := range procs {
		m.byPID[p.PID] = p
		pids[i] = p.PID
		if st, ok := startTime(p.PID); ok {
			m.started[p.PID] = st
		}
	}
	var owner *sockowner.Tracker
	err := errors.New("turned off")
	if useEBPF {
		owner, err = sockowner.New(pids)
	}
	if err != nil {
		msg := err.Error()
		if errors.Is(err, os.ErrPermission) {
			msg = "loading the eBPF program " + eperm + " (or root)"
		}
		warning = errors.New("process capture without eBPF: " + msg + noEBPFTrail)
	}
	m.owner = owner
	m.reset()
	m.poll(time.Now())
	return m, warning
}

// EBPF reports whether connections are attributed by eBPF.
func (m *ProcMatcher) EBPF() bool { return m.owner != nil }

// Close releases the eBPF programs.
func (m *ProcMatcher) Close() {
	if m.owner != nil {
		m.owner.Close()
	}
}

func (m *ProcMatcher) reset() {
	m.conns = make(map[tuple]Proc)
	m.miss = make(map[tuple]struct{})
	if m.ports == nil {
		m.ports = make(map[uint16]Proc)
	}
}

// Filter is the libpcap expression that the kernel filter needs to pass
// the processes' packets.
func (m *ProcMatcher) Filter() string {
	if m.owner != nil {
		return "tcp"
	}
	return PortFilter(m.ports)
}

// Poll reads /proc again when it is due, and reports whether Filter has
// changed.
func (m *ProcMatcher) Poll(now time.Time) bool {
	every := PollNoEBPF
	if m.owner != nil {
		every = PollEBPF
	}
	if now.Sub(m.last) < every {
		return false
	}
	return m.poll(now)
}

// Exited returns the processes that have exited since it was last
// called, and how many of the processes are left: a capture that follows
// none any more, or not the one restarted under a new PID, says so.
func (m *ProcMatcher) Exited() (gone []Proc, left int) {
	if len(m.exited) == 0 {
		return nil, len(m.started)
	}
	gone, m.exited = m.exited, nil
	return gone, len(m.started)
}

func (m *ProcMatcher) poll(now time.Time) bool {
	m.last = now
	for pid, st := range m.started {
		if now, ok := startTime(pid); !ok || now != st {
			delete(m.started, pid)
			m.exited = append(m.exited, m.byPID[pid])
		}
	}
	before := m.Filter()
	listen := make(map[uint16][]listener)
	socks, unreadable := Sockets(m.procs)
	// A process whose sockets can no longer be read (gotcpdump dropped
	// its privileges, -Z) keeps the listeners read before.
	for port, ls := range m.listen {
		for _, l := range ls {
			if unreadable[l.proc.PID] {
				listen[port] = append(listen[port], l)
			}
		}
	}
	if len(m.conns)+len(socks) > maxTuples {
		m.conns = make(map[tuple]Proc)
	}
	for _, s := range socks {
		switch {
		case s.Listen:
			listen[s.Local.Port()] = append(listen[s.Local.Port()], listener{s.Local.Addr(), s.Proc})
		default:
			m.conns[tuple{s.Local, s.Remote}] = s.Proc
		}
		if m.owner == nil {
			// Keep ports seen before: their last packets may still come.
			m.ports[s.Local.Port()] = s.Proc
		}
	}
	m.listen = listen
	// A wildcard listener's addresses: those of gotcpdump's namespace
	// (the host's, in front of a container's published ports) and of the
	// processes' own (a container's).
	m.local = make(map[netip.Addr]bool)
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				m.local[p.Addr().Unmap()] = true
			}
		}
	}
	for _, a := range LocalAddrs(m.procs) {
		m.local[a.Unmap()] = true
	}
	return m.Filter() != before
}

// Match returns the process that a TCP segment belongs to.
func (m *ProcMatcher) Match(s *tcpdecode.Segment) (Proc, bool) {
	out, in := tuple{s.Src, s.Dst}, tuple{s.Dst, s.Src}
	if p, ok := m.conns[out]; ok {
		return p, true
	}
	if p, ok := m.conns[in]; ok {
		return p, true
	}
	if p, ok := m.listening(s.Src); ok {
		return p, true
	}
	if p, ok := m.listening(s.Dst); ok {
		return p, true
	}
	if m.owner == nil {
		// Polling: the kernel filter passes the processes' ports, but a
		// client's port, once its connection has closed, may go to
		// another process's connection, which is not theirs.
		return Proc{}, false
	}
	// A SYN may reuse a 4-tuple that belonged to nobody before.
	if _, known := m.miss[out]; known && !(s.SYN && !s.ACK) {
		return Proc{}, false
	}
	if _, known := m.miss[in]; known && !(s.SYN && !s.ACK) {
		return Proc{}, false
	}
	for _, t := range []tuple{out, in} {
		if pid, ok := m.owner.Owner(t.local, t.remote); ok {
			p, ok := m.byPID[pid]
			if !ok {
				p = Proc{PID: pid, Comm: readComm(pid)}
			}
			if len(m.conns) >= maxTuples {
				m.conns = make(map[tuple]Proc)
			}
			m.conns[t] = p
			delete(m.miss, out)
			return p, true
		}
	}
	if len(m.miss) >= maxTuples {
		m.miss = make(map[tuple]struct{})
	}
	m.miss[out] = struct{}{}
	return Proc{}, false
}

func (m *ProcMatcher) listening(ap netip.AddrPort) (Proc, bool) {
	a := ap.Addr().Unmap()
	for _, l := range m.listen[ap.Port()] {
		if l.addr.Unmap() == a || (l.addr.IsUnspecified() && (m.local[a] || a.IsLoopback())) {
			return l.proc, true
		}
	}
	return Proc{}, false
}
