package sockdiag

import (
	"bufio"
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
	for _, pc := range ByPort(tws, 1, 65535) {
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
	got := ByPort(tws, 32768, 60999)
	want := []PortCount{{8080, false, 2}, {443, true, 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ByPort = %+v, want %+v", got, want)
	}
}
