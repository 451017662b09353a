// Command h2cupgrade serves HTTP/2 behind an HTTP/1.1 Upgrade (x/net's
// h2c handler) and fetches two pages over one connection with curl
// --http2 on an http:// URL: the first request goes out as HTTP/1.1 with
// "Upgrade: h2c", the server answers 101 and then HTTP/2 on stream 1, and
// curl sends the second as HTTP/2 on stream 3. It checks that curl used
// HTTP/2 for both (x/net hands the upgraded request to the handler as
// HTTP/1.1, so only curl can tell).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os/exec"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18099", "server address")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s\n", r.URL.Path)
	})
	srv := &http.Server{Handler: h2c.NewHandler(h, &http2.Server{}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(lis)
	defer srv.Close()

	base := "http://" + *addr
	out, err := exec.Command("curl", "-sS", "--http2", "-w", "%{http_version}\n", base+"/first", base+"/second").Output()
	if err != nil {
		log.Fatalf("curl: %v", err)
	}
	if want := "/first\n2\n/second\n2\n"; string(out) != want {
		log.Fatalf("curl printed %q, want %q", out, want)
	}
}
