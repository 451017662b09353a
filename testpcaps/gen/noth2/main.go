// Command noth2 puts traffic that is not HTTP/2 on loopback, so that a
// packet capture of it can show that HTTP/2 heuristics leave other TCP
// protocols alone. It runs three scenarios one after another, each on its
// own port:
//
//   - HTTP/1.1: a net/http server and one keep-alive client connection
//     doing GET and POST requests (HTTP/2 disabled on both sides), with
//     fixed-length, chunked, empty and 404 responses
//   - TLS: crypto/tls server and client with ALPN "http/1.1" and a
//     self-signed certificate made at startup, one TLS 1.3 and one TLS 1.2
//     connection exchanging application data
//   - raw TCP: both peers write seeded pseudo-random bytes (math/rand with
//     fixed seeds) in a few dozen writes of 1 to 1400 bytes
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gotcpdump/gotcpdump/testpcaps/gen/internal/selfsigned"
)

const (
	// Writes per direction on the raw TCP connection, and the size range.
	rawWrites  = 40
	rawMaxSize = 1400
	// Seeds of the two writers on the raw connection.
	rawClientSeed = 1
	rawServerSeed = 2
	// Pause between raw writes so that each write is its own segment.
	rawGap = 3 * time.Millisecond
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:18090", "HTTP/1.1 listen and connect address")
	tlsAddr := flag.String("tls", "127.0.0.1:18091", "TLS listen and connect address")
	rawAddr := flag.String("raw", "127.0.0.1:18092", "raw TCP listen and connect address")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("noth2: ")

	if err := runHTTP1(*httpAddr); err != nil {
		log.Fatalf("http/1.1: %v", err)
	}
	if err := runTLS(*tlsAddr); err != nil {
		log.Fatalf("tls: %v", err)
	}
	if err := runRaw(*rawAddr); err != nil {
		log.Fatalf("raw: %v", err)
	}
	log.Print("done")
}

// --- HTTP/1.1 ---------------------------------------------------------------

func runHTTP1(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	srv := &http.Server{Handler: http1Mux(), Protocols: &protos}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	// One connection for every request: keep-alive on, HTTP/2 off.
	tr := &http.Transport{Protocols: &protos, MaxConnsPerHost: 1, DisableCompression: true}
	c := &http.Client{Transport: tr}
	base := "http://" + addr
	form := "name=gotcpdump&lang=go&note=" + strings.Repeat("n", 300)
	upload := bytes.Repeat([]byte("0123456789abcdef"), 512) // 8 KiB
	steps := []struct {
		method, path, ctype string
		body                []byte
		want                int
	}{
		{"GET", "/", "", nil, http.StatusOK},
		{"GET", "/hello?name=loopback", "", nil, http.StatusOK},
		{"POST", "/form", "application/x-www-form-urlencoded", []byte(form), http.StatusOK},
		{"GET", "/chunked", "", nil, http.StatusOK},
		{"POST", "/echo", "application/octet-stream", upload, http.StatusOK},
		{"GET", "/missing", "", nil, http.StatusNotFound},
		{"GET", "/empty", "", nil, http.StatusNoContent},
		{"POST", "/echo", "text/plain", []byte("short body\n"), http.StatusOK},
	}
	for _, s := range steps {
		var body io.Reader
		if s.body != nil {
			body = bytes.NewReader(s.body)
		}
		req, err := http.NewRequest(s.method, base+s.path, body)
		if err != nil {
			return err
		}
		if s.ctype != "" {
			req.Header.Set("Content-Type", s.ctype)
		}
		req.Header.Set("User-Agent", "noth2/1.0")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.ProtoMajor != 1 || resp.StatusCode != s.want {
			return fmt.Errorf("%s %s: %s %s", s.method, s.path, resp.Proto, resp.Status)
		}
		log.Printf("http/1.1 %s %s: %s, %d bytes", s.method, s.path, resp.Status, n)
	}
	c.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func http1Mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!DOCTYPE html>\n<html><head><title>HTTP/1.1</title></head>"+
			"<body><p>plain HTTP/1.1, no upgrade</p></body></html>\n")
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello %s over %s\n", r.URL.Query().Get("name"), r.Proto)
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"name\":%q,\"lang\":%q,\"note\":%d}\n",
			r.PostForm.Get("name"), r.PostForm.Get("lang"), len(r.PostForm.Get("note")))
	})
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, r *http.Request) {
		// Flushing before the handler returns forces chunked encoding.
		w.Header().Set("Content-Type", "text/plain")
		f := w.(http.Flusher)
		for i := range 5 {
			fmt.Fprintf(w, "chunk %d %s\n", i, strings.Repeat("c", 100*(i+1)))
			f.Flush()
			time.Sleep(5 * time.Millisecond)
		}
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		// An HTTP/1.1 handler must read the whole request body before it
		// starts the response.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// --- TLS ----------------------------------------------------------------------

func runTLS(addr string) error {
	cert, pool, err := selfsigned.Cert()
	if err != nil {
		return err
	}
	ln, err := tls.Listen("tcp", addr, &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
		MinVersion:   tls.VersionTLS12,
	})
	if err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() { served <- serveTLS(ln) }()

	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		if err := tlsClient(addr, pool, v); err != nil {
			return err
		}
	}
	ln.Close()
	if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// serveTLS answers each line a client sends with a response whose body
