package grpcmsg

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/encoding/protowire"
)

func prefixed(compressed bool, msg []byte) []byte {
	b := []byte{0, 0, 0, 0, 0}
	if compressed {
		b[0] = 1
	}
	b[1], b[2], b[3], b[4] = byte(len(msg)>>24), byte(len(msg)>>16), byte(len(msg)>>8), byte(len(msg))
	return append(b, msg...)
}

func TestReassembly(t *testing.T) {
	m1 := prefixed(false, []byte("hello"))
	m2 := prefixed(true, bytes.Repeat([]byte("x"), 100))
	m3 := prefixed(false, nil)
	stream := append(append(append([]byte{}, m1...), m2...), m3...)
	// Every way of cutting the stream in two DATA frames gives the same messages.
	for cut := 0; cut <= len(stream); cut++ {
		var r Reassembler
		var got []Message
		for _, chunk := range [][]byte{stream[:cut], stream[cut:]} {
			for _, m := range r.Feed(chunk) {
				m.Data = append([]byte(nil), m.Data...)
				got = append(got, m)
			}
		}
		if len(got) != 3 || string(got[0].Data) != "hello" || !got[1].Compressed || got[1].Length != 100 || got[2].Length != 0 {
			t.Fatalf("cut %d: %+v", cut, got)
		}
		if cut > 10 && cut < len(m1)+len(m2) && got[1].Parts != 2 {
			t.Fatalf("cut %d: message 2 in %d parts", cut, got[1].Parts)
		}
	}
	var r Reassembler
	ms := r.Feed(stream)
	if ms[1].Off != len(m1) || ms[1].N != len(m2) {
		t.Fatalf("part of message 2: %d+%d", ms[1].Off, ms[1].N)
	}
}

// TestFrames: a message fed in chunks from several capture frames lists
// each frame once, with the octets it carried (prefix included); one that
// arrives in one frame lists none.
func TestFrames(t *testing.T) {
	m1 := prefixed(false, bytes.Repeat([]byte("a"), 20)) // 25 octets
	m2 := prefixed(false, []byte("bc"))                  // 7 octets
	stream := append(append([]byte{}, m1...), m2...)
	var r Reassembler
	var got []Message
	for _, c := range []struct {
		frame    uint32
		from, to int
	}{{3, 0, 2}, {3, 2, 10}, {5, 10, 20}, {9, 20, 27}, {9, 27, 32}} {
		got = append(got, r.FeedFrame(stream[c.from:c.to], c.frame)...)
	}
	if len(got) != 2 {
		t.Fatalf("%d messages", len(got))
	}
	want := []Part{{3, 10}, {5, 10}, {9, 5}}
	if fmt.Sprint(got[0].Frames) != fmt.Sprint(want) || got[0].Parts != 4 {
		t.Fatalf("message 1: frames %v in %d parts, want %v in 4", got[0].Frames, got[0].Parts, want)
	}
	if got[1].Frames != nil {
		t.Fatalf("message 2 came in one frame but lists %v", got[1].Frames)
	}
	var long Reassembler
	big := prefixed(false, bytes.Repeat([]byte("z"), MaxFrames+10))
	var last []Message
	for i := range big {
		last = long.FeedFrame(big[i:i+1], uint32(i+1))
	}
	if len(last) != 1 || len(last[0].Frames) != MaxFrames || last[0].FramesCut != len(big)-MaxFrames {
		t.Fatalf("long message: %d frames listed, %d cut", len(last[0].Frames), last[0].FramesCut)
	}
}

func TestCap(t *testing.T) {
	r := Reassembler{Max: 10}
	ms := r.Feed(prefixed(false, bytes.Repeat([]byte("y"), 50)))
	if len(ms) != 1 || !ms[0].Truncated || len(ms[0].Data) != 10 || ms[0].Length != 50 {
		t.Fatalf("%+v", ms)
	}
}

