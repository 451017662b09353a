// Command grpcweb makes gRPC-Web traffic for the gogrpc tests: a grpc-go
// health server wrapped by github.com/improbable-eng/grpc-web's grpcweb
// package, served in cleartext over HTTP/1.1 on -h1 and over HTTP/2 with
// prior knowledge (h2c) on -h2c, and net/http clients that speak gRPC-Web
// the way a browser library does: a POST per call whose body holds the
// length-prefixed messages, application/grpc-web+proto in binary or
// application/grpc-web-text in base64, and the status at the end of the
// response body as a trailer frame (flag 0x80) rather than in HTTP
// trailers.
//
// The calls, one connection per port, one after another (the status is in
// a trailer frame at the end of the body, or, when the call fails before
// any message, in the HTTP response headers as a trailers-only gRPC
// response would have it):
//
//	HTTP/1.1  Check demo.Greeter         grpc-web+proto  SERVING; OK
//	HTTP/1.1  Check demo.Greeter         grpc-web-text   SERVING; OK
//	HTTP/1.1  Watch demo.Greeter         grpc-web+proto  SERVING, NOT_SERVING, SERVING; OK
//	HTTP/1.1  Check no.such.Service      grpc-web+proto  NOT_FOUND "unknown service" in the headers
//	HTTP/1.1  Watch no.such.Service      grpc-web-text   SERVICE_UNKNOWN; NOT_FOUND "unknown service"
//	HTTP/1.1  Check (24,000 characters)  grpc-web-text   NOT_FOUND in the headers; the 32 KB base64
//	                                                     body goes out in 4 KiB writes
//	h2c       Check demo.Greeter         grpc-web+proto  SERVING; OK
//	h2c       Watch demo.Greeter         grpc-web-text   SERVING, NOT_SERVING, SERVING; OK
//	h2c       Watch no.such.Service      grpc-web+proto  SERVICE_UNKNOWN; NOT_FOUND "unknown service"
//	h2c       Check (24,000 characters)  grpc-web+proto  NOT_FOUND in the headers; the body goes
//	                                                     out in 4 KiB writes
//
// The server's Watch ends after three updates with OK, or after
// SERVICE_UNKNOWN with NOT_FOUND for a service it does not know (grpc-go's
// health server keeps the stream open until the client cancels), so that
// the streams end with a trailer frame. In base64 (grpc-web-text) the
// server encodes each flush on its own, so a response body is several
// padded base64 strings one after another. The values are fixed; the
// tests in tests/gogrpc_test.go expect exactly these messages. The client
// checks every answer and exits non-zero on anything unexpected.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/improbable-eng/grpc-web/go/grpcweb"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// bigService is the service name of the large requests: 24,000 octets,
// so that the message spans several TCP segments.
var bigService = strings.Repeat("0123456789abcdef", 1500)

// watchServer is grpc-go's health server, except that Watch ends: after
// three updates, or with NOT_FOUND after one for an unknown service.
type watchServer struct {
	*health.Server
}

func (s watchServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	if req.Service != "demo.Greeter" {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}); err != nil {
			return err
		}
		return status.Error(codes.NotFound, "unknown service")
	}
	for _, st := range []healthpb.HealthCheckResponse_ServingStatus{
		healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING, healthpb.HealthCheckResponse_SERVING,
	} {
		if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	h1 := flag.String("h1", "127.0.0.1:18446", "HTTP/1.1 listen and dial address")
	h2c := flag.String("h2c", "127.0.0.1:18447", "h2c (HTTP/2 prior knowledge) listen and dial address")
	flag.Parse()

	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("demo.Greeter", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, watchServer{hs})
	web := grpcweb.WrapServer(gs)

	var servers []*http.Server
	for _, s := range []struct {
		addr string
		http *http.Protocols
	}{{*h1, protocols(true, false)}, {*h2c, protocols(false, true)}} {
		lis, err := net.Listen("tcp", s.addr)
		if err != nil {
			log.Fatal(err)
		}
		srv := &http.Server{Handler: web, Protocols: s.http, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(lis)
		servers = append(servers, srv)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h1c := &client{base: "http://" + *h1, hc: &http.Client{Transport: &http.Transport{Protocols: protocols(true, false)}}}
	serving := []string{"SERVING"}
	updates := []string{"SERVING", "NOT_SERVING", "SERVING"}
	unknown := []string{"SERVICE_UNKNOWN"}
	h1c.run(ctx, []call{
		{"Check", "demo.Greeter", false, 0, serving, "0", false},
		{"Check", "demo.Greeter", true, 0, serving, "0", false},
		{"Watch", "demo.Greeter", false, 0, updates, "0", false},
		{"Check", "no.such.Service", false, 0, nil, "5", true},
		{"Watch", "no.such.Service", true, 0, unknown, "5", false},
		{"Check", bigService, true, 4096, nil, "5", true},
	})
	h2 := &client{base: "http://" + *h2c, hc: &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}}
	h2.run(ctx, []call{
		{"Check", "demo.Greeter", false, 0, serving, "0", false},
		{"Watch", "demo.Greeter", true, 0, updates, "0", false},
		{"Watch", "no.such.Service", false, 0, unknown, "5", false},
		{"Check", bigService, false, 4096, nil, "5", true},
	})
	h1c.hc.CloseIdleConnections()
	h2.hc.CloseIdleConnections()
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			log.Fatal(err)
		}
	}
	gs.Stop()
}

