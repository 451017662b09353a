package tests

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
	"github.com/gotcpdump/gotcpdump/goparser/tcptw"
	"github.com/gotcpdump/gotcpdump/internal/syncbuf"
)

var update = flag.Bool("update", false, "rewrite the committed TIME_WAIT captures and golden reports, and the generated tables of README.md")

// The kernel reaps expired TIME_WAIT sockets in timer-wheel batches, up
// to one granularity late (4.096 s at HZ=1000), so a sample may match the
// estimate of up to this long before it.
const reapSlack = 4200 * time.Millisecond

// lab is a client and a server network namespace joined by veth.
type lab struct {
	t        *testing.T
	cliNS    string
	srvNS    string
	cliIP    netip.Addr
	srvIP    netip.Addr
	cliIf    string
	sleepers map[string]*exec.Cmd
	capFile  string
}

func newLab(t *testing.T, n int) *lab {
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, n)
	l := &lab{
		t: t, cliNS: "gtwc" + id, srvNS: "gtws" + id,
		cliIP:    netip.MustParseAddr(fmt.Sprintf("10.251.%d.1", n)),
		srvIP:    netip.MustParseAddr(fmt.Sprintf("10.251.%d.2", n)),
		cliIf:    "vc" + id,
		sleepers: map[string]*exec.Cmd{},
	}
	srvIf := "vs" + id
	t.Cleanup(func() {
		for _, c := range l.sleepers {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
		_ = exec.Command("ip", "netns", "del", l.cliNS).Run()
		_ = exec.Command("ip", "netns", "del", l.srvNS).Run()
	})
	for _, args := range [][]string{
		{"netns", "add", l.cliNS},
		{"netns", "add", l.srvNS},
		{"link", "add", l.cliIf, "type", "veth", "peer", "name", srvIf},
		{"link", "set", l.cliIf, "netns", l.cliNS},
		{"link", "set", srvIf, "netns", l.srvNS},
		{"-n", l.cliNS, "addr", "add", l.cliIP.String() + "/24", "dev", l.cliIf},
		{"-n", l.srvNS, "addr", "add", l.srvIP.String() + "/24", "dev", srvIf},
		{"-n", l.cliNS, "link", "set", l.cliIf, "up"},
		{"-n", l.srvNS, "link", "set", srvIf, "up"},
		{"-n", l.cliNS, "link", "set", "lo", "up"},
		{"-n", l.srvNS, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// A process living in each namespace gives /proc/PID/net/tcp for it.
	for _, ns := range []string{l.cliNS, l.srvNS} {
		c := exec.Command("ip", "netns", "exec", ns, "sleep", "3600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		l.sleepers[ns] = c
	}
	return l
}

func (l *lab) sysctl(ns string, kv ...string) {
	for _, s := range kv {
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-w", s).CombinedOutput(); err != nil {
			l.t.Fatalf("sysctl %s: %v\n%s", s, err, out)
		}
	}
}

// bridge puts the server's address on a bridge in its namespace, whose
// port is the veth, and returns the bridge's name: as for containers on
// a node. Segments that a bridge hook drops leave the server's TCP
// unaware, as on a lossy path, where a drop in an IP hook would fail its
// transmission, which TCP then repeats at once.
func (l *lab) bridge() string {
	srvIf := strings.Replace(l.cliIf, "vc", "vs", 1)
	br := strings.Replace(l.cliIf, "vc", "br", 1)
	for _, args := range [][]string{
		{"-n", l.srvNS, "addr", "del", l.srvIP.String() + "/24", "dev", srvIf},
		{"-n", l.srvNS, "link", "add", br, "type", "bridge"},
		{"-n", l.srvNS, "link", "set", srvIf, "master", br},
		{"-n", l.srvNS, "addr", "add", l.srvIP.String() + "/24", "dev", br},
		{"-n", l.srvNS, "link", "set", br, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			l.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return br
}

// nft loads an nftables ruleset into a namespace.
func (l *lab) nft(ns, ruleset string) {
	c := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	c.Stdin = strings.NewReader(ruleset)
	if out, err := c.CombinedOutput(); err != nil {
		l.t.Fatalf("nft: %v\n%s", err, out)
	}
}

// waitListening waits until a namespace has a TCP listener on each
// address, as ss shows them: eight scenarios start at once on two cores,
// and a refused first connection would change the counts.
func (l *lab) waitListening(ns string, addrs ...string) {
	l.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn").Output()
		missing := ""
		for _, a := range addrs {
			if !strings.Contains(string(out), a+" ") {
				missing = a
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("nothing listens on %s after 15 s:\n%s", missing, out)
		}
	}
}

// start runs a command in a namespace and stops it when the test ends.
func (l *lab) start(ns string, args ...string) *exec.Cmd {
	c := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	if err := c.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	})
	return c
}

// timeWait counts the namespace's sockets in TIME_WAIT (state 06).
func (l *lab) timeWait(ns string) int {
	return l.timeWaitSockets(ns, nil)
}

// twSocket is a TIME_WAIT socket: its own address, then its peer's.
type twSocket [2]netip.AddrPort

// timeWaitSockets counts the namespace's sockets in TIME_WAIT and, when
// seen is not nil, adds each IPv4 one to it with the time it was first
// seen.
func (l *lab) timeWaitSockets(ns string, seen map[twSocket]time.Time) int {
	pid := l.sleepers[ns].Process.Pid
	n := 0
	now := time.Now()
	for _, f := range []string{"tcp", "tcp6"} {
		fh, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) <= 3 || fields[3] != "06" {
				continue
			}
			n++
			if seen == nil || f != "tcp" {
				continue
			}
			k := twSocket{procAddr(fields[1]), procAddr(fields[2])}
			if _, ok := seen[k]; !ok {
				seen[k] = now
			}
		}
		fh.Close()
	}
	return n
}

