package h2

import (
	"bytes"
	"compress/gzip"
	"math/rand"
	"testing"

	"golang.org/x/net/http2"

	"github.com/gotcpdump/gotcpdump/goparser/gogrpc"
	"github.com/gotcpdump/gotcpdump/goparser/result"
)

// TestInflatedPerPacketBounded: a packet of gzip messages that each
// inflate to 4 MiB (within gogrpc.max_decompressed and max_ratio) must not
// make a result of 4 MiB times their number: 400 of them in a 1.8 MB
// capture took tshark to 6.8 GB. Past gogrpc.MaxInflatedPerPacket the
// packet's further messages are not decompressed, and say so.
func TestInflatedPerPacketBounded(t *testing.T) {
	const n = 20
	plain := make([]byte, 4<<20)
	rand.New(rand.NewSource(1)).Read(plain[len(plain)-300:]) // a ratio under 1000
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(plain)
	zw.Close()
	var body []byte
	for i := 0; i < n; i++ {
		body = append(body, grpcPrefixed(true, gz.Bytes())...)
	}

	d, c, _ := started(t)
	must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: c.block(":method", "POST",
		":scheme", "http", ":path", "/x.Y/Z", ":authority", "srv", "content-type", "application/grpc", "grpc-encoding", "gzip")}))
	for len(body) > 0 {
		k := min(len(body), 16384)
		must(c.fr.WriteData(1, false, body[:k]))
		body = body[k:]
	}
	// Not decodeInput: its checks take data sources for ranges of the input.
	var e result.Encoder
	d.Decode(Input{Src: client, Dst: server, Data: c.take()}, &e)
	b := mustBytes(t, &e)
	if limit := gogrpc.MaxInflatedPerPacket + 8<<20; len(b) > limit {
		t.Errorf("a result of %d octets, above %d", len(b), limit)
	}
	v, _, err := result.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	o := out{pdus: v.([]any)[3].([]any)}
	if got, want := len(o.values("gogrpc.decompressed_length")), gogrpc.MaxInflatedPerPacket/len(plain); got > want {
		t.Errorf("%d of %d messages decompressed, want at most %d", got, n, want)
	}
	// The bound on a packet's items may come first: the inflated messages
	// are items too.
	if !o.hasExpert("gogrpc.decompression_failed", "at most") && !o.hasExpert("gogrpc.pb.fields_cut", "not shown") {
		t.Errorf("no expert info on the messages left compressed: %q", o.experts())
	}
}

// TestItemsPerPacketBounded: one DATA frame of 16 MiB holds millions of
// empty gRPC messages, or thousands of 4,096 fields each: their items
// made results of hundreds of megabytes, above what the shim takes (the
// packet then showed nothing). Past gogrpc.MaxItemsPerPacket the rest are
// counted in one expert info.
func TestItemsPerPacketBounded(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
		n    int
	}{
		{"empty", nil, 3 << 20},
		{"fields", bytes.Repeat([]byte{0x08, 0x01}, 4096), 2000},
	} {
		t.Run(c.name, func(t *testing.T) {
			var body []byte
			for i := 0; i < c.n; i++ {
				body = append(body, grpcPrefixed(false, c.msg)...)
			}
			d, cl, _ := started(t)
			must(cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: cl.block(":method", "POST",
				":scheme", "http", ":path", "/x.Y/Z", ":authority", "srv", "content-type", "application/grpc")}))
			decodeOnce(t, d, client, server, cl.take(), false)
			cl.buf.Write(raw(http2.FrameData, 0, 1, body))
			var e result.Encoder
			d.Decode(Input{Src: client, Dst: server, Data: cl.take()}, &e)
			b := mustBytes(t, &e)
			if limit := gogrpc.MaxItemsPerPacket + 1<<20; len(b) > limit {
				t.Fatalf("a result of %d octets, above %d", len(b), limit)
			}
			v, _, err := result.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			o := out{pdus: v.([]any)[3].([]any)}
			if !o.hasExpert("gogrpc.pb.fields_cut", "not shown") {
				t.Errorf("no expert info on the messages not shown")
			}
		})
	}
}
