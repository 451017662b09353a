package result

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestEncodeExactBytes(t *testing.T) {
	tests := []struct {
		name  string
		write func(e *Encoder)
		want  []byte
	}{
		{"nil", func(e *Encoder) { e.Nil() }, []byte{0x00}},
		{"uint8", func(e *Encoder) { e.Int(200) }, []byte{0x09, 200}},
		{"uint16", func(e *Encoder) { e.Int(0x1234) }, []byte{0x0a, 0x34, 0x12}},
		{"bools", func(e *Encoder) { e.BeginArray(); e.Bool(false); e.Bool(true); e.End() },
			[]byte{0x07, 2, 0, 0, 0, 0x01, 0x02}},
		{"int32", func(e *Encoder) { e.Int(-2) }, []byte{0x03, 0xfe, 0xff, 0xff, 0xff}},
		{"int32 above uint16", func(e *Encoder) { e.Int(65536) }, []byte{0x03, 0, 0, 1, 0}},
		{"int64", func(e *Encoder) { e.Int(1 << 40) }, []byte{0x04, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"float", func(e *Encoder) { e.Float(1) }, []byte{0x05, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"string", func(e *Encoder) { e.String("hi") }, []byte{0x06, 2, 0, 0, 0, 'h', 'i'}},
		{"map", func(e *Encoder) { e.BeginMap(); e.String("k"); e.Int(1); e.End() },
			[]byte{0x08, 1, 0, 0, 0, 0x06, 1, 0, 0, 0, 'k', 0x09, 1}},
		{"nested counts", func(e *Encoder) {
			e.BeginArray()
			e.BeginArray()
			e.Nil()
			e.End()
			e.Nil()
			e.End()
		}, []byte{0x07, 2, 0, 0, 0, 0x07, 1, 0, 0, 0, 0x00, 0x00}},
		{"slot", func(e *Encoder) { s := e.IntSlot(); e.PatchInt(s, 7) }, []byte{0x04, 7, 0, 0, 0, 0, 0, 0, 0}},
		// Items: tag, bits, zigzag field, uvarint offset, length and flags, value, text, children.
		{"item", func(e *Encoder) { e.Item(&Item{Field: 3, Offset: 1, Length: 2}, false) },
			[]byte{0x0b, 0x00, 6, 1, 2, 0}},
		{"expert item", func(e *Encoder) { e.Item(&Item{Field: -1, Text: "m"}, false) },
			[]byte{0x0b, 0x08, 1, 0, 0, 0, 1, 'm'}},
		{"int item", func(e *Encoder) {
			e.Item(&Item{Field: 1, Offset: 200, Flags: 3, Kind: ItemInt, Int: -2}, false)
		}, []byte{0x0b, 0x03, 2, 0xc8, 0x01, 0, 3, 3}},
		{"ref item", func(e *Encoder) {
			e.Item(&Item{Field: 1, Offset: 5, Length: 300, Kind: ItemRef, Int: 200<<1 | int64(RefSource), Bytes: []byte("abc")}, false)
		}, []byte{0x0b, 0x06, 2, 5, 0xac, 0x02, 0, 1, 0xc8, 0x01, 3}},
		{"float item", func(e *Encoder) { e.Item(&Item{Kind: ItemFloat, Float: 1}, false) },
			[]byte{0x0b, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}},
		{"item with children", func(e *Encoder) {
			e.BeginArray()
			e.Item(&Item{Field: 2, Kind: ItemString, Bytes: []byte("ab"), TextBytes: []byte("t")}, true)
			e.Item(&Item{Kind: ItemTrue}, false)
			e.Item(&Item{Kind: ItemString}, false) // an empty string, not nil
			e.End()
			e.Nil()
			e.End()
		}, []byte{0x07, 2, 0, 0, 0, 0x0b, 0x1d, 4, 0, 0, 0, 2, 'a', 'b', 1, 't', 2, 0, 0, 0,
			0x0b, 0x02, 0, 0, 0, 0, 0x0b, 0x05, 0, 0, 0, 0, 0, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Encoder
			tt.write(&e)
			got, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("got % x, want % x", got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	var e Encoder
	e.BeginArray()
	e.Int(math.MaxInt64)
	e.Int(math.MinInt32)
	e.String("")
	e.BytesValue([]byte{0, 1, 2})
	e.BeginMap()
	e.String("a")
	e.Bool(true)
	e.End()
	e.End()
	v, _ := decodeWhole(t, &e)
	want := []any{int64(math.MaxInt64), int64(math.MinInt32), "", "\x00\x01\x02", map[any]any{"a": true}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v, want %#v", v, want)
	}
}

// decodeWhole decodes what e holds, which must be one whole value, and
// returns it with its octets.
func decodeWhole(t *testing.T, e *Encoder) (any, []byte) {
	t.Helper()
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	v, rest, err := Decode(b)
	if err != nil || len(rest) != 0 {
		t.Fatalf("Decode: %v, %d octets left", err, len(rest))
	}
	return v, b
}

// TestItemDecodes: an item decodes to the array that items were before
// they had a form of their own, and damaged ones are errors.
func TestItemDecodes(t *testing.T) {
	var e Encoder
	e.Item(&Item{Field: -3, Offset: 70000, Length: 5, Flags: 9, Kind: ItemString, Str: "v", Text: "text"}, true)
	e.Item(&Item{Field: 4, Kind: ItemInt, Int: math.MinInt64}, false)
	e.Item(&Item{Field: 5, Kind: ItemFalse, TextBytes: []byte("x")}, false)
	e.Item(&Item{Field: 6, Kind: ItemRef, Int: 1 << 41, Bytes: make([]byte, 7)}, false)
	e.End()
	v, b := decodeWhole(t, &e)
	want := []any{int64(-3), int64(70000), int64(5), "v", "text", int64(9), []any{
		[]any{int64(4), int64(0), int64(0), int64(math.MinInt64), nil, int64(0)},
		[]any{int64(5), int64(0), int64(0), false, "x", int64(0)},
		[]any{int64(6), int64(0), int64(0), Ref{RefRange, 1 << 40, 7}, nil, int64(0)},
	}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("got %#v, want %#v", v, want)
	}
	for n := 0; n < len(b); n++ {
		if _, _, err := Decode(b[:n]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d octets: err %v, want ErrTruncated", n, err)
		}
	}
	for _, bad := range [][]byte{
		{0x0b, 0x20, 0, 0, 0, 0},          // unknown bit
		{0x0b, 0x07, 0, 0, 0, 0},          // unknown value kind
		{0x0b, 0x06, 0, 0, 0, 0, 2, 0, 0}, // unknown ref base
		{0x0b, 0x00, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // flags above MaxInt64
		{0x0b, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0}, // field of 70 bits
	} {
		if _, _, err := Decode(bad); err == nil || errors.Is(err, ErrTruncated) {
			t.Errorf("% x: err %v, want a malformed item", bad, err)
		}
	}
}

func TestEncoderMisuse(t *testing.T) {
	var e Encoder
	e.BeginArray()
	if _, err := e.Bytes(); err == nil {
		t.Fatal("unclosed array accepted")
	}
	e.Reset()
	e.End()
	if _, err := e.Bytes(); err == nil {
		t.Fatal("End without Begin accepted")
	}
	e.Reset()
	e.BeginMap()
	e.String("key only")
	e.End()
	if _, err := e.Bytes(); err == nil {
		t.Fatal("map with a dangling key accepted")
	}
	e.Reset()
	for i := 0; i <= MaxDepth; i++ {
		e.BeginArray()
	}
	for i := 0; i <= MaxDepth; i++ {
		e.End()
	}
	if _, err := e.Bytes(); err == nil {
		t.Fatal("nesting beyond MaxDepth accepted")
	}
}

func TestDecodeRejectsTruncation(t *testing.T) {
	var e Encoder
	e.BeginArray()
	e.String("hello")
	e.Int(1 << 40)
	e.End()
	b, _ := e.Bytes()
	for n := 0; n < len(b); n++ {
		if _, _, err := Decode(b[:n]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("prefix of %d octets: err %v, want ErrTruncated", n, err)
		}
	}
	// An array that claims more elements than there are octets.
	if _, _, err := Decode([]byte{0x07, 0xff, 0xff, 0xff, 0xff}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("huge count: %v", err)
	}
	if _, _, err := Decode([]byte{0x42}); err == nil {
		t.Fatal("unknown tag accepted")
	}
}

// FuzzDecode: the C side's format never makes the decoder panic, and what
// decodes encodes back to the same octets.
func FuzzDecode(f *testing.F) {
	var e Encoder
	e.BeginArray()
	e.Int(0)
	e.String("x")
	e.BeginMap()
	e.String("k")
	e.Float(1.5)
	e.End()
	e.Nil()
	e.Bool(true)
	e.Int(1 << 40)
	e.Int(300)
	e.Item(&Item{Field: -1, Offset: 300, Kind: ItemString, Str: "v", Text: "t"}, true)
	e.Item(&Item{Kind: ItemFloat, Float: 2}, false)
	e.End()
	e.End()
	b, _ := e.Bytes()
	f.Add(b)
	f.Add([]byte{0x07, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, rest, err := Decode(b)
		if err != nil {
			return
		}
		var e Encoder
		if !encodeAny(&e, v) {
			return // maps decode to Go maps: their order is not kept
		}
		again, err := e.Bytes()
		if err != nil {
			t.Fatalf("re-encoding %v: %v", v, err)
		}
		// Compared as octets: NaN is not equal to itself.
		v2, _, err := Decode(again)
		var e2 Encoder
		encodeAny(&e2, v2)
		third, _ := e2.Bytes()
		if err != nil || !bytes.Equal(again, third) {
			t.Fatalf("round trip: %v then %v (%v)", v, v2, err)
		}
		_ = rest
	})
}

// encodeAny writes a decoded value back; false for values whose encoding
// is not unique (maps).
func encodeAny(e *Encoder, v any) bool {
	switch v := v.(type) {
	case nil:
		e.Nil()
	case bool:
		e.Bool(v)
	case int64:
		e.Int(v)
	case float64:
		e.Float(v)
	case string:
		e.String(v)
	case []byte:
		e.BytesValue(v)
	case []any:
		e.BeginArray()
		for _, x := range v {
			if !encodeAny(e, x) {
				return false
			}
		}
		e.End()
	default:
		return false
	}
	return true
}