// procAddr parses an IPv4 address and port of /proc/net/tcp: the address
// as a 32-bit word in hex, in this machine's byte order (little-endian:
// the tests run on x86-64 and arm64), the port in hex.
func procAddr(s string) netip.AddrPort {
	a, p, _ := strings.Cut(s, ":")
	w, err1 := strconv.ParseUint(a, 16, 32)
	port, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)}), uint16(port))
}

type sample struct {
	before, after time.Time
	count         map[netip.Addr]int
}

// scenario is one way connections end, checked against the kernel.
type scenario struct {
	name      string
	cliSysctl []string
	// lossRules: an nftables ruleset of the bridge family for the
	// server's namespace, whose address then sits on a bridge (see
	// lab.bridge); scratch: the capture is not kept in testpcaps/; lag:
	// how much later than the kernel the estimate may change (see
	// matches).
	lossRules string
	scratch   bool
	lag       time.Duration
	server    func(l *lab) []string
	clients   func(l *lab) [][]string
	check     func(t *testing.T, r *tcptw.Report, l *lab)
}

func httpServer(l *lab) []string {
	return []string{twlab, "server", "-listen", l.srvIP.String() + ":8080"}
}

func httpClient(mode string, n int, every string) func(l *lab) [][]string {
	return func(l *lab) [][]string {
		return [][]string{{twlab, "client", "-addr", l.srvIP.String() + ":8080", "-mode", mode, "-n", fmt.Sprint(n), "-every", every}}
	}
}

// curlLoop runs curl n times, 50 ms apart, each a connection of its own.
func curlLoop(n int, args string) []string {
	return []string{"sh", "-c", fmt.Sprintf("for i in $(seq %d); do curl %s >/dev/null; sleep 0.05; done", n, args)}
}

var twlab, gotcpdumpBin string

// labBinaries checks that the test may make network namespaces, builds
// twlab and gotcpdump into a temporary directory, and returns it.
func labBinaries(t *testing.T) string {
	t.Helper()
	dir, bin, lab := labTools(t, "network namespaces")
	gotcpdumpBin, twlab = bin, lab
	return dir
}

// labTools builds gotcpdump and twlab into a temporary directory for a
// test that needs root for what needs says.
func labTools(t *testing.T, needs string) (dir, bin, lab string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("needs root for %s (make test runs as root)", needs)
	}
	dir = t.TempDir()
	return dir, goBuild(t, dir, "./cmd/gotcpdump"), goBuild(t, dir, "./testpcaps/gen/twlab")
}

func host(r *tcptw.Report, a netip.Addr) tcptw.HostReport {
	for _, h := range r.Hosts {
		if h.Address == a.String() {
			return h
		}
	}
	return tcptw.HostReport{Address: a.String()}
}

