package sockowner

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
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
