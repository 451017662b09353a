// Command h2c runs an HTTP/2 cleartext (prior knowledge) server and client
// on loopback and drives a fixed sequence of requests through a single TCP
// connection. It exists to generate packet captures for dissector tests, so
// every step is chosen to put a specific HTTP/2 frame pattern on the wire:
//
//   - SETTINGS exchange and connection preface
//   - concurrent, interleaved streams (GET and POST with bodies)
//   - request and response header blocks split into HEADERS + CONTINUATION
//   - response trailers and request trailers
//   - RST_STREAM(CANCEL) from the client and RST_STREAM(INTERNAL_ERROR)
//     from the server
//   - many WINDOW_UPDATE frames caused by small receive windows
//   - PING/PING-ACK from the client's idle health check
//   - GOAWAY from a graceful server shutdown
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
)

const (
	// Small per-stream windows force frequent WINDOW_UPDATE frames. The
	// library accepts any positive per-stream value; per-connection values
	// below the protocol default of 65535 are replaced by the default, so
	// the connection window is left alone.
	serverStreamWindow = 16 << 10
	clientStreamWindow = 16 << 10

	uploadSize   = 128 << 10
	downloadSize = 128 << 10

	// Header values large enough that the encoded header block exceeds
	// 16384 bytes (the largest frame size both peers advertise here), so
	// the block is continued in CONTINUATION frames.
	largeRequestHeader  = 40 << 10
	largeResponseHeader = 60 << 10
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen and connect address")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("h2c: ")

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := newServer()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	c := newClient()
	base := "http://" + ln.Addr().String()
	if err := runClient(c, base); err != nil {
		log.Fatal(err)
	}

	// Let the client's health check fire a PING on the otherwise idle
	// connection before shutting down.
	time.Sleep(600 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
	c.CloseIdleConnections()
	log.Print("done")
}

func newServer() *http.Server {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:   newMux(),
		Protocols: &protos,
		HTTP2: &http.HTTP2Config{
			// Advertise the minimum frame size so the client must split
			// large header blocks; the default would be 1 MiB.
			MaxReadFrameSize:          16 << 10,
			MaxReceiveBufferPerStream: serverStreamWindow,
		},
	}
}

func newClient() *http.Client {
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols: &protos,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream: clientStreamWindow,
			SendPingTimeout:           300 * time.Millisecond,
		},
	}
	return &http.Client{Transport: tr}
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello over %s\n", r.Proto)
	})
	mux.HandleFunc("GET /item/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		// Staggered completion makes the concurrent streams interleave.
		time.Sleep(time.Duration(5-id) * 15 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"id\":%d,\"name\":\"item-%d\",\"pad\":%q}\n", id, id, strings.Repeat("x", 200*id))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		if _, err := io.Copy(w, r.Body); err != nil {
			log.Printf("echo: %v", err)
		}
	})
	mux.HandleFunc("GET /large-header", func(w http.ResponseWriter, r *http.Request) {
		got := len(r.Header.Get("X-Large"))
		w.Header().Set("X-Large-Response", pseudoRandomToken(largeResponseHeader, 2))
		fmt.Fprintf(w, "received X-Large of %d bytes\n", got)
	})
	mux.HandleFunc("GET /trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum, X-Line-Count")
		w.Header().Set("Content-Type", "text/plain")
		h := sha256.New()
		out := io.MultiWriter(w, h)
		const lines = 8
		for i := range lines {
			fmt.Fprintf(out, "line %d\n", i)
		}
		w.Header().Set("X-Checksum", hex.EncodeToString(h.Sum(nil)))
		w.Header().Set("X-Line-Count", strconv.Itoa(lines))
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		rc := http.NewResponseController(w)
		for i := range 50 {
			if _, err := fmt.Fprintf(w, "chunk %02d\n", i); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial body before abort\n")
		http.NewResponseController(w).Flush()
		// ErrAbortHandler makes the server reset the stream instead of
		// ending it cleanly, without logging a stack trace.
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		// Small reads keep the window updates small and frequent.
		n, err := io.CopyBuffer(h, r.Body, make([]byte, 4<<10))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "received %d bytes sha256=%x client-sum=%s\n", n, h.Sum(nil), r.Trailer.Get("X-Upload-Sum"))
	})
	mux.HandleFunc("GET /download", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(downloadSize))
		w.Write(pseudoRandomBytes(downloadSize, 3))
	})
	return mux
}

