// Command twlab is the traffic of the TIME_WAIT scenarios: servers and
// clients that close connections the ways real services do. The kernel
// test (tests/timewait_kernel_test.go) runs it inside network namespaces.
//
//	twlab server   -listen ADDR [-backlog] [-h2c] [-tls] [-idle D]   HTTP/1.1 keep-alive server (or a listener that never accepts)
//	twlab client   -addr ADDR -n N -every D -mode MODE [-tls] [-ping D]
//	twlab gateway  -http ADDR -grpc ADDR [-idle D]   /healthz and a gRPC health service
//	twlab grpc     -addr ADDR -n N -every D     gRPC calls over one connection
//	twlab stalesyn -addr ADDR                    see staleSYN
//	twlab sink     -listen ADDR                  accepts, reads to EOF, closes
//	twlab burst    -addr ADDR -rate R -for D [-stdin]   short connections at R per second
//	twlab udp      -addr ADDR -n N [-size S]     N datagrams of S bytes, as fast as they go
//
// Client modes: close (the client closes after reading the response),
// nokeepalive (Go http.Client with DisableKeepAlives: it sends
// "Connection: close", so the server closes first; the client's Close
// waits for the server's FIN), nokeepalive-race (the same without the
// wait: the client and the server race to close, as they do in
// production), linger0 (SO_LINGER 0: RST), keepalive (one reused
// connection), h2c (HTTP/2 with prior knowledge through x/net/http2's
// Transport, as services that talk cleartext HTTP/2 to each other do;
// -ping sets its ReadIdleTimeout, the health-check PINGs of idle
// connections), h2c-grpc (the same Transport makes gRPC health checks),
// connect (connect and close).
//
// -idle sets the server's idle timeout (http.Server.IdleTimeout, 5
// minutes unless set; for the gateway's gRPC server,
// keepalive.ServerParameters.MaxConnectionIdle, none unless set); -h2c
// has the server accept HTTP/2 with prior knowledge next to HTTP/1.1;
// -tls has it serve HTTPS (HTTP/1.1 over TLS, net/http/httptest's
// certificate; with -h2c, HTTP/2 too, by ALPN) and the client's Go modes ask for https URLs, trusting
// any certificate. The server answers a request with "delay=D" in its
// query (at most 10 s) after D, as a slow backend does. A
// client that pauses longer than the idle timeout between requests has
// each idle connection closed by the server; twlab grpc (grpc-go's
// client) against the gateway's -idle closes each connection itself as
// the server's GOAWAY comes, and dials again for its next call.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: twlab server|client|gateway|grpc ...")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	listen := fs.String("listen", "", "address to listen on")
	backlog := fs.Bool("backlog", false, "listen with a backlog of 1 and never accept")
	idle := fs.Duration("idle", 0, "server, gateway: idle timeout")
	h2c := fs.Bool("h2c", false, "server: accept HTTP/2 with prior knowledge too")
	useTLS := fs.Bool("tls", false, "server: serve HTTPS; client, Go modes: https")
	addr := fs.String("addr", "", "server address")
	n := fs.Int("n", 10, "connections or calls")
	every := fs.Duration("every", 100*time.Millisecond, "pause between connections")
	mode := fs.String("mode", "close", "client mode")
	path := fs.String("path", "/healthz", "request path")
	httpAddr := fs.String("http", "", "gateway HTTP address")
	grpcAddr := fs.String("grpc", "", "gateway gRPC address")
	timeout := fs.Duration("timeout", 5*time.Second, "connect timeout")
	rate := fs.Int("rate", 5000, "burst: connections per second")
	length := fs.Duration("for", 2*time.Second, "burst: how long")
	await := fs.Bool("stdin", false, "burst: start when a line arrives on standard input")
	size := fs.Int("size", 100, "udp: datagram size")
	ping := fs.Duration("ping", 0, "client, h2c modes: health-check PING after this long without a frame (http2.Transport.ReadIdleTimeout)")
	_ = fs.Parse(os.Args[2:])

	switch os.Args[1] {
	case "server":
		if *backlog {
			neverAccept(*listen)
		}
		if *useTLS {
			serveHTTPS(*listen, *idle, *h2c)
		}
		serveHTTP(*listen, *idle, *h2c)
	case "client":
		client(*addr, *path, *mode, *n, *every, *timeout, *ping, *useTLS)
	case "gateway":
		go serveGRPC(*grpcAddr, *idle)
		serveHTTP(*httpAddr, *idle, false)
	case "grpc":
		grpcCalls(*addr, *n, *every)
	case "stalesyn":
		staleSYN(*addr)
	case "sink":
		sink(*listen)
	case "udp":
		sendUDP(*addr, *n, *size)
	case "burst":
		if *await {
			// The caller says when its capture is ready.
			if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
				log.Fatal("burst: no start line: ", err)
			}
		}
		burst(*addr, *rate, *length)
	default:
		log.Fatalf("unknown command %q", os.Args[1])
	}
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// ?delay=1500ms: a slow backend.
		if d, err := time.ParseDuration(r.URL.Query().Get("delay")); err == nil {
			time.Sleep(min(d, 10*time.Second))
		}
		io.WriteString(w, "ok\n")
	})
	return mux
}