var scenarios = []scenario{
	{
		name:    "client_closes",
		server:  httpServer,
		clients: httpClient("close", 40, "100ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.Closes["client"] != 40 || host(r, l.cliIP).Peak != 40 || host(r, l.srvIP).Peak != 0 {
				t.Errorf("closes %v, client peak %d, server peak %d", r.Summary.Closes, host(r, l.cliIP).Peak, host(r, l.srvIP).Peak)
			}
		},
	},
	{
		name:    "server_closes",
		server:  httpServer,
		clients: httpClient("nokeepalive", 40, "100ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			// The client's kernel may pick a port again whose tuple the
			// server still holds in TIME_WAIT (its own socket is gone);
			// the server accepts the SYN and drops that socket, so its
			// peak is 40 less the reuses. (A peak of 39 with one client
			// close, about 1 run in 30, was twlab exiting before the
			// Transport had closed its last connection; it now waits.)
			if r.Summary.Closes["server"] != 40 || host(r, l.srvIP).Peak+r.Summary.ReusesAccepted != 40 {
				t.Errorf("closes %v, server peak %d; summary %+v", r.Summary.Closes, host(r, l.srvIP).Peak, r.Summary)
			}
			if !anyContains(r.Findings, "Connection: close", "fix belongs to the client") {
				t.Errorf("findings do not send the fix to the client: %q", r.Findings)
			}
		},
	},
	{
		name:    "linger0",
		server:  httpServer,
		clients: httpClient("linger0", 40, "100ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.Closes["rst"] != 40 || r.Summary.TimeWaitTotal != 0 {
				t.Errorf("closes %v, TIME_WAIT sockets %d", r.Summary.Closes, r.Summary.TimeWaitTotal)
			}
		},
	},
	{
		name:      "tuple_reuse",
		cliSysctl: []string{"net.ipv4.ip_local_port_range=40000 40004", "net.ipv4.tcp_tw_reuse=1"},
		server:    httpServer,
		clients:   httpClient("close", 30, "300ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			// Ground truth from the capture: within these few seconds every
			// SYN after the first on a 4-tuple reuses it while its
			// TIME_WAIT (60 s) lasts.
			syns, tuples := synCounts(t, l.capFile)
			if want := syns - tuples; want == 0 || r.Summary.ReusesAccepted != want || r.Summary.ReusesRefused != 0 {
				t.Errorf("reuses accepted %d refused %d; the capture has %d SYNs on %d tuples", r.Summary.ReusesAccepted, r.Summary.ReusesRefused, syns, tuples)
			}
		},
	},
	{
		// A SYN older than the server's TIME_WAIT socket: refused (the
		// kernel answers with an ACK), then the client's RST to that ACK
		// is in window and kills the socket (tcp_rfc1337=0).
		name:   "reuse_refused",
		server: httpServer,
		clients: func(l *lab) [][]string {
			return [][]string{{twlab, "stalesyn", "-addr", l.srvIP.String() + ":8080"}}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.ReusesRefused != 1 || r.Summary.ReusesAccepted != 0 || r.Counts["rst_in_time_wait"] != 1 {
				t.Errorf("reuses refused %d accepted %d, events %v", r.Summary.ReusesRefused, r.Summary.ReusesAccepted, r.Counts)
			}
		},
	},
	{
		name: "syn_retries",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-listen", l.srvIP.String() + ":8080", "-backlog"}
		},
		clients: func(l *lab) [][]string {
			var c [][]string
			for i := 0; i < 4; i++ {
				c = append(c, []string{twlab, "client", "-addr", l.srvIP.String() + ":8080", "-mode", "connect", "-n", "1", "-timeout", "4s"})
			}
			return c
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.SYNRetries == 0 {
				t.Errorf("no SYN retransmissions seen: %+v", r.Summary)
			}
		},
	},
	{
		name: "healthz_storm",
		server: func(l *lab) []string {
			return []string{twlab, "gateway", "-http", l.srvIP.String() + ":8080", "-grpc", l.srvIP.String() + ":9090"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{
				{twlab, "client", "-addr", l.srvIP.String() + ":8080", "-mode", "nokeepalive", "-n", "60", "-every", "50ms"},
				{twlab, "grpc", "-addr", l.srvIP.String() + ":9090", "-n", "30", "-every", "100ms"},
			}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if len(r.Requests) == 0 || r.Requests[0].Label != "GET /healthz" || r.Agents[0].Label != "twlab-probe/1.0" {
				t.Errorf("requests %+v agents %+v", r.Requests, r.Agents)
			}
			// The gateway closes after each response, so it holds the
			// storm's TIME_WAIT sockets: 60, less those that a client's
			// SYN on a reused port ended (see server_closes).
			p, reused := host(r, l.srvIP).Peak, r.Summary.ReusesAccepted
			if !anyContains(r.Findings, l.cliIP.String(), "Connection: close") || p+reused != 60 {
				t.Errorf("findings %q, gateway peak %d with %d tuples reused, want 60 together", r.Findings, p, reused)
			}
		},
	},
	{
		name: "healthz_keepalive",
		server: func(l *lab) []string {
			return []string{twlab, "gateway", "-http", l.srvIP.String() + ":8080", "-grpc", l.srvIP.String() + ":9090"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{
				{twlab, "client", "-addr", l.srvIP.String() + ":8080", "-mode", "keepalive", "-n", "60", "-every", "50ms"},
				{twlab, "grpc", "-addr", l.srvIP.String() + ":9090", "-n", "30", "-every", "100ms"},
			}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.Connections > 3 || host(r, l.srvIP).Peak != 0 || len(r.Findings) != 0 {
				t.Errorf("storm not gone: %d connections, gateway peak %d, findings %q", r.Summary.Connections, host(r, l.srvIP).Peak, r.Findings)
			}
		},
	},
	{
		// Go's http.Client with DisableKeepAlives, as in production: it
		// closes once it has read the body, the server once it has sent
		// it, and the two race. The kernel shows most TIME_WAIT sockets
		// on the server and some (about a fifth) on the client; the
		// finding must fire all the same, and name both holders.
		name:    "keepalive_off_race",
		server:  httpServer,
		clients: httpClient("nokeepalive-race", 60, "50ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			// Nearly every connection leaves a TIME_WAIT socket on one
			// side (a connection of the race that ends in a reset leaves
			// none); a SYN on a reused port ends one of the server's
			// (see server_closes): once, peaks 10 and 46 with 5 reuses.
			cp, sp, reused := host(r, l.cliIP).Peak, host(r, l.srvIP).Peak, r.Summary.ReusesAccepted
			if sp == 0 || cp+sp+reused < 57 || r.Pairs[0].OneRequestShare != 1 {
				t.Errorf("client peak %d, server peak %d, %d tuples reused, one-request share %.2f", cp, sp, reused, r.Pairs[0].OneRequestShare)
			}
			want := []string{l.cliIP.String(), "Connection: close", "fix belongs to the client", fmt.Sprintf("the server %s:8080 holds %d", l.srvIP, sp)}
			if cp > 0 {
				want = append(want, fmt.Sprintf("the client %s holds %d", l.cliIP, cp))
			}
			if !anyContains(r.Findings, want...) {
				t.Errorf("findings %q lack %q", r.Findings, want)
			}
		},
	},
	{
		// The same race over HTTPS, as most services talk: the requests
		// (and their "Connection: close") are inside TLS. The client's
		// TLS close_notify reaches a server that has closed first, and
		// its kernel answers with an RST that ends that socket before
		// TIME_WAIT: the kernel's count, which the engine must match, is
		// far below the closes. The finding fires on the short TLS
		// connections, and counts the RSTs' work.
		name: "tls_keepalive_off_race",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{{twlab, "client", "-tls", "-addr", l.srvIP.String() + ":8443", "-mode", "nokeepalive-race", "-n", "60", "-every", "50ms"}}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			p := r.Pairs[0]
			if len(r.Pairs) != 1 || p.TLS != 60 || p.RequestsPerConn != 0 || p.MedianLifetime == nil {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			want := []string{l.cliIP.String(), "100% of the connections are TLS (60 of 60), whose requests the capture cannot show"}
			if !anyContains(r.Findings, want...) {
				t.Errorf("findings %q lack %q", r.Findings, want)
			}
			// The prediction counts the sockets that entered TIME_WAIT,
			// not the closes: rate x 60 s x the share of the 60
			// connections that left one.
			entered := p.ClientTimeWaitEntered + p.ServerTimeWaitEntered
			if entered != r.Summary.TimeWaitTotal || math.Abs(p.PredictedTimeWait-p.RateMean*60*float64(entered)/60) > 1e-6 {
				t.Errorf("%d TIME_WAIT sockets entered in the pair, %d in all; predicted %.0f at %.1f/s", entered, r.Summary.TimeWaitTotal, p.PredictedTimeWait, p.RateMean)
			}
		},
	},
	{
		// HTTPS without keep-alive to a slow server (1.5 s a response):
		// connections as long as a pool's would be, but each of one
		// request, closed as soon as its response came. Four clients
		// at once.
		name: "tls_slow_keepalive_off",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			c := []string{twlab, "client", "-tls", "-addr", l.srvIP.String() + ":8443", "-mode", "nokeepalive-race", "-path", "/slow?delay=1500ms", "-n", "4", "-every", "50ms"}
			return [][]string{c, c, c, c}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			p := r.Pairs[0]
			if len(r.Pairs) != 1 || p.TLS != 16 || p.MedianLifetime == nil || *p.MedianLifetime < 1.5 {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			want := []string{l.cliIP.String(), "100% of the connections are TLS (16 of 16)", "each is closed as soon as its exchange ends"}
			if !anyContains(r.Findings, want...) {
				t.Errorf("findings %q lack %q", r.Findings, want)
			}
		},
	},
	{
		// HTTPS with keep-alive to the same slow server, whose idle
		// timeout (300 ms) is shorter than the client's pause (1 s):
		// each connection carries one request too, but is closed by
		// the server's idle timeout, not at once, and the finding says
		// so. (Each client closes its last connection itself.) Go's
		// server sends a close_notify before its FIN, which must not
		// hide the idle.
		name: "tls_slow_idle_close",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-idle", "300ms", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			c := []string{twlab, "client", "-tls", "-addr", l.srvIP.String() + ":8443", "-mode", "keepalive", "-path", "/slow?delay=1500ms", "-n", "6", "-every", "1s"}
			return [][]string{c, c, c}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			p := r.Pairs[0]
			if len(r.Pairs) != 1 || p.TLS != 18 || 2*p.Closers["server"] < 18 || p.MedianIdleBeforeServerClose == nil || *p.MedianIdleBeforeServerClose < 0.3 {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			want := []string{"100% of the connections are TLS (18 of 18), whose requests the capture cannot show, of a request or two each",
				"The server closes connections idle for 0.3 s (median): its idle timeout"}
			if !anyContains(r.Findings, want...) || anyContains(r.Findings, "as soon as") {
				t.Errorf("findings %q, want %q", r.Findings, want)
			}
		},
	},
	{
		// curl over HTTP/2 and TLS, a process (a connection) per
		// request: with its preface and its SETTINGS acknowledgement,
		// each waiting for something of the server's, curl takes five
		// turns to send against Go's server, two more than HTTP/1.1.
		name: "tls_h2_curl",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-h2c", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{curlLoop(20, "-sk --http2 https://"+l.srvIP.String()+":8443/healthz")}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			p := r.Pairs[0]
			if len(r.Pairs) != 1 || p.TLS != 20 || p.TLSHandshakesFailed != 0 {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			want := []string{l.cliIP.String(), "100% of the connections are TLS (20 of 20), whose requests the capture cannot show"}
			if !anyContains(r.Findings, want...) {
				t.Errorf("findings %q lack %q", r.Findings, want)
			}
		},
	},
	{
		// curl that does not trust the server's certificate, run again
		// and again: handshakes that fail, not requests.
		name: "tls_handshake_failed",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{curlLoop(20, "-s https://"+l.srvIP.String()+":8443/healthz")}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			p := r.Pairs[0]
			if len(r.Pairs) != 1 || p.TLS != 20 || p.TLSHandshakesFailed != 20 {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			want := []string{l.cliIP.String(), "100% of the connections are TLS handshakes that failed (20 of 20)", "Fix the TLS setup"}
			if !anyContains(r.Findings, want...) {
				t.Errorf("findings %q lack %q", r.Findings, want)
			}
		},
	},
	{
		// HTTPS with keep-alive: one connection carries the requests,
		// and no finding is made of it.
		name: "tls_keepalive",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-tls", "-listen", l.srvIP.String() + ":8443"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{{twlab, "client", "-tls", "-addr", l.srvIP.String() + ":8443", "-mode", "keepalive", "-n", "60", "-every", "50ms"}}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if r.Summary.Connections != 1 || len(r.Findings) != 0 || r.Pairs[0].TLS != 1 {
				t.Errorf("%d connections, findings %q, pairs %+v", r.Summary.Connections, r.Findings, r.Pairs)
			}
		},
	},
	{
		// Go's HTTP/1.1 server with IdleTimeout 1 s, a keep-alive client
		// that pauses 1.5 s between requests: the server closes each
		// idle connection, with nothing sent before its FIN.
		name: "http1_idle_timeout",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-listen", l.srvIP.String() + ":8080", "-idle", "1s"}
		},
		clients: httpClient("keepalive", 12, "1500ms"),
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			checkIdleTimeout(t, r, 1, 1.5)
		},
	},
	{
		// The same over h2c: Go's net/http server sends GOAWAY when its
		// IdleTimeout (1 s) fires and closes 1 s later; x/net/http2's
		// client, with health checks every 400 ms of silence
		// (ReadIdleTimeout), pings the idle connection until then. The
		// connections are idle for 2 s when the server closes them, not
		// the 0.2 s since the last PING; the finding quotes the 1 s at
		// the GOAWAY, the server's setting.
		name: "h2c_idle_timeout",
		server: func(l *lab) []string {
			return []string{twlab, "server", "-listen", l.srvIP.String() + ":8080", "-h2c", "-idle", "1s"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{{twlab, "client", "-addr", l.srvIP.String() + ":8080", "-mode", "h2c", "-ping", "400ms", "-n", "12", "-every", "2500ms"}}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			checkIdleTimeout(t, r, 2, 2.5)
			p := r.Pairs[0]
			if g := p.MedianIdleBeforeServerGoaway; g == nil || *g < 1 || *g >= 1.5 {
				t.Errorf("median idle before the server's GOAWAY %v, want 1 to 1.5 s", g)
			} else if want := fmt.Sprintf("idle for %.1f s (median, from the last data to its GOAWAY)", *g); !anyContains(r.Findings, want) {
				t.Errorf("findings do not quote the idle at the GOAWAY (%q): %q", want, r.Findings)
			}
		},
	},
	{
		// grpc-go on both sides: the server's MaxConnectionIdle (1 s)
		// sends GOAWAY (and PING) to idle connections, and grpc-go's
		// client, which pauses 1.5 s between calls, closes each one at
		// once, so the client holds the TIME_WAIT sockets. The finding
		// must blame the server's idle timeout, not the client.
		name: "grpc_idle_timeout",
		server: func(l *lab) []string {
			return []string{twlab, "gateway", "-http", l.srvIP.String() + ":8080", "-grpc", l.srvIP.String() + ":9090", "-idle", "1s"}
		},
		clients: func(l *lab) [][]string {
			return [][]string{{twlab, "grpc", "-addr", l.srvIP.String() + ":9090", "-n", "12", "-every", "1500ms"}}
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			if len(r.Pairs) != 1 {
				t.Fatalf("pairs %+v", r.Pairs)
			}
			p := r.Pairs[0]
			cs := p.Closers["client"] + p.Closers["both"]
			if cs < 10 || p.ClosedAfterGoaway != cs || p.Closers["server"] != 0 || p.MedianIdleBeforeGoaway == nil {
				t.Fatalf("closers %v, closed after GOAWAY %d", p.Closers, p.ClosedAfterGoaway)
			}
			if host(r, l.cliIP).Peak != cs {
				t.Errorf("client TIME_WAIT peak %d, want %d", host(r, l.cliIP).Peak, cs)
			}
			if idle := *p.MedianIdleBeforeGoaway; idle < 1 || idle >= 1.5 {
				t.Errorf("median idle before the GOAWAY %.3f s, want 1 to 1.5 s", idle)
			}
			if !anyContains(r.Findings, "The server ends these connections, not the client", "answer a GOAWAY", "MaxConnectionIdle") ||
				anyContains(r.Findings, "keep-alive is off") || anyContains(r.Findings, "new http.Client or Transport per request") {
				t.Errorf("findings do not blame the server's idle timeout and GOAWAY: %q", r.Findings)
			}
		},
	},
	// A path that loses segments: the server's bridge drops one in 20
	// of the server's segments (lost before the capture, which is at
	// the client) and of the client's (after it). In the race of
	// keepalive_off_race, a server FIN lost in a simultaneous close
	// shows first as the server's ACK of the client's FIN, one past it,
	// and only then as a retransmission: both sides hold TIME_WAIT.
	// Resent FINs and ACKs of the close reach sockets already in
	// TIME_WAIT: segments of the closed connections, not new ones.
	lossyPath("lossy_race", "nokeepalive-race", "server FINs resent", serverFINsResent, nil),
	// Clients that abort with an RST across the same path: segments in
	// flight, or resent when the RST was lost, reach the client after
	// it, and its kernel answers each with another RST. They belong to
	// the connection that was reset.
	lossyPath("lossy_linger0", "linger0", "segments after an RST", afterRST, func(t *testing.T, r *tcptw.Report) {
		// One connection a request: none from late segments (the engine
		// before made 251 to 254, 10 to 14 partial), nor from a SYN that
		// reached the server's socket of the port's last connection,
		// whose RST was lost (it made 241 and 243 once each), nor from
		// that socket's keep-alive probes more than 60 s after the RST
		// (241 once: the window ran from the RST, not the last probe).
		if r.Summary.Connections != 240 {
			t.Errorf("%d connections for 240 requests", r.Summary.Connections)
		}
	}),
}

