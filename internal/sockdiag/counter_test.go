package sockdiag

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestCounterNamespace: in a network namespace of its own, with sockets
// in TIME_WAIT on both sides of IPv4 and IPv6 connections and a server
// port inside the ephemeral range, a Counter's sample has the groups the
// test made, and exactly the counts of the kernel's /proc tables and of
// ByPort of DumpTimeWait; with thousands more sockets (a dump of many
// datagrams) too, and it allocates nothing.
func TestCounterNamespace(t *testing.T) {
	inNetns(t, func() {
		lo, hi := EphemeralRange()
		// In a new namespace, nothing else is in TIME_WAIT.
		if n := len(procTimeWaitPorts(t)); n != 0 {
			t.Errorf("%d sockets in TIME_WAIT in a new namespace", n)
			return
		}
		// server closes first: its side is in TIME_WAIT, under its port.
		srv8080 := listen(t, "127.0.0.1:8080", true)
		srvRange := listen(t, "127.0.0.1:0", true) // a port inside the range, with a listener
		srv6 := listen(t, "[::1]:8443", true)
		// client closes first: the client's ephemeral port is tied up.
		cli9090 := listen(t, "127.0.0.1:9090", false)
		cli6 := listen(t, "[::1]:9443", false)
		if t.Failed() {
			return
		}
		rangePort := netip.MustParseAddrPort(srvRange.Addr().String()).Port()
		if rangePort < lo || rangePort > hi {
			t.Errorf("listener on port %d, outside the ephemeral range %d-%d", rangePort, lo, hi)
		}
		listening := map[uint16]bool{8080: true, rangePort: true, 8443: true, 9090: true, 9443: true}
		for _, g := range []struct {
			ln          net.Listener
			n           int
			serverClose bool
		}{{srv8080, 40, true}, {cli9090, 30, false}, {srvRange, 20, true}, {srv6, 10, true}, {cli6, 5, false}} {
			connect(t, g.ln.Addr().String(), g.n, g.serverClose)
		}
		want := []PortCount{{8080, false, 40}, {9090, true, 30}, {rangePort, false, 20}, {8443, false, 10}, {9443, true, 5}}
		c := NewCounter()
		defer c.Close()
		check := func() {
			tws := settle(t, want)
			n, ports, err := c.Sample(lo, hi)
			if err != nil {
				t.Error(err)
				return
			}
			// The kernel's text tables, grouped by the test's listeners.
			ref := map[portKey]int{}
			for _, tw := range tws {
				ref[service(tw[0], tw[1], listening, lo, hi)]++
			}
			if n != len(tws) || !slices.Equal(ports, appendSorted(nil, ref)) {
				t.Errorf("sample: %d sockets, %+v; /proc: %d, %+v", n, ports, len(tws), appendSorted(nil, ref))
			}
			for i, p := range ports {
				if i >= len(want) || p.Port != want[i].Port || p.Client != want[i].Client || p.Count > want[i].Count || p.Count < want[i].Count*99/100 {
					t.Errorf("sample: %+v, want about %+v", ports, want)
					break
				}
			}
			dumped, err := DumpTimeWait()
			l, err2 := DumpListening()
			if err != nil || err2 != nil {
				t.Error(err, err2)
				return
			}
			if by := ByPort(dumped, l, lo, hi); !slices.Equal(by, ports) || len(dumped) != n {
				t.Errorf("ByPort of %d sockets: %+v, the sample %+v", len(dumped), by, ports)
			}
			// The range alone puts the listener inside it under its
			// clients' ports.
			for _, pc := range ByPort(dumped, nil, lo, hi) {
				if pc.Port == rangePort {
					t.Errorf("ByPort without listeners: %+v", pc)
				}
			}
		}
		check()
		small := testing.AllocsPerRun(5, func() { c.Sample(lo, hi) })
		// Enough sockets for a dump of many datagrams (a few hundred
		// sockets each).
		const more = 3000
		connect(t, srv8080.Addr().String(), more, true)
		want[0].Count += more
		check()
		c.Sample(lo, hi) // the maps and slice have grown, if they had to
		if large := testing.AllocsPerRun(5, func() { c.Sample(lo, hi) }); large > 0 || small > 0 {
			t.Errorf("a sample allocates %v times with %d sockets, %v with %d", small, 105, large, 105+more)
		}
	})
}

