package h2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

const (
	client = "10.0.0.1 40000"
	server = "10.0.0.2 80"
)

// out is one decoded Decode result.
type out struct {
	status   Status
	consumed int
	need     int
	info     string
	pdus     []any
}

// item is a flattened tree item.
type item struct {
	abbrev string
	off, n int
	value  any
	text   string
	depth  int
}

func decodeOnce(t testing.TB, d *Decoder, from, to string, data []byte, heuristic bool) out {
	t.Helper()
	return decodeInput(t, d, Input{Src: from, Dst: to, Data: data, Heuristic: heuristic})
}

func decodeInput(t testing.TB, d *Decoder, in Input) out {
	t.Helper()
	data := in.Data
	var e result.Encoder
	st := d.Decode(in, &e)
	b, err := e.Bytes()
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	v, rest, err := result.Decode(b)
	if err != nil || len(rest) != 0 {
		t.Fatalf("result.Decode: %v (%d left)", err, len(rest))
	}
	a := v.([]any)
	o := out{status: Status(a[0].(int64)), consumed: int(a[1].(int64)), need: int(a[2].(int64)), pdus: a[3].([]any)}
	if s, ok := a[4].(string); ok {
		o.info = s
	}
	if o.status != st {
		t.Fatalf("status %v in result, %v returned", o.status, st)
	}
	checkInvariants(t, o, len(data))
	resolveRefs(t, o.pdus, data)
	checkUTF8(t, o)
	return o
}

// checkUTF8 holds for every result: the Info column, labels, expert
// messages and string values are UTF-8, which tshark's JSON, EK and PDML
// output need, whatever octets the peers sent.
func checkUTF8(t testing.TB, o out) {
	t.Helper()
	if !utf8.ValidString(o.info) {
		t.Fatalf("Info column %q is not UTF-8", o.info)
	}
	var walk func(items []any)
	walk = func(items []any) {
		for _, it := range items {
			a := it.([]any)
			f := a[0].(int64)
			if s, ok := a[4].(string); ok && !utf8.ValidString(s) {
				t.Fatalf("text %q of item %d is not UTF-8", s, f)
			}
			if s, ok := a[3].(string); ok && f >= 0 && schema.Lookup(schema.FieldID(f)).Type == schema.String && !utf8.ValidString(s) {
				t.Fatalf("%s %q is not UTF-8", schema.Lookup(schema.FieldID(f)).Abbrev, s)
			}
			if len(a) > 6 {
				walk(a[6].([]any))
			}
		}
	}
	walk(o.pdus)
}

// resolveRefs replaces each string that a result gives by reference
// (result.Ref) with its octets, as the renderer does: from the input, or
// from the last data source before it, which must hold them.
func resolveRefs(t testing.TB, items []any, data []byte) {
	t.Helper()
	var source []byte
	var walk func(items []any)
	walk = func(items []any) {
		for _, it := range items {
			a := it.([]any)
			if a[5].(int64)&int64(tree.FlagDataSource) != 0 {
				source = []byte(a[3].(string))
			}
			if r, ok := a[3].(result.Ref); ok {
				in := data
				if r.Base == result.RefSource {
					in = source
				}
				if in == nil || r.Off < 0 || r.Len < 0 || r.Off+r.Len > int64(len(in)) {
					t.Fatalf("a string of %d octets at %d of %d (base %d)", r.Len, r.Off, len(in), r.Base)
				}
				a[3] = string(in[r.Off : r.Off+r.Len])
			}
			if len(a) > 6 {
				walk(a[6].([]any))
			}
		}
	}
	walk(items)
}

