package gogrpc

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

func TestIsGRPC(t *testing.T) {
	for ct, want := range map[string][2]bool{
		"application/grpc":                     {true, false},
		"application/grpc+proto":               {true, false},
		"application/grpc-web":                 {true, false},
		"application/grpc-web+proto":           {true, false},
		"Application/gRPC-Web-Text; charset=x": {true, true},
		"application/grpc-web-text+proto":      {true, true},
		"application/grpc-web-text":            {true, true},
		"application/grpc; charset=utf-8":      {true, false},
		"application/grpcx":                    {false, false},
		"application/grpc-json":                {false, false},
		"application/grpc-webx":                {false, false},
		"application/grpc-web-textual":         {false, false},
		"application/grpc-text":                {false, false},
		"application/json":                     {false, false},
	} {
		if g, text := IsGRPC(ct); g != want[0] || text != want[1] {
			t.Errorf("%q: grpc %v text %v, want %v", ct, g, text, want)
		}
	}
}

// TestWebCalls: gRPC-Web request bodies, then a response body with a
// message and the trailers frame, in binary and in text form. A request
// answered without a body (a trailers-only error) is followed by the next
// request on its connection, which the response then answers; the method
// comes from the server's port.
func TestWebCalls(t *testing.T) {
	msg := []byte{0, 0, 0, 0, 2, 0x08, 0x01}
	trailers := "grpc-status: 5\r\ngrpc-message: unknown%20service\r\n"
	tf := append([]byte{0x80, 0, 0, 0, byte(len(trailers))}, trailers...)
	resp := append(append([]byte{}, msg...), tf...)
	for _, text := range []bool{false, true} {
		ct, req, rsp := "application/grpc-web+proto", msg, resp
		if text {
			// Text senders may encode each write on its own, padding included.
			ct = "application/grpc-web-text"
			req = []byte(base64.StdEncoding.EncodeToString(msg))
			rsp = []byte(base64.StdEncoding.EncodeToString(msg) + base64.StdEncoding.EncodeToString(tf))
		}
		var stats Stats
		wc := WebCalls{Calls: &stats, Ports: map[uint16]string{8080: "/grpc.health.v1.Health/Check"}}
		t0 := time.Unix(1000, 0)
		decode := func(in WebBody) string {
			var e result.Encoder
			var xs []tree.ExpertRecord
			e.BeginArray()
			wc.Decode(tree.Writer{E: &e, X: &xs}, in, nil, Limits{})
			e.End()
			b, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		const c, s = "10.0.0.1 40000", "10.0.0.2 8080"
		conn := c + "|" + s
		decode(WebBody{Conn: conn, Src: c, Dst: s, ContentType: ct, Body: req, Time: t0.Add(-time.Second)})
		if out := decode(WebBody{Conn: conn, Src: c, Dst: s, ContentType: ct, Body: req, Time: t0}); !strings.Contains(out, "Check request") {
			t.Errorf("text %v: the second body from the client is not a request", text)
		}
		out := decode(WebBody{Conn: conn, Src: s, Dst: c, ContentType: ct, Body: rsp, Time: t0.Add(time.Second)})
		for _, want := range []string{"/grpc.health.v1.Health/Check response", "/grpc.health.v1.Health/Check status NotFound", "unknown service"} {
			if !strings.Contains(out, want) {
				t.Errorf("text %v: response lacks %q", text, want)
			}
		}
		var b strings.Builder
		stats.WriteText(&b)
		if !regexp.MustCompile(`Check\s+1\s+1\s+1000.000`).MatchString(b.String()) {
			t.Errorf("text %v: calls table:\n%s", text, b.String())
		}
	}
}