// inNetns runs f in a new network namespace, with lo up, on an OS thread
// that dies with it. It skips the test when the namespace cannot be made.
func inNetns(t *testing.T, f func()) {
	skip := make(chan error, 1)
	go func() {
		defer close(skip)
		// Never unlocked: the runtime ends the thread, and no other
		// goroutine runs in the namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			skip <- err
			return
		}
		if err := linkUp("lo"); err != nil {
			t.Errorf("lo up: %v", err)
			return
		}
		// Nor may a client reuse its ports in TIME_WAIT (/proc/sys/net is
		// the namespace of the thread that opens it; 1 s after,
		// on loopback, by default).
		if err := os.WriteFile("/proc/sys/net/ipv4/tcp_tw_reuse", []byte("0"), 0); err != nil {
			t.Errorf("tcp_tw_reuse: %v", err)
			return
		}
		f()
	}()
	if err := <-skip; err != nil {
		t.Skipf("no network namespace of our own: %v", err)
	}
}

func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// listen serves addr: closing each connection at once (closeFirst) or
// when the client has.
func listen(t *testing.T, addr string, closeFirst bool) net.Listener {
	network := "tcp4"
	if strings.HasPrefix(addr, "[") {
		network = "tcp6"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Error(err)
		return nil
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if !closeFirst {
					io.Copy(io.Discard, c)
				}
				c.Close()
			}()
		}
	}()
	return ln
}

// clientPort is the next local port of a client whose server closes
// first. The kernel would pick a port in the ephemeral range, and in
// thousands of connections pick again ports whose connections the
// server still holds in TIME_WAIT: a SYN to such a socket replaces it.
var clientPort = 10000

// connect makes n connections to addr; the side that closes first ends
// in TIME_WAIT.
func connect(t *testing.T, addr string, n int, serverClose bool) {
	server := netip.MustParseAddrPort(addr)
	for range n {
		var d net.Dialer
		if serverClose {
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(server.Addr(), uint16(clientPort)))
			clientPort++
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		if serverClose {
			io.Copy(io.Discard, c) // until the server's FIN
		}
		c.Close()
	}
}

// settle waits until the namespace's sockets in TIME_WAIT stop changing
// near the count of want (the last FINs and ACKs of the test's
// connections take a moment; a rare connection of thousands on loopback
// ends in a reset, not TIME_WAIT) and returns their ports.
func settle(t *testing.T, want []PortCount) [][2]uint16 {
	total := 0
	for _, p := range want {
		total += p.Count
	}
	var tws [][2]uint16
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		prev := len(tws)
		time.Sleep(100 * time.Millisecond)
		if tws = procTimeWaitPorts(t); len(tws) == total || (len(tws) == prev && len(tws) >= total*99/100) {
			return tws
		}
	}
	t.Errorf("%d sockets in TIME_WAIT, want %d", len(tws), total)
	return tws
}

// procTimeWaitPorts lists the local and remote ports of the TIME_WAIT
// sockets of this thread's network namespace, as the kernel's text
// tables give them.
func procTimeWaitPorts(t *testing.T) [][2]uint16 {
	var out [][2]uint16
	for _, name := range []string{"/proc/thread-self/net/tcp", "/proc/thread-self/net/tcp6"} {
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Error(err)
			return nil
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st: 0100007F:1F90 0100007F:2710 06
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "06" {
				continue
			}
			var ports [2]uint16
			for i, a := range fs[1:3] {
				p, err := strconv.ParseUint(a[strings.LastIndexByte(a, ':')+1:], 16, 16)
				if err != nil {
					t.Errorf("%s: %q", name, sc.Text())
				}
				ports[i] = uint16(p)
			}
			out = append(out, ports)
		}
		f.Close()
	}
	return out
}
