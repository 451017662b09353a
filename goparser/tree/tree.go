// Package tree writes Wireshark tree items into a result.Encoder.
//
// Each item is a result item (result.Item), which decodes as
//
//	{field, offset, length, value, text, flags [, {child…}]}
//
// where value nil means "let Wireshark read the value from the bytes" and
// text, when present, is appended to the item's label (or replaces it with
// FlagReplaceText). An expert info is an item whose field is -(expert+1);
// it applies to the enclosing item and its text is the message.
package tree

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
)

// Flags modify how an item is shown.
type Flags int

const (
	FlagGenerated   Flags = 1 << iota // value computed, not on the wire: shown in [brackets]
	FlagHidden                        // filterable but not displayed
	FlagReplaceText                   // text replaces the label instead of being appended
	FlagTime                          // the value is nanoseconds (since the epoch for an absolute time): Time, Duration
	// FlagDataSource: the value's bytes become a new data source (a tab
	// beside the frame's bytes) named by text; the item covers all of it
	// and its children's ranges are offsets into it.
	FlagDataSource
)

// Kind tells which variant a Value holds.
type Kind uint8

const (
	KindNone Kind = iota // read the value from the packet bytes
	KindInt
	KindString
	KindBytes
	KindFloat
	KindBool
	KindRef // a string that Wireshark has the octets of: B, at I>>1 of base I&1 (At)
)

// Value is the explicit value of an item, held without an interface so
// that building items does not allocate.
type Value struct {
	Kind Kind
	I    int64
	F    float64
	S    string
	B    []byte
}

// FromBytes is the zero Value: Wireshark reads the field from the range.
var FromBytes = Value{}

func Int(v int64) Value     { return Value{Kind: KindInt, I: v} }
func Uint(v uint64) Value   { return Value{Kind: KindInt, I: int64(v)} }
func Str(s string) Value    { return Value{Kind: KindString, S: s} }
func Bytes(b []byte) Value  { return Value{Kind: KindBytes, B: b} }
func Float(f float64) Value { return Value{Kind: KindFloat, F: f} }

// At is the string b, found at off of the bytes that the item's range is
// in (result.RefRange) or of the last data source added before it
// (result.RefSource). Where those bytes hold the value (a protobuf string
// in a message), At saves carrying and keeping it a second time. (Base
// and offset share I: Value is copied for every item, and a field more
// made goh2's gRPC decoding measurably slower.)
func At(base result.RefBase, off int, b []byte) Value {
	return Value{Kind: KindRef, I: int64(off)<<1 | int64(base&1), B: b}
}

// Time and Duration are values for time fields, with FlagTime. They are
// whole nanoseconds: seconds in a float64 lose the nanoseconds of a date.
func Time(t time.Time) Value         { return Value{Kind: KindInt, I: t.UnixNano()} }
func Duration(d time.Duration) Value { return Value{Kind: KindInt, I: int64(d)} }

func Bool(b bool) Value {
	if b {
		return Value{Kind: KindBool, I: 1}
	}
	return Value{Kind: KindBool}
}

// Writer emits items. The zero Writer is unusable; set E.
type Writer struct {
	E *result.Encoder
	// X, when set, also collects every expert info, so that a caller can
	// report them when Wireshark keeps no tree.
	X *[]ExpertRecord
	// ExpertsOnly writes the expert infos alone, each as a top-level item
	// (on the caller's item): for a tree that neither shows nor filters on
	// the protocol's fields, where Wireshark would drop the items anyway
	// but still counts expert infos.
	ExpertsOnly bool
}

// ExpertRecord is one expert info written by a Writer.
type ExpertRecord struct {
	ID  schema.ExpertID
	Msg string
}

// EncodeExperts writes records as {{expert, message}, …}.
func EncodeExperts(e *result.Encoder, xs []ExpertRecord) {
	e.BeginArray()
	for _, x := range xs {
		e.BeginArray()
		e.Int(int64(x.ID))
		e.String(x.Msg)
		e.End()
	}
	e.End()
}

