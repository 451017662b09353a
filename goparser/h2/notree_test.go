package h2

import (
	"slices"
	"testing"

	"golang.org/x/net/http2"
)

// TestGRPCNoTree: with no tree and no later pass, a gRPC message keeps
// its length, expert infos and data source but is not decoded into
// fields.
func TestGRPCNoTree(t *testing.T) {
	for _, noTree := range []bool{false, true} {
		c := newPeer()
		c.fr.WriteSettings()
		must(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, EndHeaders: true, BlockFragment: c.block(
			":method", "POST", ":scheme", "http", ":path", "/a.B/C", "content-type", "application/grpc")}))
		// In two DATA frames: reassembled, the message is a data source
		// of its own, which tshark -x prints without a tree too.
		msg := grpcPrefixed(false, []byte("\x0a\x05hello\x10\x07"))
		must(c.fr.WriteData(1, false, msg[:6]))
		must(c.fr.WriteData(1, false, msg[6:]))
		d := New(Options{})
		o := decodeInput(t, d, Input{Src: client, Dst: server, Data: append([]byte(http2.ClientPreface), c.take()...), NoTree: noTree})
		if got := o.values("gogrpc.message_length"); !slices.Equal(got, []any{int64(9)}) {
			t.Errorf("no tree %v: lengths %v", noTree, got)
		}
		if got := o.values("gogrpc.message_data"); len(got) != 1 {
			t.Errorf("no tree %v: message data %v, want the reassembled message", noTree, got)
		}
		strs, ints := o.values("gogrpc.pb.string"), o.values("gogrpc.pb.int")
		if noTree != (len(strs) == 0 && len(ints) == 0) || (!noTree && !slices.Equal(strs, []any{"hello"})) {
			t.Errorf("no tree %v: strings %v, integers %v", noTree, strs, ints)
		}
		if x := o.experts(); len(x) != 0 {
			t.Errorf("no tree %v: experts %q", noTree, x)
		}
	}
}
