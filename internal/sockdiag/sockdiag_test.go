package sockdiag

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDumpTimeWait: connections this test closes first are in TIME_WAIT
// in the kernel's dump, with their addresses, about 60 s left, and grouped
// under the server's port; the dump agrees with /proc/net/tcp.
func TestDumpTimeWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	srv := netip.MustParseAddrPort(ln.Addr().String())
	want := map[netip.AddrPort]bool{}
	for i := 0; i < 5; i++ {
		c, err := net.Dial("tcp", srv.String())
		if err != nil {
			t.Fatal(err)
		}
		want[netip.MustParseAddrPort(c.LocalAddr().String())] = true
		c.Close()
	}
	// The sockets reach TIME_WAIT when the server goroutines have closed
	// and the last ACKs gone: wait for that, not a fixed time.
	var tws []TimeWait
	found := 0
	for deadline := time.Now().Add(5 * time.Second); found < len(want) && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if tws, err = DumpTimeWait(); err != nil {
			t.Fatal(err)
		}
		found = 0
		for _, tw := range tws {
			if want[tw.Local] && tw.Remote == srv {
				found++
			}
		}
	}
	for _, tw := range tws {
		if want[tw.Local] && tw.Remote == srv && (tw.Left <= 55*time.Second || tw.Left > 60*time.Second) {
			t.Errorf("%v: %v left, want just under 60 s", tw.Local, tw.Left)
		}
	}
	if found != len(want) {
		t.Errorf("%d of our %d client sockets in the dump", found, len(want))
	}
	if n := procTimeWait(t); n < found || len(tws) < found {
		t.Errorf("/proc/net/tcp has %d in TIME_WAIT, the dump %d", n, len(tws))
	}
	var ours PortCount
	for _, pc := range ByPort(tws, nil, 1, 65535) {
		if pc.Port == srv.Port() {
			ours = pc
		}
	}
	if !ours.Client || ours.Count < len(want) {
		t.Errorf("group of port %d: %+v", srv.Port(), ours)
	}
}

func procTimeWait(t *testing.T) int {
	n := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fs := strings.Fields(sc.Text()); len(fs) > 3 && fs[3] == "06" {
				n++
			}
		}
		f.Close()
	}
	return n
}

// TestByPort: the service port is the one outside the ephemeral range.
func TestByPort(t *testing.T) {
	ap := netip.MustParseAddrPort
	tws := []TimeWait{
		{Local: ap("10.0.0.1:8080"), Remote: ap("10.0.0.2:40001")}, // we served
		{Local: ap("10.0.0.1:8080"), Remote: ap("10.0.0.2:40002")},
		{Local: ap("10.0.0.1:40003"), Remote: ap("10.0.0.3:443")}, // we were the client
	}
	got := ByPort(tws, nil, 32768, 60999)
	want := []PortCount{{8080, false, 2}, {443, true, 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ByPort = %+v, want %+v", got, want)
	}
	// A server port inside the ephemeral range (gRPC's 50051): its
	// listening socket makes it the service port, not the peers' ports.
	tws = []TimeWait{
		{Local: ap("10.0.0.1:50051"), Remote: ap("10.0.0.2:40001")},
		{Local: ap("10.0.0.1:50051"), Remote: ap("10.0.0.2:40002")},
		{Local: ap("10.0.0.1:50051"), Remote: ap("10.0.0.4:40001")},
		{Local: ap("10.0.0.1:40003"), Remote: ap("10.0.0.3:443")},
	}
	got = ByPort(tws, map[uint16]bool{50051: true, 22: true}, 32768, 60999)
	want = []PortCount{{50051, false, 3}, {443, true, 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ByPort with listeners = %+v, want %+v", got, want)
	}
}

// TestDumpListening: a listener inside the ephemeral range, IPv4 and
// IPv6, is in the kernel's dump of listening sockets; a connected
// socket's port is not.
func TestDumpListening(t *testing.T) {
	var ports []uint16
	for _, network := range []string{"tcp4", "tcp6"} {
		addr := "127.0.0.1:0"
		if network == "tcp6" {
			addr = "[::1]:0"
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			if network == "tcp6" {
				t.Logf("no IPv6: %v", err)
				continue
			}
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, netip.MustParseAddrPort(ln.Addr().String()).Port())
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client := netip.MustParseAddrPort(c.LocalAddr().String()).Port()
	got, err := DumpListening()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if !got[p] {
			t.Errorf("listening port %d not in the dump (%d ports)", p, len(got))
		}
	}
	if got[client] {
		t.Errorf("the client port %d is in the dump of listeners", client)
	}
}