func serveHTTP(addr string, idle time.Duration, h2c bool) {
	if idle == 0 {
		idle = 5 * time.Minute
	}
	srv := &http.Server{Addr: addr, Handler: handler(), IdleTimeout: idle}
	if h2c {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	log.Fatal(srv.ListenAndServe())
}

// serveHTTPS serves HTTP/1.1 over TLS with httptest's certificate for
// 127.0.0.1 (the clients do not verify it).
func serveHTTPS(addr string, idle time.Duration, h2 bool) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.IdleTimeout = cmp.Or(idle, 5*time.Minute)
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	select {}
}

// neverAccept listens with a backlog of one and never accepts, so that
// further SYNs are dropped and clients retransmit them.
func neverAccept(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		log.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		log.Fatal(err)
	}
	sa := &syscall.SockaddrInet4{Port: p}
	copy(sa.Addr[:], net.ParseIP(host).To4())
	if err := syscall.Bind(fd, sa); err != nil {
		log.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		log.Fatal(err)
	}
	select {}
}

func client(addr, path, mode string, n int, every, timeout, ping time.Duration, useTLS bool) {
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: twlab-probe/1.0\r\n\r\n"
	var hc *http.Client
	switch mode {
	case "nokeepalive":
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: lateClose}}
	case "nokeepalive-race":
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	case "keepalive":
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	case "h2c", "h2c-grpc":
		hc = &http.Client{Transport: &http2.Transport{
			AllowHTTP:       true,
			ReadIdleTimeout: ping,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}}
	}
	scheme := "http://"
	if t, ok := hcTransport(hc); ok && useTLS {
		scheme = "https://"
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	failed := 0
	for i := 0; i < n; i++ {
		if i > 0 {
			time.Sleep(every)
		}
		var err error
		switch mode {
		case "close", "linger0":
			err = rawRequest(addr, req, mode == "linger0", timeout)
		case "connect":
			var c net.Conn
			if c, err = net.DialTimeout("tcp", addr, timeout); err == nil {
				c.Close()
			}
		case "nokeepalive", "nokeepalive-race", "keepalive", "h2c":
			var resp *http.Response
			r, _ := http.NewRequest("GET", scheme+addr+path, nil)
			r.Header.Set("User-Agent", "twlab-probe/1.0")
			if resp, err = hc.Do(r); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		case "h2c-grpc":
			err = grpcOverHTTP2(hc, addr)
		default:
			log.Fatalf("unknown mode %q", mode)
		}
		if err != nil {
			failed++
		}
	}
	if hc != nil {
		hc.CloseIdleConnections()
	}
	closed := make(chan struct{})
	go func() { lateOpen.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second): // each waits 2 s at most
	}
	fmt.Printf("done %d failed %d\n", n, failed)
}

// hcTransport is hc's net/http Transport, if it has one.
func hcTransport(hc *http.Client) (*http.Transport, bool) {
	if hc == nil {
		return nil, false
	}
	t, ok := hc.Transport.(*http.Transport)
	return t, ok
}

// grpcOverHTTP2 makes a gRPC health check the way an HTTP/2 proxy in
// front of a gRPC server does: a POST through an HTTP/2 Transport, which
// answers a server's GOAWAY and PING and leaves the closing to the
// server (grpc-go's own client closes at once when a GOAWAY comes).
func grpcOverHTTP2(hc *http.Client, addr string) error {
	// An empty HealthCheckRequest: uncompressed, length 0.
	r, _ := http.NewRequest("POST", "http://"+addr+"/grpc.health.v1.Health/Check", bytes.NewReader(make([]byte, 5)))
	r.Header.Set("Content-Type", "application/grpc")
	r.Header.Set("TE", "trailers")
	r.Header.Set("User-Agent", "twlab-probe/1.0")
	resp, err := hc.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if st := resp.Trailer.Get("Grpc-Status"); st != "0" {
		return fmt.Errorf("grpc-status %q", st)
	}
	return nil
}

// lateClose dials connections whose Close waits for the server's FIN.
// The server closes right after answering a "Connection: close" request,
// and so does Go's Transport once it has read the body: without the wait
// the two race and a fifth of the connections end with the client's FIN
// first. The scenario is about the server closing first, so the client
// waits, for as long as a busy machine takes (up to 2 s).
func lateClose(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	lateOpen.Add(1)
	return &slowCloser{Conn: c}, nil
}

// lateOpen counts lateClose's connections not closed yet. The Transport
// closes a connection in a goroutine of its own after the body was read,
// so the client waits for them before it exits: an exit would close the
// last one first (about 1 run in 30, the server 1 ms slower).
var lateOpen sync.WaitGroup

type slowCloser struct {
	net.Conn
	once sync.Once
}

func (c *slowCloser) Close() error {
	_ = c.Conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [512]byte
	for {
		if _, err := c.Conn.Read(b[:]); err != nil {
			break // EOF: the server's FIN came (or the deadline passed)
		}
	}
	err := c.Conn.Close()
	c.once.Do(lateOpen.Done)
	return err
}

