package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writePcapng writes frames as a pcapng file of one Ethernet interface
// whose statistics, written at the end as gotcpdump and dumpcap write
// them, count dropped packets (none written for pcapgo.NgNoValue64).
func writePcapng(t *testing.T, frames [][]gopacket.SerializableLayer, dropped uint64) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "cap.pcapng")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	for i, ls := range frames {
		b := serialized(t, ls)
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	if dropped != pcapgo.NgNoValue64 {
		end := start.Add(time.Second)
		if err := w.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{LastUpdate: end, StartTime: start, EndTime: end,
			PacketsReceived: uint64(len(frames)) + dropped, PacketsDropped: dropped}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestDroppedPackets: a pcapng file's interface statistics that count
// dropped packets give a warning, in the text and the JSON report, as
// the connections among them are missing.
func TestDroppedPackets(t *testing.T) {
	const warning = "The capture dropped 361 packets (its pcapng interface statistics"
	for _, tc := range []struct {
		name    string
		dropped uint64
		want    bool
	}{
		{"dropped", 361, true},
		{"none dropped", 0, false},
		{"no statistics", pcapgo.NgNoValue64, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, text := report(t, writePcapng(t, closedConns(3), tc.dropped))
			var js []string
			for _, w := range r["warnings"].([]any) {
				js = append(js, w.(string))
			}
			if got := strings.Contains(strings.Join(js, "\n"), warning); got != tc.want {
				t.Errorf("JSON warnings %q", js)
			}
			if got := strings.Contains(text, "Warnings\n  - "+warning); got != tc.want {
				t.Errorf("text report:\n%s", text)
			}
		})
	}
}

// TestTimeWaitSeconds: --tw-seconds out of range is refused, where NaN,
// a value that rounds to no nanosecond, or one that overflows a
// time.Duration left the default of 60 s without a word.
func TestTimeWaitSeconds(t *testing.T) {
	name := writePcap(t, 262144, closedConns(1))
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"60", true}, {"0.001", true}, {"86400", true}, {"0.5", true},
		{"0", false}, {"-5", false}, {"NaN", false}, {"1e-10", false}, {"1e10", false}, {"+Inf", false},
	} {
		var out, stderr bytes.Buffer
		err := run([]string{"--tw-seconds", tc.v, name}, &out, &stderr)
		if (err == nil) != tc.ok {
			t.Errorf("--tw-seconds %s: %v", tc.v, err)
		}
	}
}
