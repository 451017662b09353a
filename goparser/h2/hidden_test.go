package h2

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
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