func TestDecodeRaw(t *testing.T) {
	var inner []byte
	inner = protowire.AppendTag(inner, 1, protowire.VarintType)
	inner = protowire.AppendVarint(inner, 150)
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, []byte("svc"))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, inner)
	b = protowire.AppendTag(b, 3, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 7)
	f, ok := DecodeRaw(b, 0)
	if !ok || len(f) != 3 || string(f[0].Bytes) != "svc" || len(f[1].Nested) != 1 || f[1].Nested[0].Varint != 150 || f[2].Fixed != 7 {
		t.Fatalf("%v %+v", ok, f)
	}
	// Tag and length octets before each: "svc" at 2, inner at 7.
	if f[0].Off != 2 || f[1].Off != 7 {
		t.Fatalf("offsets %d and %d, want 2 and 7", f[0].Off, f[1].Off)
	}
	if _, ok := DecodeRaw([]byte{0xff, 0xff}, 0); ok {
		t.Fatal("garbage decoded")
	}
}

// FuzzFeed checks that messages stay inside the chunk that ended them, and
// that however the stream is cut (whole, in two, one octet at a time) the
// same messages come out.
func FuzzFeed(f *testing.F) {
	f.Add(prefixed(false, []byte("abc")), uint8(2))
	f.Add(append(prefixed(true, bytes.Repeat([]byte("q"), 70)), prefixed(false, nil)...), uint8(9))
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		feed := func(chunks [][]byte) string {
			r := Reassembler{Max: 64}
			var got []string
			for _, chunk := range chunks {
				for _, m := range r.Feed(chunk) {
					if m.Off < 0 || m.N < 0 || m.Off+m.N > len(chunk) || len(m.Data) > 64 {
						t.Fatalf("message %+v outside chunk of %d", m, len(chunk))
					}
					got = append(got, fmt.Sprintf("%v %v %d %v %q", m.Compressed, m.Trailer, m.Length, m.Truncated, m.Data))
				}
			}
			return strings.Join(got, "\n")
		}
		c := int(cut) % (len(b) + 1)
		whole := feed([][]byte{b})
		if two := feed([][]byte{b[:c], b[c:]}); two != whole {
			t.Fatalf("cut at %d:\n%s\nwhole:\n%s", c, two, whole)
		}
		if len(b) <= 4096 {
			octets := make([][]byte, len(b))
			for i := range b {
				octets[i] = b[i : i+1]
			}
			if one := feed(octets); one != whole {
				t.Fatalf("an octet at a time:\n%s\nwhole:\n%s", one, whole)
			}
		}
		DecodeRaw(b, 0)
	})
}

func TestDecompress(t *testing.T) {
	plain := bytes.Repeat([]byte("grpc "), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	got, err := Decompress("gzip", gz.Bytes(), 1<<20)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("gzip: %v", err)
	}
	if _, err := Decompress("gzip", gz.Bytes(), 100); !errors.Is(err, ErrBomb) {
		t.Fatalf("bomb not refused: %v", err)
	}
	enc, _ := zstd.NewWriter(nil)
	if got, err := Decompress("zstd", enc.EncodeAll(plain, nil), 1<<20); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("zstd: %v", err)
	}
	var sn bytes.Buffer
	sw := snappy.NewBufferedWriter(&sn)
	sw.Write(plain)
	sw.Close()
	if got, err := Decompress("snappy", sn.Bytes(), 1<<20); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("snappy: %v", err)
	}
	if _, err := Decompress("lz4", nil, 10); !errors.Is(err, ErrEncoding) {
		t.Fatalf("unknown encoding: %v", err)
	}
}

// TestDecompressReusesInflaters: the pooled gzip and flate readers give
// each message its own contents after a bomb refusal, a corrupt message
// and other messages.
func TestDecompressReusesInflaters(t *testing.T) {
	compress := func(enc string, b []byte) []byte {
		var buf bytes.Buffer
		var w io.WriteCloser
		if enc == "gzip" {
			w = gzip.NewWriter(&buf)
		} else {
			w, _ = flate.NewWriter(&buf, flate.BestSpeed)
		}
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	for _, enc := range []string{"gzip", "deflate"} {
		big := compress(enc, bytes.Repeat([]byte("x"), 5000))
		if _, err := Decompress(enc, big, 100); !errors.Is(err, ErrBomb) {
			t.Fatalf("%s: bomb not refused: %v", enc, err)
		}
		if _, err := Decompress(enc, []byte("\x1f\x8b not compressed"), 100); err == nil {
			t.Fatalf("%s: corrupt message accepted", enc)
		}
		for i := 0; i < 20; i++ {
			want := []byte(strings.Repeat(fmt.Sprint(i), i+1))
			got, err := Decompress(enc, compress(enc, want), 1<<10)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s message %d: %q, %v; want %q", enc, i, got, err, want)
			}
		}
	}
}

