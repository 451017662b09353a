package gogrpc

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// FuzzTypedMessage decodes arbitrary bytes as the health service's
// messages, with the schema and raw. Invariants: no panic, the result
// encodes and decodes, gogrpc.json is valid JSON, the item budget holds,
// and the same bytes give the same result.
func FuzzTypedMessage(f *testing.F) {
	reg, err := pbschema.Load([]string{filepath.Join("..", "..", "testpcaps", "grpc_health.pb")})
	if err != nil {
		f.Fatal(err)
	}
	svc := protowire.AppendTag(nil, 1, protowire.BytesType)
	f.Add(protowire.AppendString(svc, "demo.Greeter"), true)
	st := protowire.AppendTag(nil, 1, protowire.VarintType)
	f.Add(protowire.AppendVarint(st, 2), false)
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10}, true)
	f.Fuzz(func(t *testing.T, payload []byte, request bool) {
		run := func() []byte {
			var e result.Encoder
			var xs []tree.ExpertRecord
			w := tree.Writer{E: &e, X: &xs}
			e.BeginArray()
			if !writeTyped(w, 0, len(payload), payload, "/grpc.health.v1.Health/Check", request, reg, 64) && len(payload) > 0 {
				if fields, ok := grpcmsg.DecodeRaw(payload, 0); ok {
					writeFields(w, 0, len(payload), fields, fieldBytes{ok: true, base: result.RefRange}, 0)
				}
			}
			e.End()
			b, err := e.Bytes()
			if err != nil {
				t.Fatalf("encoding: %v", err)
			}
			return b
		}
		b := run()
		v, rest, err := result.Decode(b)
		if err != nil || len(rest) != 0 {
			t.Fatalf("result does not decode: %v", err)
		}
		items := v.([]any)
		if len(items) > maxTypedItems+2 {
			t.Fatalf("%d items, budget %d", len(items), maxTypedItems)
		}
		var walk func([]any)
		walk = func(items []any) {
			for _, it := range items {
				x := it.([]any)
				if x[0] == int64(fJSON) && !json.Valid([]byte(x[3].(string))) {
					t.Fatalf("gogrpc.json is not JSON: %q", x[3])
				}
				// A string shown from the message's octets is one of them.
				if r, ok := x[3].(result.Ref); ok && (r.Base != result.RefRange || r.Off < 0 || r.Len < 0 ||
					r.Off+r.Len > int64(len(payload)) || !utf8.Valid(payload[r.Off:r.Off+r.Len])) {
					t.Fatalf("string at %+v of a %d-octet message", r, len(payload))
				}
				if len(x) > 6 {
					walk(x[6].([]any))
				}
			}
		}
		walk(items)
		if string(run()) != string(b) {
			t.Fatal("the same message gave different results")
		}
	})
}

// TestTypedFieldOrder: a message's fields come out in field-number order
// on every run (a dynamic message's Range order is random), so that
// tshark -2 shows what one pass shows.
func TestTypedFieldOrder(t *testing.T) {
	reg, err := pbschema.Load([]string{filepath.Join("..", "..", "testpcaps", "grpc_health.pb")})
	if err != nil {
		t.Fatal(err)
	}
	// A HealthReport with its fields on the wire in reverse order.
	msg := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "disk full")
	msg = protowire.AppendVarint(protowire.AppendTag(msg, 2, protowire.VarintType), 2)
	msg = protowire.AppendString(protowire.AppendTag(msg, 1, protowire.BytesType), "db")
	var first []byte
	for i := 0; i < 30; i++ {
		var e result.Encoder
		e.BeginArray()
		if !writeTyped(tree.Writer{E: &e}, 0, len(msg), msg, "/testpcaps.v1.HealthBatch/Report", true, reg, 64) {
			t.Fatal("no type for the method")
		}
		e.End()
		b, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
			s := string(b)
			i1, i2, i3 := strings.Index(s, "service: "), strings.Index(s, "status: "), strings.Index(s, "detail: ")
			if i1 < 0 || i2 < i1 || i3 < i2 {
				t.Fatalf("fields not in number order (service %d, status %d, detail %d)", i1, i2, i3)
			}
		} else if !bytes.Equal(b, first) {
			t.Fatalf("run %d gave another result", i)
		}
	}
}