// rawRequest sends one request, reads the whole response and closes
// first (or aborts with SO_LINGER 0).
func rawRequest(addr, req string, linger0 bool, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if linger0 {
		c.(*net.TCPConn).SetLinger(0)
	}
	return nil
}

// staleSYN makes a connection that the server closes (so the server holds
// its 4-tuple in TIME_WAIT), then sends a SYN on the same 4-tuple whose
// sequence number is older than the old connection's and that carries no
// timestamp: the server's TIME_WAIT socket must refuse it (RFC 6191) and
// answer with an ACK. The SYN is built with gopacket and sent on a raw
// socket; the old connection's ISN is read off the server's SYN-ACK on a
// packet socket.
func staleSYN(addr string) {
	sniff, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(syscall.ETH_P_IP)))
	if err != nil {
		log.Fatal(err)
	}
	defer syscall.Close(sniff)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	local := c.LocalAddr().(*net.TCPAddr)
	remote := c.RemoteAddr().(*net.TCPAddr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	io.Copy(io.Discard, c) // the server closes first
	c.Close()
	isn, ok := uint32(0), false
	buf := make([]byte, 65536)
	syscall.SetsockoptTimeval(sniff, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: 1})
	for !ok {
		n, _, err := syscall.Recvfrom(sniff, buf, 0)
		if err != nil {
			log.Fatal("no SYN-ACK seen: ", err)
		}
		p := gopacket.NewPacket(buf[:n], layers.LayerTypeIPv4, gopacket.NoCopy)
		// The server's SYN-ACK acknowledges our ISN.
		if t, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP); t != nil && t.SYN && t.ACK && int(t.DstPort) == local.Port {
			isn, ok = t.Ack-1, true
		}
	}
	time.Sleep(time.Second)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: local.IP.To4(), DstIP: remote.IP.To4()}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(local.Port), DstPort: layers.TCPPort(remote.Port), Seq: isn - 100000, SYN: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	sb := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, tcp); err != nil {
		log.Fatal(err)
	}
	raw, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		log.Fatal(err)
	}
	defer syscall.Close(raw)
	sa := &syscall.SockaddrInet4{}
	copy(sa.Addr[:], remote.IP.To4())
	if err := syscall.Sendto(raw, sb.Bytes(), 0, sa); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("stale SYN from port %d, seq %d (old ISN %d)\n", local.Port, isn-100000, isn)
}

// sink accepts connections and closes each when the client has closed.
func sink(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// burst opens and closes connections at rate per second for d, from
// enough goroutines to keep the rate, and prints how many succeeded. Each
// connection is a blocking socket, connect and close, without the net
// package's poller and deadlines: on a 2-core machine that also runs the
// servers and a capture, net.Dial's share kept the rate below 5,000 a
// second.
func burst(addr string, rate int, d time.Duration) {
	const workers = 64
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		log.Fatal(err)
	}
	var ok, failed atomic.Int64
	tick := time.NewTicker(time.Second / time.Duration(rate/100)) // 100 connections a tick
	defer tick.Stop()
	work := make(chan struct{}, rate)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if err := connectClose(ap); err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	start := time.Now()
	end := start.Add(d)
	for time.Now().Before(end) {
		<-tick.C
		for i := 0; i < 100; i++ {
			work <- struct{}{}
		}
	}
	close(work)
	wg.Wait()
	fmt.Printf("connections %d failed %d seconds %.3f\n", ok.Load(), failed.Load(), time.Since(start).Seconds())
}

// connectClose opens a TCP connection to ap and closes it, giving up
// after two SYN retransmissions (7 seconds).
func connectClose(ap netip.AddrPort) error {
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ap.Addr().Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	// Not SO_SNDTIMEO: with a send timeout, a connect interrupted by a
	// signal (the Go runtime preempts with SIGURG) fails with EINTR
	// instead of being restarted.
	if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_SYNCNT, 2); err != nil {
		return err
	}
	return syscall.Connect(fd, sa)
}

// sendUDP sends n datagrams and prints how many were sent.
func sendUDP(addr string, n, size int) {
	// Unconnected, so that ICMP port unreachables fail no write.
	dst, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		log.Fatal(err)
	}
	c, err := net.ListenPacket("udp", ":0")
	if err != nil {
		log.Fatal(err)
	}
	buf := make([]byte, size)
	sent := 0
	for i := 0; i < n; i++ {
		if _, err := c.WriteTo(buf, dst); err == nil {
			sent++
		}
	}
	fmt.Printf("sent %d\n", sent)
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func serveGRPC(addr string, idle time.Duration) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	var opts []grpc.ServerOption
	if idle > 0 {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: idle}))
	}
	s := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(s, health.NewServer())
	log.Fatal(s.Serve(lis))
}

func grpcCalls(addr string, n int, every time.Duration) {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	failed := 0
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			failed++
		}
		cancel()
		time.Sleep(every)
	}
	fmt.Printf("done %d failed %d\n", n, failed)
}