// lossyPath is a scenario of four HTTP clients (60 requests each, 20 ms
// apart, in the given mode) whose path to the server drops one segment
// in 20 each way. Its captures are not kept. Losses must reach the
// closes: witness counts, in the capture, the segments that show they
// did (what names them). The capture begins before the first connection
// and sees every one close, whatever the losses; more, if any, is the
// scenario's own check.
func lossyPath(name, mode, what string, witness func(t *testing.T, file string) int, more func(t *testing.T, r *tcptw.Report)) scenario {
	return scenario{
		name: name,
		lossRules: `table bridge loss {
	chain out { type filter hook output priority 0; tcp sport 8080 numgen random mod 20 == 0 drop; }
	chain in { type filter hook input priority 0; tcp dport 8080 numgen random mod 20 == 0 drop; }
}`,
		scratch: true,
		lag:     time.Second,
		server:  httpServer,
		clients: func(l *lab) [][]string {
			var c [][]string
			for i := 0; i < 4; i++ {
				c = append(c, httpClient(mode, 60, "20ms")(l)...)
			}
			return c
		},
		check: func(t *testing.T, r *tcptw.Report, l *lab) {
			n := witness(t, l.capFile)
			t.Logf("closes %v, %d %s, %d connections (%d partial), %d open at the end",
				r.Summary.Closes, n, what, r.Summary.Connections, r.Summary.Partial, r.Summary.OpenAtEnd)
			if n == 0 {
				t.Errorf("no %s: the losses did not reach the closes", what)
			}
			if r.Summary.Partial != 0 || r.Summary.OpenAtEnd != 0 {
				t.Errorf("%d connections begun before the capture, %d open at the end: the capture began before the first and saw every one close",
					r.Summary.Partial, r.Summary.OpenAtEnd)
			}
			if more != nil {
				more(t, r)
			}
		},
	}
}

