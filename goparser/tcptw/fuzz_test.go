package tcptw

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// frames splits fuzz input into frames: each is a length octet and that
// many octets (or what is left).
func frames(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		n = min(n, len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// seedFrames packs the first frames of a TIME_WAIT capture as frames()
// reads them (frames longer than 255 octets are cut, as snap lengths do).
func seedFrames(f *testing.F, name string, max int) []byte {
	frames, _, err := testpcaps.Frames(name, max)
	if err != nil {
		f.Fatal(err)
	}
	var out []byte
	for _, data := range frames {
		data = data[:min(len(data), 255)]
		out = append(append(out, byte(len(data))), data...)
	}
	return out
}

// FuzzDissector feeds arbitrary frames of every link type through the
// Wireshark front end and the engine. Invariants: every item lies inside
// its frame, tracked connections stay under the limit, counts never go
// negative, and the same frames give the same report.
func FuzzDissector(f *testing.F) {
	f.Add(seedFrames(f, "tw_client_closes.pcap", 40), uint8(0), uint8(3))
	f.Add(seedFrames(f, "tw_tuple_reuse.pcap", 60), uint8(0), uint8(200))
	f.Add(seedFrames(f, "tw_syn_retries.pcap", 20), uint8(0), uint8(255))
	f.Add(seedFrames(f, "tw_h2c_idle_timeout.pcap", 40), uint8(0), uint8(3))
	f.Add(seedFrames(f, "tw_tls_h2_curl.pcap", 40), uint8(0), uint8(3))
	f.Add(seedFrames(f, "tw_tls_handshake_failed.pcap", 40), uint8(0), uint8(3))
	f.Add([]byte{}, uint8(5), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, link, step uint8) {
		run := func() string {
			cfg := Config{TimeWait: 2 * time.Second, MaxConns: 8}
			d := NewDissector(cfg)
			ts := time.Unix(1_700_000_000, 0)
			var e result.Encoder
			for _, fr := range frames(data) {
				ts = ts.Add(time.Duration(step) * 10 * time.Millisecond)
				// The ports Wireshark would report, from any link type.
				var sp, dp uint16
				for i := range linkTypes {
					lt := linkTypes[(int(link)+i)%len(linkTypes)]
					var s tcpdecode.Segment
					if d.dec.Decode(lt, fr, &s) == nil {
						sp, dp = s.Src.Port(), s.Dst.Port()
						break
					}
				}
				e.Reset()
				kept := d.Frame(ts, sp, dp, fr, &e, true)
				b, err := e.Bytes()
				if err != nil {
					t.Fatalf("encoding: %v", err)
				}
				v, rest, err := result.Decode(b)
				if err != nil || len(rest) != 0 {
					t.Fatalf("result does not decode: %v (%d octets left)", err, len(rest))
				}
				checkRanges(t, v.([]any)[1].([]any), len(fr))
				checkKept(t, d, kept, b)
				if n := d.Engine.conns.len(); n > cfg.MaxConns {
					t.Fatalf("%d connections tracked, limit %d", n, cfg.MaxConns)
				}
				for a, h := range d.Engine.hosts {
					if h.count < 0 {
						t.Fatalf("host %v: TIME_WAIT count %d", a, h.count)
					}
				}
			}
			d.Engine.Advance(ts.Add(time.Minute))
			var buf bytes.Buffer
			d.Engine.Report(true).WriteText(&buf)
			return buf.String()
		}
		if a, b := run(), run(); a != b {
			t.Fatalf("the same frames gave different reports:\n%s\n---\n%s", a, b)
		}
	})
}

// checkKept checks that a later pass renders the kept verdict as the
// first pass did, and that without items it gives the same expert infos,
// as items on the caller's item.
func checkKept(t *testing.T, d *Dissector, kept, first []byte) {
	t.Helper()
	var e result.Encoder
	if err := d.Render(kept, &e, true); err != nil {
		t.Fatalf("kept verdict %x: %v", kept, err)
	}
	if b, _ := e.Bytes(); !bytes.Equal(b, first) {
		t.Fatalf("rendered from the kept verdict %x:\n%x\nfirst pass:\n%x", kept, b, first)
	}
	e.Reset()
	if err := d.Render(kept, &e, false); err != nil {
		t.Fatalf("kept verdict %x without items: %v", kept, err)
	}
	b, _ := e.Bytes()
	full, _, _ := result.Decode(first)
	bare, _, err := result.Decode(b)
	if err != nil {
		t.Fatalf("result without items does not decode: %v", err)
	}
	fr, br := full.([]any), bare.([]any)
	if !reflect.DeepEqual(fr[0], br[0]) || !reflect.DeepEqual(fr[2], br[2]) {
		t.Fatalf("without items: status or experts differ:\n%v\n%v", br, fr)
	}
	var xs []any
	for _, x := range fr[2].([]any) {
		p := x.([]any)
		xs = append(xs, []any{-p[0].(int64) - 1, int64(0), int64(0), nil, p[1], int64(0)})
	}
	if items := br[1].([]any); !reflect.DeepEqual(items, xs) && (len(items) > 0 || len(xs) > 0) {
		t.Fatalf("without items: items %v, want the expert infos %v", items, xs)
	}
}

// checkRanges walks items {field, offset, length, value, text, flags
// [, children]} and fails when one reaches outside the frame.
func checkRanges(t *testing.T, items []any, size int) {
	t.Helper()
	for _, it := range items {
		x := it.([]any)
		off, n := toInt(x[1]), toInt(x[2])
		if toInt(x[0]) >= 0 && (off < 0 || n < 0 || off+n > size) {
			t.Fatalf("item %v: range %d+%d outside a frame of %d octets", x[0], off, n, size)
		}
		if len(x) > 6 {
			checkRanges(t, x[6].([]any), size)
		}
	}
}

func toInt(v any) int {
	switch v := v.(type) {
	case int64:
		return int(v)
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}