// Begin opens an item; children follow until End.
func (w Writer) Begin(f schema.FieldID, off, length int, v Value, text string, fl Flags) {
	if w.ExpertsOnly {
		return
	}
	var it result.Item
	head(&it, f, off, length, &v, fl)
	it.Text = text
	w.E.Item(&it, true)
}

// BeginBytes is Begin with the text in a byte slice, which the Writer
// copies: a decoder can build labels in one reused buffer, where Sprintf
// would allocate for every item.
func (w Writer) BeginBytes(f schema.FieldID, off, length int, v Value, text []byte, fl Flags) {
	if w.ExpertsOnly {
		return
	}
	var it result.Item
	head(&it, f, off, length, &v, fl)
	it.TextBytes = text
	w.E.Item(&it, true)
}

// head fills in all of an item but its text. Item and value go by
// pointer: copying either whole just after its fields were stored one by
// one stalls the CPU (the wide loads cannot take the narrow stores' data),
// and those copies took most of Add's 16% of Go's time in the gRPC
// benchmark.
func head(it *result.Item, f schema.FieldID, off, length int, v *Value, fl Flags) {
	it.Field, it.Offset, it.Length, it.Flags = int64(f), int64(off), int64(length), uint64(fl)
	switch v.Kind {
	case KindInt:
		it.Kind, it.Int = result.ItemInt, v.I
	case KindString, KindBytes: // one of S and B is empty
		it.Kind, it.Str, it.Bytes = result.ItemString, v.S, v.B
	case KindRef:
		it.Kind, it.Int, it.Bytes = result.ItemRef, v.I, v.B
	case KindFloat:
		it.Kind, it.Float = result.ItemFloat, v.F
	case KindBool:
		// Bool's I is 0 or 1, and ItemTrue follows ItemFalse: without a
		// branch, head stays within the compiler's inlining budget
		// (called for every item, it cost goh2 3% a packet when not
		// inlined).
		it.Kind = result.ItemFalse + result.ItemValueKind(v.I&1)
	}
}

// End closes the item opened last.
func (w Writer) End() {
	if w.ExpertsOnly {
		return
	}
	w.E.End()
}

// Add writes an item without children.
func (w Writer) Add(f schema.FieldID, off, length int, v Value, text string, fl Flags) {
	if w.ExpertsOnly {
		return
	}
	var it result.Item
	head(&it, f, off, length, &v, fl)
	it.Text = text
	w.E.Item(&it, false)
}

// Expert attaches an expert info to the enclosing item. Control
// characters in msg (a peer's grpc-message may hold a newline) are
// escaped: -z expert prints one line per message.
func (w Writer) Expert(x schema.ExpertID, msg string) {
	msg = ValidUTF8(escapeControls(msg))
	w.E.Item(&result.Item{Field: -(int64(x) + 1), Text: msg}, false)
	if w.X != nil {
		*w.X = append(*w.X, ExpertRecord{x, msg})
	}
}

// ValidUTF8 returns s with each octet that starts no valid UTF-8 sequence
// replaced by U+FFFD, as Wireshark's ENC_UTF_8 shows it; s itself,
// without allocating, when it is valid. Wireshark copies a string into
// its tree as it is given, and a peer's octets that are not UTF-8 (an
// HTTP/2 header value may hold any but NUL, CR and LF) make tshark's
// JSON, EK and PDML output unreadable: decoders pass the peers' strings
// through it where they decode them, once, rather than the Writer every
// item (which took 14% of goh2's time on gRPC).
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	// Ranging over a string yields U+FFFD for each such octet.
	b := make([]byte, 0, len(s)+8)
	for _, r := range s {
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// escapeControls writes C0 controls and DEL as Go escapes (\n, \x01),
// leaving msg as it is, without allocating, when it has none.
func escapeControls(msg string) string {
	i := 0
	for i < len(msg) && msg[i] >= 0x20 && msg[i] != 0x7f {
		i++
	}
	if i == len(msg) {
		return msg
	}
	b := []byte(msg[:i])
	for ; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c != 0x7f {
			b = append(b, c)
			continue
		}
		q := strconv.QuoteRune(rune(c)) // '\n', '\x01'
		b = append(b, q[1:len(q)-1]...)
	}
	return string(b)
}