// afterRST counts the segments other than SYNs that a capture holds on a
// 4-tuple after an RST on it.
func afterRST(t *testing.T, file string) int {
	n, reset := 0, map[[2]netip.AddrPort]bool{}
	eachSegment(t, file, func(_ time.Time, s *tcpdecode.Segment) {
		k := [2]netip.AddrPort{s.Src, s.Dst}
		if s.Dst.Port() == 8080 {
			k = [2]netip.AddrPort{s.Dst, s.Src}
		}
		switch {
		case s.SYN:
			delete(reset, k)
		case reset[k]:
			n++
		case s.RST:
			reset[k] = true
		}
	})
	return n
}

// serverFINsResent counts the FINs of a capture's server (port 8080)
// sent again: the first was lost, or went unacknowledged.
func serverFINsResent(t *testing.T, file string) int {
	n, seen := 0, map[[2]netip.AddrPort]uint32{}
	eachSegment(t, file, func(_ time.Time, s *tcpdecode.Segment) {
		if !s.FIN || s.Src.Port() != 8080 {
			return
		}
		k := [2]netip.AddrPort{s.Src, s.Dst}
		if seq, ok := seen[k]; ok && seq == s.Seq {
			n++
		}
		seen[k] = s.Seq
	})
	return n
}

// checkIdleTimeout checks a scenario whose server closes the client's
// idle connections (all but the last, which the client closes as it
// ends) idle for at least lo and less than hi seconds, and the finding
// that blames the server's idle timeout.
func checkIdleTimeout(t *testing.T, r *tcptw.Report, lo, hi float64) {
	t.Helper()
	if len(r.Pairs) != 1 || r.Pairs[0].Closers["server"] < 10 || r.Pairs[0].MedianIdleBeforeServerClose == nil {
		t.Fatalf("pairs %+v", r.Pairs)
	}
	if idle := *r.Pairs[0].MedianIdleBeforeServerClose; idle < lo || idle >= hi {
		t.Errorf("median idle before the server's close %.3f s, want %g to %g s", idle, lo, hi)
	}
	if !anyContains(r.Findings, "The server closes connections idle for", "http.Server.IdleTimeout") || anyContains(r.Findings, "keep-alive is off") {
		t.Errorf("findings do not blame the server's idle timeout: %q", r.Findings)
	}
}

