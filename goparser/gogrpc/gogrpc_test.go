package gogrpc

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"strings"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

func TestStatusDetails(t *testing.T) {
	detail, _ := anypb.New(durationpb.New(1500000000))
	b, _ := proto.Marshal(&spb.Status{Code: int32(codes.ResourceExhausted), Message: "slow down", Details: []*anypb.Any{detail}})
	hdr := map[string]string{"grpc-status": "8", "grpc-message": "slow%20down", "grpc-status-details-bin": base64.RawStdEncoding.EncodeToString(b)}
	var e result.Encoder
	st, ok := ReadStatus(func(n string) (string, bool) { v, ok := hdr[n]; return v, ok }, true, true)
	if !ok {
		t.Fatal("no status")
	}
	WriteStatus(tree.Writer{E: &e}, 0, 10, Call{Path: "/a.B/C"}, st, nil, nil)
	out, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"slow down", "code ResourceExhausted", "type.googleapis.com/google.protobuf.Duration", "/a.B/C ended with ResourceExhausted"} {
		if !strings.Contains(s, want) {
			t.Errorf("result lacks %q", want)
		}
	}
}

func TestParseTimeout(t *testing.T) {
	for v, want := range map[string]string{"100m": "100ms", "9998452u": "9.998452s", "1H": "1h0m0s", "2M": "2m0s", "5S": "5s", "7n": "7ns", "99999999H": "2562047h47m16.854775807s", "2562047H": "2562047h0m0s"} {
		if d, ok := ParseTimeout(v); !ok || d.String() != want {
			t.Errorf("%s: %v %v", v, d, ok)
		}
	}
	for _, v := range []string{"", "10", "1x", "1234567890S", "-1S"} {
		if _, ok := ParseTimeout(v); ok {
			t.Errorf("%q accepted", v)
		}
	}
}

// TestEncodingNotInHeaders: a compressed message whose grpc-encoding the
// capture lacks is inflated by its magic number, with a note when the
// headers were not (all) captured and an error when they were and named
// none; without a magic number it stays compressed.
func TestEncodingNotInHeaders(t *testing.T) {
	plain := []byte("\x0a\x0egrpc.health.v1")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	var zl bytes.Buffer // deflate as the gRPC C core sends it
	zlw := zlib.NewWriter(&zl)
	zlw.Write(plain)
	zlw.Close()
	for _, c := range []struct {
		name       string
		call       Call
		data       []byte
		want, lack []string
	}{
		{"sent", Call{Encoding: [2]string{"gzip"}, Whole: [2]bool{true}}, gz.Bytes(),
			[]string{"Decompressed gRPC message"}, []string{"magic number", "name no grpc-encoding"}},
		{"lost", Call{}, gz.Bytes(),
			[]string{"grpc-encoding of the request not captured: gzip, by the message's magic number", "Decompressed gRPC message"}, []string{"name no grpc-encoding", "not decompressed"}},
		{"not sent", Call{Whole: [2]bool{true}}, gz.Bytes(),
			[]string{"the request headers name no grpc-encoding", "Decompressed gRPC message"}, []string{"not captured"}},
		{"lost, zlib", Call{}, zl.Bytes(),
			[]string{"grpc-encoding of the request not captured: deflate, by the message's magic number", "Decompressed gRPC message"}, []string{"not decompressed"}},
		{"lost, no magic", Call{}, plain,
			[]string{"not decompressed: grpc-encoding of the request not captured, and no gzip, zlib, zstd or snappy magic number"}, []string{"Decompressed gRPC message"}},
		{"cut at max_message", Call{Encoding: [2]string{"gzip"}, Whole: [2]bool{true}}, gz.Bytes()[:10],
			[]string{"only the first 10 are kept"}, []string{"not decompressed", "Decompressed gRPC message"}},
		{"assumed", Call{Assumed: true, Encoding: [2]string{"gzip"}}, gz.Bytes(),
			[]string{"Decompressed gRPC message"}, []string{"magic number"}},
	} {
		var e result.Encoder
		msg := grpcmsg.Message{Compressed: true, Length: uint32(len(c.data)), Data: c.data, N: grpcmsg.PrefixLen + len(c.data), Parts: 1}
		if c.name == "cut at max_message" {
			msg.Length, msg.Truncated = uint32(gz.Len()), true
		}
		WriteMessage(tree.Writer{E: &e}, 0, msg, c.call, true, nil, Limits{})
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(c.name, err)
		}
		for _, s := range c.want {
			if !bytes.Contains(out, []byte(s)) {
				t.Errorf("%s: result lacks %q", c.name, s)
			}
		}
		for _, s := range c.lack {
			if bytes.Contains(out, []byte(s)) {
				t.Errorf("%s: result has %q", c.name, s)
			}
		}
		// The note that the stream was taken for gRPC is an expert
		// without text: its expert id is in the result only when assumed.
		var plainEnc result.Encoder
		WriteMessage(tree.Writer{E: &plainEnc}, 0, msg, Call{Encoding: c.call.Encoding, Whole: c.call.Whole}, true, nil, Limits{})
		base, _ := plainEnc.Bytes()
		if c.call.Assumed == bytes.Equal(out, base) {
			t.Errorf("%s: Assumed %v, but the result %s", c.name, c.call.Assumed, map[bool]string{true: "is the same without it", false: "differs without it"}[bytes.Equal(out, base)])
		}
	}
}