func protocols(h1, h2c bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(h1)
	p.SetUnencryptedHTTP2(h2c)
	return p
}

// call is one gRPC-Web call and what it must return.
type call struct {
	method  string // of grpc.health.v1.Health
	service string // the request's service name
	text    bool   // application/grpc-web-text (base64) rather than +proto
	chunk   int    // if > 0, the request body is written in pieces of this size
	want    []string
	status  string // grpc-status
	headers bool   // the status is in the response headers, with no trailer frame
}

type client struct {
	base string
	hc   *http.Client
}

func (c *client) run(ctx context.Context, calls []call) {
	for _, k := range calls {
		if err := c.do(ctx, k); err != nil {
			log.Fatalf("%s %s %.20s: %v", c.base, k.method, k.service, err)
		}
	}
}

// chunkedReader hands out at most n octets per Read, so that the request
// body goes out in several writes.
type chunkedReader struct {
	r io.Reader
	n int
}

func (c chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func (c *client) do(ctx context.Context, k call) error {
	msg, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: k.service})
	if err != nil {
		return err
	}
	body := frame(0, msg)
	ctype := "application/grpc-web+proto"
	if k.text {
		body = []byte(base64.StdEncoding.EncodeToString(body))
		ctype = "application/grpc-web-text"
	}
	var r io.Reader = bytes.NewReader(body)
	if k.chunk > 0 {
		r = chunkedReader{r, k.chunk}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/grpc.health.v1.Health/"+k.method, r)
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", ctype)
	req.Header.Set("X-Grpc-Web", "1")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), strings.TrimSuffix(ctype, "+proto")) {
		return fmt.Errorf("HTTP %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if k.text {
		if raw, err = decodeBase64Parts(raw); err != nil {
			return err
		}
	}
	var got []string
	trailers := map[string]string{}
	for len(raw) > 0 {
		if len(raw) < 5 || len(raw) < 5+int(binary.BigEndian.Uint32(raw[1:5])) {
			return errors.New("truncated gRPC-Web frame")
		}
		flags, payload := raw[0], raw[5:5+binary.BigEndian.Uint32(raw[1:5])]
		raw = raw[5+len(payload):]
		if flags&0x80 != 0 {
			// HTTP/1-style header lines, names in lower case.
			for _, line := range strings.Split(strings.TrimSuffix(string(payload), "\r\n"), "\r\n") {
				name, value, ok := strings.Cut(line, ":")
				if !ok {
					return fmt.Errorf("trailer frame line %q", line)
				}
				trailers[name] = strings.TrimSpace(value)
			}
			continue
		}
		var m healthpb.HealthCheckResponse
		if err := proto.Unmarshal(payload, &m); err != nil {
			return err
		}
		got = append(got, m.Status.String())
	}
	if strings.Join(got, ",") != strings.Join(k.want, ",") {
		return fmt.Errorf("responses %v, want %v", got, k.want)
	}
	if k.headers {
		if len(trailers) > 0 || resp.Header.Get("Grpc-Status") != k.status {
			return fmt.Errorf("trailer frame %v, grpc-status header %q, want the header %s", trailers, resp.Header.Get("Grpc-Status"), k.status)
		}
	} else if trailers["grpc-status"] != k.status || resp.Header.Get("Grpc-Status") != "" {
		return fmt.Errorf("trailer frame %v, want grpc-status %s", trailers, k.status)
	}
	return nil
}

// frame is a gRPC(-Web) length-prefixed message.
func frame(flags byte, msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// decodeBase64Parts decodes a grpc-web-text body, which may be several
// padded base64 strings one after another (one per flush of the server).
func decodeBase64Parts(s []byte) ([]byte, error) {
	var out []byte
	for len(s) > 0 {
		end := len(s)
		if i := bytes.IndexByte(s, '='); i >= 0 {
			end = i
			for end < len(s) && s[end] == '=' {
				end++
			}
		}
		b, err := base64.StdEncoding.DecodeString(string(s[:end]))
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
		s = s[end:]
	}
	return out, nil
}