func anyContains(list []string, subs ...string) bool {
	for _, s := range list {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(s, sub)
		}
		if all {
			return true
		}
	}
	return false
}

// TestTimeWaitAgainstKernel runs each scenario between two network
// namespaces, counts the kernel's TIME_WAIT sockets in each every 200 ms,
// and checks every count against the engine's estimate from the capture.
//
// The scenarios run before the tests that read captures, not alongside:
// with both cores busy, lossy_race's server once held 3 more TIME_WAIT
// sockets than the estimate (the close races it measures shift with CPU
// load).
func TestTimeWaitAgainstKernel(t *testing.T) {
	dir := labBinaries(t)
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScenario(t, i+1, sc, dir)
		})
	}
}

func runScenario(t *testing.T, n int, sc scenario, dir string) {
	l := newLab(t, n)
	if len(sc.cliSysctl) > 0 {
		l.sysctl(l.cliNS, sc.cliSysctl...)
	}
	if sc.lossRules != "" {
		l.bridge()
		l.nft(l.srvNS, sc.lossRules)
	}
	capFile := filepath.Join(dir, sc.name+".pcap")
	l.capFile = capFile
	// The capture is ours: gotcpdump, as the scenario captures in
	// testpcaps/ are made.
	dump := exec.Command("ip", "netns", "exec", l.cliNS, gotcpdumpBin, "-i", l.cliIf, "-s", "512", "-w", capFile, "tcp")
	var dumpErr syncbuf.Buffer
	dump.Stderr = &dumpErr
	if err := dump.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &dumpErr, 10*time.Second, "listening on")
	srv := sc.server(l)
	l.start(l.srvNS, srv...)
	var addrs []string
	for _, a := range srv {
		if strings.HasPrefix(a, l.srvIP.String()+":") {
			addrs = append(addrs, a)
		}
	}
	l.waitListening(l.srvNS, addrs...)

	var mu sync.Mutex
	var samples []sample
	kernelTW := map[twSocket]time.Time{} // the sampler's until wg.Wait
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			s := sample{before: time.Now(), count: map[netip.Addr]int{}}
			s.count[l.cliIP] = l.timeWaitSockets(l.cliNS, kernelTW)
			s.count[l.srvIP] = l.timeWaitSockets(l.srvNS, kernelTW)
			s.after = time.Now()
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()

	var clients []*exec.Cmd
	for _, args := range sc.clients(l) {
		clients = append(clients, l.start(l.cliNS, args...))
	}
	for _, c := range clients {
		_ = c.Wait()
	}
	// Until every TIME_WAIT socket has expired and been reaped.
	time.Sleep(60*time.Second + 2*reapSlack)
	close(stop)
	wg.Wait()
	end := time.Now()
	_ = dump.Process.Signal(syscall.SIGINT)
	if err := dump.Wait(); err != nil {
		t.Fatalf("gotcpdump: %v: %s", err, dumpErr.String())
	}
	if !strings.Contains(dumpErr.String(), "\n0 packets dropped by kernel") {
		t.Fatalf("gotcpdump dropped packets: %s", dumpErr.String())
	}

	eng, engineTW, undecided := analyseTW(t, capFile)
	eng.Advance(end)
	r := eng.Report(true)

	failed := 0
	for _, s := range samples {
		for addr, k := range s.count {
			// The sockets of undecided closes (closeSeen.undecided)
			// that the kernel held: whichever way each went is right.
			lo, hi := allowance(kernelTW, undecided, addr, s)
			ok := false
			for n := lo; n <= hi && !ok; n++ {
				ok = matches(host(r, addr).Timeline, s, k-n, sc.lag)
			}
			if !ok {
				if failed < 10 {
					t.Errorf("%s at %s: kernel %d, estimate %d..%d in the window", addr, s.after.Format("15:04:05.000"), k,
						estimate(host(r, addr).Timeline, s.before.Add(-reapSlack)), estimate(host(r, addr).Timeline, s.after.Add(sc.lag)))
				}
				failed++
			}
		}
	}
	t.Logf("%s: %d samples of 2 namespaces compared with the kernel, %d failed; client peak %d, server peak %d",
		sc.name, len(samples), failed, host(r, l.cliIP).Peak, host(r, l.srvIP).Peak)
	if len(undecided) > 0 {
		held := 0
		for k := range undecided {
			if _, ok := kernelTW[k]; ok {
				held++
			}
		}
		t.Logf("%d undecided closes, %d of them FINs crossed (the server held TIME_WAIT)", len(undecided), held)
	}
	if failed > 0 {
		logTWDiff(t, kernelTW, engineTW, sc.lag)
	}
	maxKernel := 0
	for _, s := range samples {
		for _, k := range s.count {
			maxKernel = max(maxKernel, k)
		}
	}
	if (sc.name == "client_closes" || sc.name == "server_closes" || sc.name == "healthz_storm" || sc.name == "keepalive_off_race" ||
		strings.HasSuffix(sc.name, "_idle_timeout") || sc.name == "lossy_race") && maxKernel == 0 {
		t.Error("the kernel never held a TIME_WAIT socket: the scenario did not run")
	}
	sc.check(t, r, l)
	if t.Failed() {
		keepCapture(t, capFile)
	}
	if *update && !sc.scratch {
		saveGolden(t, sc.name, capFile)
	}
}