// TestRawFieldsCut: a message of more fields than grpcmsg.MaxFields shows
// the first ones and a note; a long string is one string field.
func TestRawFieldsCut(t *testing.T) {
	var many []byte
	for i := 0; i < grpcmsg.MaxFields+10; i++ {
		many = append(many, 0x08, 0x01) // field 1, varint 1
	}
	text := append([]byte{0x0a, 0x80, 0x80, 0x01}, bytes.Repeat([]byte("x"), 16384)...)
	for _, c := range []struct {
		name string
		msg  []byte
		cut  bool
	}{{"many fields", many, true}, {"long string", text, false}} {
		var e result.Encoder
		var xs []tree.ExpertRecord
		WriteMessage(tree.Writer{E: &e, X: &xs}, 0, grpcmsg.Message{Length: uint32(len(c.msg)), Data: c.msg, Parts: 1, N: 5 + len(c.msg)},
			Call{Path: "/a.B/C"}, true, nil, Limits{})
		out, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		cut := len(xs) == 1 && xs[0].ID == xFieldsCut
		if cut != c.cut || (!c.cut && len(xs) > 0) {
			t.Errorf("%s: experts %+v", c.name, xs)
		}
		if !c.cut && bytes.Contains(out, []byte("15 (varint)")) {
			t.Errorf("%s: the string decoded as a message", c.name)
		}
	}
}

// TestLabelQuotesWhatShows: a label quotes the start of a long string, as
// much as Wireshark shows, then gives its length; the value stays whole.
func TestLabelQuotesWhatShows(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abc", `"abc"`},
		{strings.Repeat("x", labelText), `"` + strings.Repeat("x", labelText) + `"`},
		{strings.Repeat("x", 16384), `"` + strings.Repeat("x", labelText) + `"… (16384 octets)`},
		// Not cut inside a rune: é is 2 octets, the 160th starts none.
		{"a" + strings.Repeat("é", 100), `"a` + strings.Repeat("é", 79) + `"… (201 octets)`},
	} {
		if got := string(appendQuoted(nil, []byte(c.in))); got != c.want {
			t.Errorf("%.20q…: got %s", c.in, got)
		}
	}
}

// TestStringShownFromTheMessage: a string's value is a reference to the
// message's octets, in the frame or in the message's data source, so that
// a result carries (and keeps, for later passes) the string at most once.
func TestStringShownFromTheMessage(t *testing.T) {
	long := strings.Repeat("y", 5000)
	msg := append([]byte{0x0a, 0x88, 0x27}, long...)
	for _, c := range []struct {
		name   string
		parts  int
		copies int // of the string in the result
		want   result.Ref
	}{
		// In one DATA frame, at 100 of the frame: after the 5-octet
		// prefix and the field's 3 octets of tag and length.
		{"in the frame", 1, 0, result.Ref{Base: result.RefRange, Off: 108, Len: 5000}},
		// Reassembled: in the data source, which holds it once.
		{"reassembled", 2, 1, result.Ref{Base: result.RefSource, Off: 3, Len: 5000}},
	} {
		var e result.Encoder
		e.BeginArray()
		WriteMessage(tree.Writer{E: &e}, 100, grpcmsg.Message{Length: uint32(len(msg)), Data: msg, Parts: c.parts, N: 5 + len(msg)}, Call{}, true, nil, Limits{})
		e.End()
		out, _ := e.Bytes()
		if n := bytes.Count(out, []byte(long)); n != c.copies || !bytes.Contains(out, []byte(`"… (5000 octets)`)) {
			t.Errorf("%s: the string %d times in the result, want %d, and a short label", c.name, n, c.copies)
		}
		v, _, err := result.Decode(out)
		if err != nil {
			t.Fatal(err)
		}
		var refs []result.Ref
		var walk func([]any)
		walk = func(items []any) {
			for _, it := range items {
				x := it.([]any)
				if x[0] == int64(fPBString) {
					r, _ := x[3].(result.Ref) // zero when a copy
					refs = append(refs, r)
				}
				if len(x) > 6 {
					walk(x[6].([]any))
				}
			}
		}
		walk(v.([]any))
		if len(refs) != 1 || refs[0] != c.want {
			t.Errorf("%s: strings %+v, want %+v", c.name, refs, c.want)
		}
	}
}

// TestMaxDepthNone: a MaxDepth below 0 (gogrpc.max_depth 0) tries no bytes
// as a message; 0 is the default, which does.
func TestMaxDepthNone(t *testing.T) {
	msg := []byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'}
	for _, c := range []struct {
		depth  int
		nested bool
	}{{0, true}, {1, true}, {-1, false}} {
		var e result.Encoder
		WriteMessage(tree.Writer{E: &e}, 0, grpcmsg.Message{Length: uint32(len(msg)), Data: msg, Parts: 1, N: 5 + len(msg)}, Call{}, true, nil, Limits{MaxDepth: c.depth})
		out, _ := e.Bytes()
		if got := bytes.Contains(out, []byte(`"abc"`)); got != c.nested {
			t.Errorf("MaxDepth %d: nested %v", c.depth, got)
		}
	}
}
