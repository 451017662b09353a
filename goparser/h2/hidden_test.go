package h2

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

func grpcPrefixed(compressed bool, msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	if compressed {
		b[0] = 1
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

func TestGRPCMessagesEndToEnd(t *testing.T) {
	for _, c := range []struct {
		p    string
		end  bool
		want bool
	}{
		{"\x00\x00\x00\x00\x02\x0a\x00", true, true},                 // one message
		{"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x01\xff", true, true}, // two, the second compressed
		{"\x00\x00\x00\x00\x09\x0a\x00", false, true},                // goes on in the next DATA
		{"\x00\x00\x00\x00\x09\x0a\x00", true, false},                // cannot go on: the stream ends
		{"\x00\x00\x00\x00\x01\x0a\x00", true, false},                // an octet after the message
		{"\x02\x00\x00\x00\x00", true, false},                        // flag 2
		{"\x00\x00\x00", false, false},                               // no whole prefix
		{`{"a":1}`, true, false},                                     // JSON
		{"\x00\x00\x00\x00\x00", true, true},                         // one empty message
		{"\x00\x01\x00\x00\x00\x0c\x00\x80", false, false},           // a TrueType font: 16 MiB
		{strings.Repeat("\x00", 4000), true, false},                  // zeros: 800 empty messages
	} {
		if got := grpcMessages([]byte(c.p), c.end); got != c.want {
			t.Errorf("grpcMessages(%q, end %v) = %v", c.p, c.end, got)
		}
	}
}

// TestGRPCHiddenContentType: a capture that starts mid-connection has a
// gRPC request whose :path, content-type and grpc-encoding refer to HPACK
// entries it never saw. Its DATA, gRPC messages end to end, makes the
// stream gRPC, and the gzip message inflates by its magic number; a POST
// whose body is not made of gRPC messages stays HTTP/2.
func TestGRPCHiddenContentType(t *testing.T) {
	c := newPeer()
	req := []string{":method", "POST", ":scheme", "http", ":path", "/grpc.health.v1.Health/Check",
		"content-type", "application/grpc", "grpc-encoding", "gzip", "te", "trailers"}
	c.block(req...) // before the capture: the entries go into the table
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\x0a\x04demo"))
	zw.Close()

	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: c.block(req...), EndHeaders: true}))
	must(c.fr.WriteData(3, true, grpcPrefixed(true, gz.Bytes())))
	d := New(Options{})
	o := decodeOnce(t, d, client, server, c.take(), true)
	if o.status != StatusOK {
		t.Fatal("not claimed")
	}
	if got := o.values("gogrpc.decompressed_length"); len(got) != 1 || got[0] != int64(6) {
		t.Errorf("decompressed lengths %v, want [6]", got)
	}
	if got := o.values("gogrpc.encoding"); len(got) != 1 || got[0] != "gzip" {
		t.Errorf("encodings %v", got)
	}
	for _, x := range []string{"gogrpc.assumed", "gogrpc.encoding_assumed"} {
		if !o.hasExpert(x, "") {
			t.Errorf("no %s in %q", x, o.experts())
		}
	}
	if o.hasExpert("gogrpc.decompression_failed", "") {
		t.Errorf("experts %q", o.experts())
	}

	// The same request with a body that is not gRPC messages.
	c.block("content-type", "application/json")
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: c.block(":method", "POST", ":path", "/api", "content-type", "application/json"), EndHeaders: true}))
	must(c.fr.WriteData(5, true, []byte("\x00\x00\x00\x00\x10{}")))
	o = decodeOnce(t, New(Options{}), client, server, c.take(), true)
	if o.status != StatusOK {
		t.Fatal("not claimed")
	}
	if got := o.values("gogrpc.message_length"); len(got) != 0 {
		t.Errorf("a body that is not gRPC taken for messages: %v", got)
	}
}

// TestGRPCHiddenKeepsWhatWasCaptured: a hidden request's captured
// grpc-encoding (deflate, which has no magic number) still inflates its
// messages; a later hidden POST on the same connection whose body is
// zeros is not taken for gRPC; and a stream taken for gRPC whose response
// says text/html stops being gRPC.
func TestGRPCHiddenKeepsWhatWasCaptured(t *testing.T) {
	c := newPeer()
	c.block("content-type", "application/grpc") // before the capture
	var fl bytes.Buffer
	fw, _ := flate.NewWriter(&fl, flate.BestSpeed)
	fw.Write([]byte("\x0a\x04demo"))
	fw.Close()
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":path", "/grpc.health.v1.Health/Check", "content-type", "application/grpc", "grpc-encoding", "deflate")}))
	must(c.fr.WriteData(3, true, grpcPrefixed(true, fl.Bytes())))
	d := New(Options{})
	o := decodeOnce(t, d, client, server, c.take(), true)
	if got := o.values("gogrpc.decompressed_length"); len(got) != 1 || got[0] != int64(6) {
		t.Errorf("deflate message: decompressed lengths %v, experts %q", got, o.experts())
	}
	if got := o.values("gogrpc.path"); len(got) == 0 || got[0] != "/grpc.health.v1.Health/Check" {
		t.Errorf("paths %v", got)
	}

	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":path", "/upload", "content-type", "application/grpc")}))
	must(c.fr.WriteData(5, true, make([]byte, 4000)))
	o = decodeOnce(t, d, client, server, c.take(), false)
	if got := o.values("gogrpc.message_length"); len(got) != 0 {
		t.Errorf("zeros taken for %d gRPC messages", len(got))
	}

	s := newPeer()
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, EndHeaders: true,
		BlockFragment: c.block(":method", "POST", ":path", "/form", "content-type", "application/grpc")}))
	must(c.fr.WriteData(7, false, grpcPrefixed(false, []byte("\x0a\x01x"))))
	decodeOnce(t, d, client, server, c.take(), false)
	must(s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 7, EndHeaders: true, BlockFragment: s.block(":status", "200", "content-type", "text/html")}))
	must(s.fr.WriteData(7, true, grpcPrefixed(false, []byte("\x0a\x01y"))))
	o = decodeOnce(t, d, server, client, s.take(), false)
	if got := o.values("gogrpc.message_length"); len(got) != 0 {
		t.Errorf("a text/html response read as %d gRPC messages", len(got))
	}
}