// eachSegment calls fn for every TCP segment of a pcap file.
func eachSegment(t *testing.T, file string, fn func(ts time.Time, s *tcpdecode.Segment)) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dec := tcpdecode.New()
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			return
		}
		var seg tcpdecode.Segment
		if dec.Decode(r.LinkType(), data, &seg) == nil {
			fn(ci.Timestamp, &seg)
		}
	}
}

func analyse(t *testing.T, file string) *tcptw.Engine {
	eng, _, _ := analyseTW(t, file)
	return eng
}

// analyseTW is analyse that also returns when the engine put each
// socket into TIME_WAIT, first, and the servers' sockets of undecided
// closes.
func analyseTW(t *testing.T, file string) (*tcptw.Engine, map[twSocket]time.Time, map[twSocket]bool) {
	eng := tcptw.New(tcptw.Config{})
	started := map[twSocket]time.Time{}
	closes := map[uint64]*closeSeen{}
	eachSegment(t, file, func(ts time.Time, s *tcpdecode.Segment) {
		v := eng.Segment(ts, s)
		if v == nil {
			return
		}
		if v.RolesKnown && !v.Copy {
			c := closes[v.Conn]
			if c == nil {
				c = &closeSeen{}
				closes[v.Conn] = c
			}
			c.segment(ts, s, v)
		}
		if !v.TWStarted {
			return
		}
		for _, h := range []netip.AddrPort{v.Holder, v.Holder2} {
			if !h.IsValid() {
				continue
			}
			k := twSocket{s.Src, s.Dst}
			if h != s.Src {
				k = twSocket{s.Dst, s.Src}
			}
			if _, ok := started[k]; !ok {
				started[k] = ts
			}
		}
	})
	undecided := map[twSocket]bool{}
	for _, c := range closes {
		if c.undecided() {
			undecided[c.server] = true
		}
	}
	return eng, started, undecided
}

// closeSeen follows the close of one connection, seen at the client, for
// undecided.
type closeSeen struct {
	server       twSocket // the server's socket
	finAt, ackAt time.Time
	finSeq       uint32
	fin, ack     bool
	closer       tcptw.Closer
}

func (c *closeSeen) segment(ts time.Time, s *tcpdecode.Segment, v *tcptw.Verdict) {
	c.closer = v.Closer
	switch {
	case v.FromClient && s.FIN && !c.fin:
		c.fin, c.finAt, c.finSeq = true, ts, s.Seq+uint32(s.PayloadLen)
		c.server = twSocket{s.Dst, s.Src}
	case !v.FromClient && c.fin && !c.ack && s.ACK && s.Ack == c.finSeq+1:
		c.ack, c.ackAt = true, ts
	}
}

