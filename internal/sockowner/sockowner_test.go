package sockowner

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
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

	stop := spinEveryCPU()
	o := startSYN(t, nil, srv, 1600*time.Millisecond) // the first retransmission is after 1 s
	res := o.wait(t)
	stop()
	if res.retrans == 0 {
		t.Fatalf("the helper's SYN was not retransmitted: the test proves nothing")
	}
	if pid, ok := tr.Owner(o.local, srv); ok {
		t.Errorf("another process's socket %v, its SYN retransmitted %d times, is attributed to %d", o.local, res.retrans, pid)
	}
}

// TestSYNFromNeighbourQueue: a SYN to an address whose link-layer
// address is not known yet waits in the neighbour's queue and is sent
// when the ARP reply comes, in softirq context, in whatever process the
// CPU is running. The other process connects in a network namespace
// whose peer does not answer ARP at first; once it does, the SYN leaves
// on the next ARP probe's timer while the target spins on every CPU. The
// connection must not be attributed to the target.
func TestSYNFromNeighbourQueue(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF and CAP_PERFMON, network namespaces)")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	cli, srvNS := "soc"+id, "sos"+id
	for _, ns := range []string{cli, srvNS} {
		run(t, "ip", "netns", "add", ns)
		ns := ns
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	}
	run(t, "ip", "link", "add", "vc", "netns", cli, "type", "veth", "peer", "name", "vs", "netns", srvNS)
	run(t, "ip", "-n", cli, "addr", "add", "10.213.0.1/24", "dev", "vc")
	run(t, "ip", "-n", srvNS, "addr", "add", "10.213.0.2/24", "dev", "vs")
	run(t, "ip", "-n", srvNS, "link", "set", "vs", "arp", "off", "up")
	run(t, "ip", "-n", cli, "link", "set", "vc", "up")
	// Probe every 100 ms, and keep probing (the default gives up after 3).
	run(t, "ip", "netns", "exec", cli, "sysctl", "-q", "net.ipv4.neigh.vc.retrans_time_ms=100", "net.ipv4.neigh.vc.mcast_solicit=50")

	tr, err := New([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	srv := netip.MustParseAddrPort("10.213.0.2:9") // nothing listens: the answer is a RST
	stop := spinEveryCPU()
	o := startSYN(t, []string{"ip", "netns", "exec", cli}, srv, 900*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // a probe or two go unanswered
	out, err := exec.Command("ip", "-n", srvNS, "link", "set", "vs", "arp", "on").CombinedOutput()
	res := o.wait(t)
	stop()
	if err != nil {
		t.Fatalf("ip link set arp on: %v\n%s", err, out)
	}
	if res.state == tcpSynSent || res.retrans != 0 {
		t.Fatalf("the helper's SYN was not answered, or was retransmitted (TCP state %d, %d retransmissions): the test proves nothing", res.state, res.retrans)
	}
	if pid, ok := tr.Owner(o.local, srv); ok {
		t.Errorf("another process's socket %v, its SYN sent from the neighbour queue, is attributed to %d", o.local, pid)
	}
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// spinEveryCPU keeps a thread of this process running on each CPU, so
// that work the kernel does in interrupt context runs "in" this process,
// until the returned function is called.
func spinEveryCPU() (stop func()) {
	var done atomic.Bool
	var spinning sync.WaitGroup
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		spinning.Add(1)
		go func() {
			defer spinning.Done()
			runtime.LockOSThread()
			var set unix.CPUSet
			set.Set(cpu)
			_ = unix.SchedSetaffinity(0, &set)
			for !done.Load() {
			}
		}()
	}
	return func() {
		done.Store(true)
		spinning.Wait()
	}
}

// synHelper is another process (TestHelperSYN) with a connection in
// progress.
type synHelper struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	local netip.AddrPort
}

type synResult struct{ retrans, state int }

// startSYN starts the other process, optionally through a command
// prefix (a network namespace), and returns once its SYN is queued.
func startSYN(t *testing.T, prefix []string, srv netip.AddrPort, wait time.Duration) *synHelper {
	t.Helper()
	args := append(append([]string{}, prefix...), os.Args[0], "-test.run=^TestHelperSYN$")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SOCKOWNER_SYN="+srv.String(), "SOCKOWNER_WAIT="+wait.String())
	cmd.Stderr = os.Stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	h := &synHelper{cmd: cmd, out: bufio.NewReader(pipe)}
	line, _ := h.out.ReadString('\n')
	if h.local, err = netip.ParseAddrPort(strings.TrimSpace(line)); err != nil {
		t.Fatalf("helper: %q: %v", line, err)
	}
	return h
}

// wait reads the helper's retransmission count and TCP state.
func (h *synHelper) wait(t *testing.T) synResult {
	t.Helper()
	var r synResult
	line, _ := h.out.ReadString('\n')
	if _, err := fmt.Sscanf(line, "%d %d", &r.retrans, &r.state); err != nil {
		t.Fatalf("helper: %q: %v", line, err)
	}
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	return r
}

// TestHelperSYN is the other process of TestRetransmittedSYN and
// TestSYNFromNeighbourQueue: it starts a connection and prints its local
// address, waits, and prints the retransmission count and TCP state.
func TestHelperSYN(t *testing.T) {
	addr := os.Getenv("SOCKOWNER_SYN")
	if addr == "" {
		t.Skip("run by TestRetransmittedSYN and TestSYNFromNeighbourQueue")
	}
	wait, err := time.ParseDuration(os.Getenv("SOCKOWNER_WAIT"))
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(addr)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}); err != nil && err != unix.EINPROGRESS {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	fmt.Println(netip.AddrPortFrom(netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr), uint16(sa.(*unix.SockaddrInet4).Port)))
	time.Sleep(wait)
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(info.Total_retrans, info.State)
	os.Exit(0)
}
