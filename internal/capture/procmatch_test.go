package capture

import (
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

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
		{"to the listener on loopback", "127.0.0.1:50000", "127.0.0.7:9000", gw, true},
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

func TestLocalAddrsParsing(t *testing.T) {
	const fib = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 172.17.0.0/16 2 0 2
        |-- 172.17.0.0
           /16 link UNICAST
        |-- 172.17.0.2
           /32 host LOCAL
`
	const inet6 = `fd000000000000000000000000000002 04 40 00 82     eth0
00000000000000000000000000000001 01 80 10 80       lo
`
	got := append(fibLocal(fib), ifInet6(inet6)...)
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("172.17.0.2"),
		netip.MustParseAddr("fd00::2"), netip.MustParseAddr("::1")}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("address %d: %v, want %v", i, got[i], want[i])
		}
	}
	// This process's own namespace has at least its loopback address.
	self := nsAddrs(os.Getpid())
	found := false
	for _, a := range self {
		found = found || a == netip.MustParseAddr("127.0.0.1")
	}
	if !found {
		t.Errorf("nsAddrs of this process: %v, without 127.0.0.1", self)
	}
	// LocalAddrs leaves gotcpdump's own namespace to its interfaces.
	if own := LocalAddrs([]Proc{{PID: os.Getpid()}}); len(own) != 0 {
		t.Errorf("LocalAddrs of this process's namespace: %v, want none", own)
	}
}

// TestProcMatcherExited: a followed process that exits is told once,
// with how many are left; one still running is not.
func TestProcMatcherExited(t *testing.T) {
	start := func() (*exec.Cmd, Proc) {
		c := exec.Command("sleep", "60")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
		p, err := NewProc(c.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return c, p
	}
	c1, p1 := start()
	_, p2 := start()
	m, _ := NewProcMatcher([]Proc{p1, p2}, false)
	defer m.Close()
	if gone, left := m.Exited(); len(gone) != 0 || left != 2 {
		t.Fatalf("before any exit: %v gone, %d left", gone, left)
	}
	_ = c1.Process.Kill()
	_ = c1.Wait() // reaped: /proc/PID is gone
	m.poll(time.Now())
	if gone, left := m.Exited(); len(gone) != 1 || gone[0] != p1 || left != 1 {
		t.Errorf("after %v exited: %v gone, %d left", p1, gone, left)
	}
	m.poll(time.Now())
	if gone, left := m.Exited(); len(gone) != 0 || left != 1 {
		t.Errorf("told twice: %v gone, %d left", gone, left)
	}
	if st, ok := startTime(os.Getpid()); !ok || st == 0 {
		t.Errorf("startTime of this process: %d, %v", st, ok)
	}
}
