package sockowner

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOwner: a target process's connections are found by their 4-tuple
// as soon as connect(2) returns, over IPv4 and IPv6; another process's
// connections to the same listener are not.
func TestOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF and CAP_PERFMON)")
	}
	tr, err := New([]int{os.Getpid()})
	if errors.Is(err, ErrUnsupported) {
		t.Fatalf("the test machine's kernel should run the program: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := netip.MustParseAddrPort(ln.Addr().String())
		c, err := net.Dial("tcp", srv.String())
		if err != nil {
			t.Fatal(err)
		}
		cli := netip.MustParseAddrPort(c.LocalAddr().String())
		if pid, ok := tr.Owner(cli, srv); !ok || pid != os.Getpid() {
			t.Errorf("client socket %v->%v: owner %d, %v; want %d", cli, srv, pid, ok, os.Getpid())
		}
		if pid, ok := tr.Owner(srv, cli); ok {
			t.Errorf("the accepted socket %v->%v is attributed to %d; only connecting sockets are", srv, cli, pid)
		}
		// Another process connects to the same listener and prints its
		// local address.
		other := exec.Command(os.Args[0], "-test.run=^TestHelperDial$")
		other.Env = append(os.Environ(), "SOCKOWNER_DIAL="+srv.String())
		out, err := other.Output()
		if err != nil {
			t.Fatal(err)
		}
		o, err := netip.ParseAddrPort(strings.TrimSpace(string(out)))
		if err != nil {
			t.Fatalf("helper: %q: %v", out, err)
		}
		if pid, ok := tr.Owner(o, srv); ok {
			t.Errorf("another process's socket %v is attributed to %d", o, pid)
		}
		c.Close()
		ln.Close()
	}
}

// TestHelperDial is the other process: it connects and prints its local
// address.
func TestHelperDial(t *testing.T) {
	addr := os.Getenv("SOCKOWNER_DIAL")
	if addr == "" {
		t.Skip("run by TestOwner")
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(c.LocalAddr())
	c.Close()
	os.Exit(0)
}

// TestRetransmittedSYN: a SYN that another process retransmits is sent
// from a timer, in whatever process the CPU is running; with the target
// spinning on every CPU, that is the target, and the connection must
// still not be attributed to it. The other process's first SYN is
// dropped (the listener's accept queue is full), so it retransmits it
// after a second.
func TestRetransmittedSYN(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF and CAP_PERFMON)")
	}
	tr, err := New([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	// A listener that never accepts, with room for one connection.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	fill, err := net.Dial("tcp", srv.String())
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()

	var stop atomic.Bool
	var spinning sync.WaitGroup
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		spinning.Add(1)
		go func() {
			defer spinning.Done()
			runtime.LockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			_ = unix.SchedSetaffinity(0, &set)
			for !stop.Load() {
			}
		}()
	}
	other := exec.Command(os.Args[0], "-test.run=^TestHelperSYN$")
	other.Env = append(os.Environ(), "SOCKOWNER_SYN="+srv.String())
	out, err := other.Output()
	stop.Store(true)
	spinning.Wait()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("helper: %q", out)
	}
	o, err := netip.ParseAddrPort(f[0])
	if err != nil {
		t.Fatalf("helper: %q: %v", out, err)
	}
	if f[1] == "0" {
		t.Fatalf("the helper's SYN was not retransmitted (%q): the test proves nothing", out)
	}
	if pid, ok := tr.Owner(o, srv); ok {
		t.Errorf("another process's socket %v, its SYN retransmitted %s times, is attributed to %d", o, f[1], pid)
	}
}

// TestHelperSYN is the other process of TestRetransmittedSYN: it starts
// a connection, waits for its SYN to be retransmitted, and prints its
// local address and the retransmission count.
func TestHelperSYN(t *testing.T) {
	addr := os.Getenv("SOCKOWNER_SYN")
	if addr == "" {
		t.Skip("run by TestRetransmittedSYN")
	}
	ap := netip.MustParseAddrPort(addr)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	time.Sleep(1600 * time.Millisecond) // the first retransmission is after 1 s
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	local := netip.AddrPortFrom(netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr), uint16(sa.(*unix.SockaddrInet4).Port))
	fmt.Println(local, info.Total_retrans)
	os.Exit(0)
}