// undecided: the client closed first, the engine says alone, and the
// server's first acknowledgement of the client's FIN came a
// retransmission timeout (200 ms at least) after it: a segment of the
// server's was lost before the capture. Its FIN+ACK, in a passive close
// (the server does not hold TIME_WAIT), or its FIN and then its ACK of
// the client's FIN, FINs crossed (it does). The capture shows the same
// segments; the engine takes the first, one loss, not two. Both happen:
// lossy_race has a few such closes a run, and the server held TIME_WAIT
// after 1 of 9 in six runs, after 2 of 4 in another.
func (c *closeSeen) undecided() bool {
	return c.closer == tcptw.CloserClient && c.ack && c.ackAt.Sub(c.finAt) >= 200*time.Millisecond
}

// allowance is how many of the undecided servers' sockets of a host the
// kernel held surely (lo) and perhaps (hi) during a sample: it had held
// them since it first showed them, and for 60 s at least, reaped up to
// reapSlack later.
func allowance(kernel map[twSocket]time.Time, undecided map[twSocket]bool, addr netip.Addr, s sample) (lo, hi int) {
	for k := range undecided {
		at, ok := kernel[k]
		if !ok || k[0].Addr() != addr || at.After(s.after) {
			continue
		}
		switch end := at.Add(60*time.Second - 200*time.Millisecond); {
		case !end.Before(s.after):
			lo++
			hi++
		case end.Add(reapSlack + 200*time.Millisecond).After(s.before):
			hi++
		}
	}
	return lo, hi
}

// keepCapture copies a failed scenario's capture into $KEEP_CAPTURES,
// when it names a directory: the scenarios that lose segments at random
// fail rarely, and each run's capture is new.
func keepCapture(t *testing.T, file string) {
	dir := os.Getenv("KEEP_CAPTURES")
	if dir == "" {
		return
	}
	b, err := os.ReadFile(file)
	if err == nil {
		dst := filepath.Join(dir, time.Now().Format("150405-")+filepath.Base(file))
		if err = os.WriteFile(dst, b, 0o644); err == nil {
			t.Logf("capture kept as %s", dst)
		}
	}
	if err != nil {
		t.Logf("capture not kept: %v", err)
	}
}

// logTWDiff names, for a failed comparison, the sockets the kernel held
// in TIME_WAIT that the engine never did, those the engine did that the
// kernel never held, and those the kernel held more than lag before the
// engine: a failure says which connections to look for in the capture.
func logTWDiff(t *testing.T, kernel, engine map[twSocket]time.Time, lag time.Duration) {
	t.Helper()
	var lines []string
	for k, at := range kernel {
		switch e, ok := engine[k]; {
		case !ok:
			lines = append(lines, fmt.Sprintf("%s-%s: kernel from %s, never the engine", k[0], k[1], at.Format("15:04:05.000")))
		case e.Sub(at) > lag:
			lines = append(lines, fmt.Sprintf("%s-%s: kernel from %s, engine from %s", k[0], k[1], at.Format("15:04:05.000"), e.Format("15:04:05.000")))
		}
	}
	for k, at := range engine {
		if _, ok := kernel[k]; !ok {
			lines = append(lines, fmt.Sprintf("%s-%s: engine from %s, never the kernel", k[0], k[1], at.Format("15:04:05.000")))
		}
	}
	sort.Strings(lines)
	t.Logf("TIME_WAIT sockets that differ (%d):\n%s", len(lines), strings.Join(lines, "\n"))
}

// synCounts counts the SYNs (without ACK) of a capture and the distinct
// 4-tuples they open.
func synCounts(t *testing.T, file string) (int, int) {
	syns, tuples := 0, map[[2]netip.AddrPort]bool{}
	eachSegment(t, file, func(_ time.Time, s *tcpdecode.Segment) {
		if s.SYN && !s.ACK {
			syns++
			tuples[[2]netip.AddrPort{s.Src, s.Dst}] = true
		}
	})
	return syns, len(tuples)
}

// estimate is the population at t from a timeline of change points.
func estimate(tl [][2]float64, t time.Time) int {
	x := float64(t.UnixNano()) / 1e9
	v := 0
	for _, p := range tl {
		if p[0] > x {
			break
		}
		v = int(p[1])
	}
	return v
}

// matches: the kernel's count equals the estimate, within max(2, 1%), at
// some instant between reapSlack before the sample and lag after its
// end. A lag lets the estimate follow the kernel late: across a lossy
// path the segment that shows a socket entering TIME_WAIT may be lost
// before the capture, and the estimate starts it only with the
// segment the loss draws, a retransmission timeout (200 ms at least)
// later.
func matches(tl [][2]float64, s sample, k int, lag time.Duration) bool {
	tol := max(2, k/100)
	ok := func(v int) bool { return v-k <= tol && k-v <= tol }
	from := s.before.Add(-reapSlack)
	if ok(estimate(tl, from)) {
		return true
	}
	lo, hi := float64(from.UnixNano())/1e9, float64(s.after.Add(lag).UnixNano())/1e9
	for _, p := range tl {
		if p[0] > lo && p[0] <= hi && ok(int(p[1])) {
			return true
		}
	}
	return false
}

func saveGolden(t *testing.T, name, capFile string) {
	b, err := os.ReadFile(capFile)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(root, "testpcaps", "tw_"+name+".pcap")
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", dst)
}
