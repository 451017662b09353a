package tcptw

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

func TestKeptVerdictRoundTrip(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 123456789)
	for _, v := range []Verdict{
		{Population: -1, FinToSyn: -1},
		{Conn: 1 << 40, FromClient: true, RolesKnown: true, Closer: CloserBoth,
			Holder: netip.MustParseAddrPort("10.0.0.1:80"), Holder2: netip.MustParseAddrPort("[2001:db8::1]:43210"),
			TWStart: t0, TWUntil: t0.Add(time.Minute), TWActive: true, TWStarted: true, TWRestarted: true, Assassinated: true,
			Population: 65000, Population2: 3, SynRetry: 3, Duration: 1500 * time.Millisecond, Requests: 1, FinToSyn: -1,
			PortsInUse: 28000, PortRange: 28232, Evicted: 7,
			Reuse: &Reuse{Since: 59 * time.Second, Accepted: true, Holder: netip.MustParseAddrPort("[fe80::1%eth0]:8080")}},
		{Closer: CloserRST, Reuse: &Reuse{Holder: netip.MustParseAddrPort("192.0.2.1:1")}, FinToSyn: 5 * time.Millisecond},
	} {
		b := appendVerdict(nil, &v)
		var got Verdict
		var r Reuse
		if err := readVerdict(b, &got, &r); err != nil {
			t.Fatalf("%+v: %v", v, err)
		}
		// Times come back as the same instant, not the same time.Time.
		if !got.TWStart.Equal(v.TWStart) || !got.TWUntil.Equal(v.TWUntil) {
			t.Fatalf("times: got %v, %v, want %v, %v", got.TWStart, got.TWUntil, v.TWStart, v.TWUntil)
		}
		got.TWStart, got.TWUntil = v.TWStart, v.TWUntil
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("round trip of %x:\n got %+v\nwant %+v", b, got, v)
		}
		for i := range b {
			if err := readVerdict(b[:i], &got, &r); err == nil {
				t.Fatalf("%x cut to %d octets decodes", b, i)
			}
		}
	}
}

// TestKeptVerdictOnCaptures: on real TIME_WAIT captures, every frame's
// kept verdict renders as its first pass did, with and without items
// (checkKept), and the captures do reach the verdicts with expert infos.
func TestKeptVerdictOnCaptures(t *testing.T) {
	experts, reuse := 0, 0
	for _, name := range []string{"tw_client_closes.pcap", "tw_server_closes.pcap", "tw_tuple_reuse.pcap",
		"tw_reuse_refused.pcap", "tw_linger0.pcap", "tw_syn_retries.pcap", "tw_healthz_storm.pcap"} {
		frames, lt, err := testpcaps.Frames(name, 0)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDissector(Config{})
		ts := time.Unix(1_700_000_000, 0)
		var e result.Encoder
		for _, fr := range frames {
			ts = ts.Add(10 * time.Millisecond)
			var s tcpdecode.Segment
			if err := d.dec.Decode(lt, fr, &s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			e.Reset()
			kept := d.Frame(ts, s.Src.Port(), s.Dst.Port(), fr, &e, true)
			b, _ := e.Bytes()
			checkKept(t, d, kept, b)
			v, _, _ := result.Decode(b)
			experts += len(v.([]any)[2].([]any))
			var got Verdict
			var r Reuse
			if readVerdict(kept, &got, &r) == nil && got.Reuse != nil {
				reuse++
			}
		}
	}
	if experts == 0 || reuse == 0 {
		t.Fatalf("%d expert infos and %d reuse verdicts: the captures no longer exercise the kept form", experts, reuse)
	}
	t.Logf("%d expert infos, %d reuse verdicts", experts, reuse)
}