func runClient(c *http.Client, base string) error {
	// A first request on its own establishes the single shared connection
	// and completes the SETTINGS exchange, so later concurrent requests
	// reuse it instead of racing to dial.
	if _, err := fetch(c, http.MethodGet, base+"/hello", nil, nil); err != nil {
		return err
	}

	if err := concurrentRequests(c, base); err != nil {
		return err
	}

	hdr := http.Header{"X-Large": {pseudoRandomToken(largeRequestHeader, 1)}}
	if _, err := fetch(c, http.MethodGet, base+"/large-header", hdr, nil); err != nil {
		return err
	}

	if err := trailers(c, base); err != nil {
		return err
	}
	if err := cancelMidBody(c, base); err != nil {
		return err
	}
	if err := serverAbort(c, base); err != nil {
		return err
	}
	if err := upload(c, base); err != nil {
		return err
	}
	body, err := fetch(c, http.MethodGet, base+"/download", nil, nil)
	if err != nil {
		return err
	}
	log.Printf("download: %d bytes", len(body))
	return nil
}

func concurrentRequests(c *http.Client, base string) error {
	type job struct {
		method, path string
		body         []byte
	}
	jobs := []job{
		{http.MethodGet, "/item/1", nil},
		{http.MethodPost, "/echo", bytes.Repeat([]byte("post-body-A "), 100)},
		{http.MethodGet, "/item/2", nil},
		{http.MethodPost, "/echo", bytes.Repeat([]byte("post-body-B "), 250)},
		{http.MethodGet, "/item/3", nil},
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, len(jobs))
	)
	for i, j := range jobs {
		wg.Go(func() {
			<-start
			var hdr http.Header
			if j.body != nil {
				hdr = http.Header{"Content-Type": {"text/plain"}}
			}
			_, errs[i] = fetch(c, j.method, base+j.path, hdr, j.body)
		})
	}
	close(start)
	wg.Wait()
	return errors.Join(errs...)
}

func trailers(c *http.Client, base string) error {
	resp, err := c.Get(base + "/trailers")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.Trailer.Get("X-Checksum") == "" {
		return errors.New("trailers: X-Checksum trailer missing")
	}
	log.Printf("trailers: %v", resp.Trailer)
	return nil
}

// cancelMidBody cancels a request while the server is still streaming the
// response, which makes the client send RST_STREAM(CANCEL).
func cancelMidBody(c *http.Client, base string) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/slow", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, len("chunk 00\n"))
	for range 3 {
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return fmt.Errorf("slow: %w", err)
		}
	}
	cancel()
	if _, err := io.Copy(io.Discard, resp.Body); !errors.Is(err, context.Canceled) {
		return fmt.Errorf("slow: expected cancellation, got %v", err)
	}
	// Give the server time to observe the reset before the next stream.
	time.Sleep(50 * time.Millisecond)
	return nil
}

// serverAbort requests a handler that aborts, which makes the server send
// RST_STREAM(INTERNAL_ERROR) after part of the body.
func serverAbort(c *http.Client, base string) error {
	resp, err := c.Get(base + "/abort")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		return errors.New("abort: expected a stream error")
	}
	return nil
}

// upload sends a body much larger than the server's stream window, with a
// request trailer carrying its checksum.
func upload(c *http.Client, base string) error {
	data := pseudoRandomBytes(uploadSize, 4)
	sum := sha256.Sum256(data)
	req, err := http.NewRequest(http.MethodPost, base+"/upload", bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Trailer = http.Header{"X-Upload-Sum": {hex.EncodeToString(sum[:])}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	log.Printf("upload: %s", bytes.TrimSpace(body))
	return nil
}

func fetch(c *http.Client, method, url string, hdr http.Header, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if resp.ProtoMajor != 2 {
		return nil, fmt.Errorf("%s %s: unexpected protocol %s", method, url, resp.Proto)
	}
	return out, nil
}

// pseudoRandomBytes and pseudoRandomToken use fixed seeds so that payload
// sizes, and therefore frame boundaries, are the same on every run.
func pseudoRandomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func pseudoRandomToken(n int, seed int64) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.Intn(len(alphabet))]
	}
	return string(b)
}