// length the line names, one connection at a time.
func serveTLS(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		if err := tlsSession(conn); err != nil {
			log.Printf("tls server: %v", err)
		}
	}
}

func tlsSession(conn net.Conn) error {
	defer conn.Close()
	tc := conn.(*tls.Conn)
	if err := tc.Handshake(); err != nil {
		return err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		return fmt.Errorf("ALPN %q", p)
	}
	br := bufio.NewReader(tc)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || fields[0] != "GET" {
			return fmt.Errorf("bad request %q", line)
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(tc, "OK %d\n%s\n", n, strings.Repeat("t", n)); err != nil {
			return err
		}
	}
}

func tlsClient(addr string, pool *x509.CertPool, version uint16) error {
	conn, err := tls.Dial("tcp", addr, &tls.Config{
		RootCAs:    pool,
		ServerName: "localhost",
		NextProtos: []string{"http/1.1"},
		MinVersion: version,
		MaxVersion: version,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	log.Printf("tls: %s, ALPN %q, %s", tls.VersionName(st.Version), st.NegotiatedProtocol,
		tls.CipherSuiteName(st.CipherSuite))
	br := bufio.NewReader(conn)
	for _, n := range []int{10, 200, 3000, 20000, 64} {
		if _, err := fmt.Fprintf(conn, "GET %d\n", n); err != nil {
			return err
		}
		status, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if status != fmt.Sprintf("OK %d\n", n) {
			return fmt.Errorf("unexpected status %q", status)
		}
		if _, err := io.CopyN(io.Discard, br, int64(n)+1); err != nil {
			return err
		}
	}
	// close_notify alert before the TCP FIN.
	return conn.Close()
}

// --- raw TCP --------------------------------------------------------------------

func runRaw(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			acceptErr <- err
			return
		}
		accepted <- c
	}()
	client, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	var server net.Conn
	select {
	case server = <-accepted:
	case err := <-acceptErr:
		client.Close()
		return err
	}

	// Each side writes its own seeded stream while reading the other's;
	// the readers check that every byte arrives.
	sent := make([]int, 2)
	got := make([]int64, 2)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i, c := range []net.Conn{client, server} {
		seed := int64(rawClientSeed)
		if i == 1 {
			seed = rawServerSeed
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			sent[i], errs[2*i] = writeRandom(c, seed)
			// Half-close so the peer's reader sees EOF.
			errs[2*i] = errors.Join(errs[2*i], c.(*net.TCPConn).CloseWrite())
		}()
		go func() {
			defer wg.Done()
			got[i], errs[2*i+1] = io.Copy(io.Discard, c)
		}()
	}
	wg.Wait()
	client.Close()
	server.Close()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if got[1] != int64(sent[0]) || got[0] != int64(sent[1]) {
		return fmt.Errorf("sent %v bytes, received %v (server, client)", sent, got)
	}
	log.Printf("raw: client sent %d bytes, server sent %d bytes", sent[0], sent[1])
	return nil
}

func writeRandom(c net.Conn, seed int64) (int, error) {
	rng := rand.New(rand.NewSource(seed))
	total := 0
	buf := make([]byte, rawMaxSize)
	for range rawWrites {
		n := 1 + rng.Intn(rawMaxSize)
		rng.Read(buf[:n])
		if _, err := c.Write(buf[:n]); err != nil {
			return total, err
		}
		total += n
		time.Sleep(rawGap)
	}
	return total, nil
}
