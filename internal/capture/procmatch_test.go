package capture

import (
	"net/netip"
	"testing"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// Polling /proc, a packet is the processes' only when /proc showed its
// connection or its listener: the kernel filter passes their ports, and
// a client port of theirs, once its connection has closed, may go to
// another process's connection (TestGotcpdumpPidHighRate).
func TestProcMatcherPollingMatchesConnectionsNotPorts(t *testing.T) {
	ap := netip.MustParseAddrPort
	a, gw := Proc{PID: 10, Comm: "a"}, Proc{PID: 20, Comm: "gw"}
	m := &ProcMatcher{
		conns: map[tuple]Proc{{ap("10.0.0.1:40000"), ap("10.0.0.2:8080")}: a},
		ports: map[uint16]Proc{40000: a, 9000: gw},
		listen: map[uint16][]listener{
			9000: {{netip.IPv4Unspecified(), gw}},
		},
		local: map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true},
	}
	for _, c := range []struct {
		name     string
		src, dst string
		want     Proc
		ok       bool
	}{
		{"a's connection, out", "10.0.0.1:40000", "10.0.0.2:8080", a, true},
		{"a's connection, in", "10.0.0.2:8080", "10.0.0.1:40000", a, true},
		{"a's port, another process's connection", "10.0.0.1:40000", "10.0.0.2:7070", Proc{}, false},
		{"its answer", "10.0.0.2:7070", "10.0.0.1:40000", Proc{}, false},
		{"to the listener", "10.0.0.3:50000", "10.0.0.1:9000", gw, true},
		{"from the listener", "10.0.0.1:9000", "10.0.0.3:50000", gw, true},
		{"the listener's port on another host", "10.0.0.3:9000", "10.0.0.4:50000", Proc{}, false},
	} {
		s := tcpdecode.Segment{Src: ap(c.src), Dst: ap(c.dst), ACK: true}
		if p, ok := m.Match(&s); p != c.want || ok != c.ok {
			t.Errorf("%s: %v %v, want %v %v", c.name, p, ok, c.want, c.ok)
		}
	}
	if got, want := m.Filter(), PortFilter(m.ports); got != want {
		t.Errorf("filter %q, want the ports' %q", got, want)
	}
}