// FuzzDecompress: arbitrary bytes under every grpc-encoding never inflate
// past the cap, and a refusal is ErrBomb or a decoding error, not a panic.
func FuzzDecompress(f *testing.F) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(make([]byte, 100000))
	zw.Close()
	f.Add(gz.Bytes(), uint8(0))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58}, uint8(3))
	f.Add([]byte{0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'}, uint8(2))
	encodings := []string{"gzip", "deflate", "snappy", "zstd", "identity", "lz4"}
	f.Fuzz(func(t *testing.T, data []byte, enc uint8) {
		const max = 1 << 16
		out, err := Decompress(encodings[int(enc)%len(encodings)], data, max)
		if err == nil && len(out) > max {
			t.Fatalf("inflated to %d octets, cap %d", len(out), max)
		}
	})
}

// TestSniff: what each compressor writes names its encoding, and the
// name decompresses it; deflate (no magic number), a message in the clear
// and a cut magic number name none.
func TestSniff(t *testing.T) {
	plain := []byte("\x0a\x0egrpc.health.v1")
	var gz, sn bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	sw := snappy.NewBufferedWriter(&sn)
	sw.Write(plain)
	sw.Close()
	zs, _ := zstd.NewWriter(nil)
	var fl bytes.Buffer
	fw, _ := flate.NewWriter(&fl, flate.BestSpeed)
	fw.Write(plain)
	fw.Close()
	for _, c := range []struct {
		data []byte
		want string
	}{
		{gz.Bytes(), "gzip"},
		{zs.EncodeAll(plain, nil), "zstd"},
		{sn.Bytes(), "snappy"},
		{fl.Bytes(), ""},
		{plain, ""},
		{gz.Bytes()[:2], ""},
		{nil, ""},
	} {
		got := Sniff(c.data)
		if got != c.want {
			t.Errorf("Sniff(% x…) = %q, want %q", c.data[:min(len(c.data), 4)], got, c.want)
			continue
		}
		if got == "" {
			continue
		}
		if out, err := Decompress(got, c.data, 1<<10); err != nil || !bytes.Equal(out, plain) {
			t.Errorf("%s: %q, %v", got, out, err)
		}
	}
}

func TestPending(t *testing.T) {
	var r Reassembler
	if _, _, ok := r.Pending(); ok {
		t.Fatal("pending before any data")
	}
	// A whole message, then 3 octets of a prefix.
	r.Feed([]byte{0, 0, 0, 0, 2, 'h', 'i', 0, 0, 0})
	if seen, length, ok := r.Pending(); !ok || seen != 3 || length != 0 {
		t.Errorf("inside a prefix: %d %d %v", seen, length, ok)
	}
	// The prefix completes (100 octets declared) and 3 octets follow.
	r.Feed([]byte{0, 100, 'a', 'b', 'c'})
	if seen, length, ok := r.Pending(); !ok || seen != 8 || length != 105 {
		t.Errorf("inside a message: %d %d %v", seen, length, ok)
	}
	r.Feed(make([]byte, 97))
	if _, _, ok := r.Pending(); ok {
		t.Error("pending after the message completed")
	}
}

// TestDecodeRawBytes checks how length-delimited fields are taken, over
// exact octets.
func TestDecodeRawBytes(t *testing.T) {
	long := append([]byte{0x0a, 0x80, 0x80, 0x01}, bytes.Repeat([]byte("x"), 16384)...)
	for _, c := range []struct {
		name   string
		in     []byte
		text   bool
		nested int // fields of the nested message, -1: none
	}{
		// "xxxx…" parses as field 15 (0x78, varint) again and again.
		{"printable text", long, true, -1},
		{"text with tab and newline", []byte{0x0a, 0x05, 'a', '\t', 'b', '\n', 'c'}, true, -1},
		{"message in a field", []byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'}, false, 1},
		// Printable, but 0x0a 0x0a is field 1 with 10 octets: how most
		// nested messages start, so it is tried as one.
		{"message starting with a newline", append([]byte{0x0a, 0x0c, 0x0a, 0x0a}, "helloworld"...), false, 1},
		{"binary, not a message", []byte{0x0a, 0x03, 0xff, 0xfe, 0x00}, false, -1},
		{"text with a control character, not a message", []byte{0x0a, 0x03, 'a', 0x1b, 'b'}, true, -1},
		{"C1 control", []byte{0x0a, 0x03, 0xc2, 0x85, 'b'}, true, -1},
	} {
		f, ok := DecodeRaw(c.in, 0)
		if !ok || len(f) != 1 {
			t.Errorf("%s: %v %+v", c.name, ok, f)
			continue
		}
		got := -1
		if f[0].Nested != nil {
			got = len(f[0].Nested)
		}
		if f[0].Text != c.text || got != c.nested {
			t.Errorf("%s: text %v nested %d, want %v %d", c.name, f[0].Text, got, c.text, c.nested)
		}
	}
}

// TestDecodeRawCap checks that a message of many fields builds no more
// than the cap, says so, and is still told from one that is malformed.
func TestDecodeRawCap(t *testing.T) {
	var b []byte
	for i := 0; i < 3*MaxFields; i++ {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(i))
	}
	f, cut, ok := DecodeRawLimits(b, 16, 0)
	if !ok || !cut || len(f) != MaxFields || f[MaxFields-1].Varint != MaxFields-1 {
		t.Fatalf("ok %v cut %v, %d fields", ok, cut, len(f))
	}
	if _, cut, ok := DecodeRawLimits(append(b, 0xff), 16, 0); ok || !cut {
		t.Fatalf("malformed after the cap: ok %v cut %v", ok, cut)
	}
	// Nested fields count: 40 fields of 100 varints each.
	var inner, outer []byte
	for i := 0; i < 100; i++ {
		inner = protowire.AppendTag(inner, 2, protowire.VarintType)
		inner = protowire.AppendVarint(inner, 0)
	}
	for i := 0; i < 40; i++ {
		outer = protowire.AppendTag(outer, 1, protowire.BytesType)
		outer = protowire.AppendBytes(outer, inner)
	}
	f, cut, ok = DecodeRawLimits(outer, 16, 1000)
	if n := countFields(f); !ok || !cut || n > 1000 {
		t.Fatalf("nested: ok %v cut %v, %d fields", ok, cut, n)
	}
	if f, cut, ok := DecodeRawLimits(outer, 16, 0); !ok || cut || countFields(f) != 40*101 {
		t.Fatalf("under the cap: ok %v cut %v, %d fields", ok, cut, countFields(f))
	}
}

// FuzzDecodeRawOffsets checks that each field's Off locates its Bytes in
// the message, at every level of nesting: strings are shown from there.
func FuzzDecodeRawOffsets(f *testing.F) {
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c', 0x12, 0x01, 'z'})
	f.Add(append([]byte{0x0a, 0x0c, 0x0a, 0x0a}, "helloworld"...))
	f.Fuzz(func(t *testing.T, msg []byte) {
		fields, _, _ := DecodeRawLimits(msg, MaxDepth, 0)
		var check func([]Field)
		check = func(fs []Field) {
			for _, x := range fs {
				if x.Type != protowire.BytesType {
					continue
				}
				if x.Off < 0 || x.Off+len(x.Bytes) > len(msg) || (len(x.Bytes) > 0 && &msg[x.Off] != &x.Bytes[0]) {
					t.Fatalf("field %d: %d octets at %d, not where they are in %d", x.Number, len(x.Bytes), x.Off, len(msg))
				}
				check(x.Nested)
			}
		}
		check(fields)
	})
}

func countFields(f []Field) int {
	n := len(f)
	for _, x := range f {
		n += countFields(x.Nested)
	}
	return n
}