// checkInvariants holds for every result: ranges lie inside the input,
// field and expert ids exist, and the consumed/need pair is consistent.
func checkInvariants(t testing.TB, o out, n int) {
	t.Helper()
	if o.consumed < 0 || o.consumed > n {
		t.Fatalf("consumed %d of %d octets", o.consumed, n)
	}
	if o.need < NeedOneMoreSegment || (o.need != 0 && o.consumed == n && n > 0 && o.need > frameHeaderLen+int(DefaultOptions().MaxFrameLen)) {
		t.Fatalf("need %d", o.need)
	}
	var walk func(items []any)
	walk = func(items []any) {
		for _, it := range items {
			a := it.([]any)
			f := a[0].(int64)
			if f < 0 {
				_ = schema.LookupExpert(schema.ExpertID(-f - 1))
				continue
			}
			_ = schema.Lookup(schema.FieldID(f))
			off, ln := a[1].(int64), a[2].(int64)
			if off < 0 || ln < 0 || off+ln > int64(n) {
				t.Fatalf("item %s range %d+%d outside %d octets", schema.Lookup(schema.FieldID(f)).Abbrev, off, ln, n)
			}
			if len(a) > 6 {
				walk(a[6].([]any))
			}
		}
	}
	walk(o.pdus)
}

func flatten(items []any, depth int, dst *[]item) {
	for _, it := range items {
		a := it.([]any)
		f := a[0].(int64)
		var text string
		if s, ok := a[4].(string); ok {
			text = s
		}
		if f < 0 {
			*dst = append(*dst, item{abbrev: "expert:" + schema.LookupExpert(schema.ExpertID(-f-1)).Abbrev, text: text, depth: depth})
			continue
		}
		*dst = append(*dst, item{abbrev: schema.Lookup(schema.FieldID(f)).Abbrev, off: int(a[1].(int64)), n: int(a[2].(int64)), value: a[3], text: text, depth: depth})
		if len(a) > 6 {
			flatten(a[6].([]any), depth+1, dst)
		}
	}
}

func (o out) items() []item {
	var all []item
	flatten(o.pdus, 0, &all)
	return all
}

// experts lists "abbrev: message" for every expert info.
func (o out) experts() []string {
	var s []string
	for _, it := range o.items() {
		if strings.HasPrefix(it.abbrev, "expert:") {
			s = append(s, strings.TrimPrefix(it.abbrev, "expert:")+": "+it.text)
		}
	}
	return s
}

// values lists the explicit values of a field.
func (o out) values(abbrev string) []any {
	var v []any
	for _, it := range o.items() {
		if it.abbrev == abbrev {
			v = append(v, it.value)
		}
	}
	return v
}

func (o out) hasExpert(abbrev, substr string) bool {
	for _, e := range o.experts() {
		if strings.HasPrefix(e, abbrev+": ") && strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// peer writes frames the way a Go peer does, with its own HPACK encoder.
type peer struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newPeer() *peer {
	p := &peer{}
	p.fr = http2.NewFramer(&p.buf, nil)
	p.enc = hpack.NewEncoder(&p.hb)
	return p
}

// take returns and clears what was written.
func (p *peer) take() []byte {
	b := append([]byte(nil), p.buf.Bytes()...)
	p.buf.Reset()
	return b
}

func (p *peer) block(fields ...string) []byte {
	p.hb.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		if err := p.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			panic(err)
		}
	}
	return append([]byte(nil), p.hb.Bytes()...)
}

// started returns a decoder that has seen the preface and both SETTINGS
// exchanges of a connection, with the client and server peers.
func started(t *testing.T) (*Decoder, *peer, *peer) {
	t.Helper()
	d := New(Options{})
	c, s := newPeer(), newPeer()
	c.buf.WriteString(http2.ClientPreface)
	must(c.fr.WriteSettings())
	decodeOnce(t, d, client, server, c.take(), true)
	must(s.fr.WriteSettings())
	must(s.fr.WriteSettingsAck())
	decodeOnce(t, d, server, client, s.take(), false)
	must(c.fr.WriteSettingsAck())
	decodeOnce(t, d, client, server, c.take(), false)
	return d, c, s
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprint("writing a frame: ", err))
	}
}

// raw builds a frame header and payload by hand, for frames the Framer
// refuses to write.
func raw(typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	n := len(payload)
	b := []byte{byte(n >> 16), byte(n >> 8), byte(n), byte(typ), byte(flags),
		byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	return append(b, payload...)
}

func newResultPair() (*result.Encoder, *result.Encoder) {
	return new(result.Encoder), new(result.Encoder)
}

func mustBytes(t testing.TB, e *result.Encoder) []byte {
	t.Helper()
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
