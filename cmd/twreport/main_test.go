package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// writePcap writes a capture of Ethernet frames, each cut to snap octets
// as a capture with that snap length would hold it.
func writePcap(t *testing.T, snap int, frames [][]gopacket.SerializableLayer) string {
	t.Helper()
	return writePcapFrom(t, snap, 0, frames)
}

// writePcapFrom is writePcap for frames that follow first others: the
// first frame's time is first milliseconds after writePcap's.
func writePcapFrom(t *testing.T, snap, first int, frames [][]gopacket.SerializableLayer) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "cap.pcap")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(uint32(snap), layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	for i, ls := range frames {
		b := serialized(t, ls)
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(first+i) * time.Millisecond), CaptureLength: min(len(b), snap), Length: len(b)}
		if err := w.WritePacket(ci, b[:ci.CaptureLength]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
}

// serialized is a frame's octets, with its lengths and checksums filled in.
func serialized(t *testing.T, ls []gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ipv4 returns Ethernet and IPv4 layers from 10.0.0.1 to 10.0.0.2, or
// back.
func ipv4(proto layers.IPProtocol, back bool) (*layers.Ethernet, *layers.IPv4) {
	eth := &layers.Ethernet{SrcMAC: make([]byte, 6), DstMAC: make([]byte, 6), EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: []byte{10, 0, 0, 1}, DstIP: []byte{10, 0, 0, 2}}
	if back {
		ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
	}
	return eth, ip
}

func udpFrames(n int) [][]gopacket.SerializableLayer {
	var out [][]gopacket.SerializableLayer
	for i := range n {
		eth, ip := ipv4(layers.IPProtocolUDP, false)
		udp := &layers.UDP{SrcPort: layers.UDPPort(40000 + i), DstPort: 53}
		_ = udp.SetNetworkLayerForChecksum(ip)
		out = append(out, []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload("query")})
	}
	return out
}

// report runs twreport over a capture and returns its JSON report
// decoded and its text report.
func report(t *testing.T, name string) (map[string]any, string) {
	t.Helper()
	var js, text, stderr bytes.Buffer
	if err := run([]string{"--json", name}, &js, &stderr); err != nil {
		t.Fatalf("--json: %v: %s", err, stderr.String())
	}
	if err := run([]string{name}, &text, &stderr); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var r map[string]any
	if err := json.Unmarshal(js.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r, text.String()
}

// TestNoTCPPackets: a capture without TCP has no span: start and end are
// null in the JSON, not the zero time's -6.8e9 seconds.
func TestNoTCPPackets(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frames [][]gopacket.SerializableLayer
	}{
		{"no packets", nil},
		{"UDP only", udpFrames(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, text := report(t, writePcap(t, 262144, tc.frames))
			sum := r["summary"].(map[string]any)
			for _, k := range []string{"start", "end"} {
				if v, ok := sum[k]; !ok || v != nil {
					t.Errorf("summary.%s = %v (present %v), want null", k, v, ok)
				}
			}
			if sum["seconds"] != 0.0 || sum["tcp_packets"] != 0.0 {
				t.Errorf("summary %v", sum)
			}
			if want := "\n  span 0.000 s, 0 TCP packets, 0 connections (0 complete, 0 partial), 0 open at the end\n"; !strings.Contains(text, want) {
				t.Errorf("text report:\n%s\nwant the line%s", text, want)
			}
		})
	}
}

// closedConns returns n connections that the client closes, its SYN and
// the SYN-ACK with Linux's options (40 octets of TCP header), the other
// segments with timestamps (32).
func closedConns(n int) [][]gopacket.SerializableLayer {
	ts := func(v uint32) layers.TCPOption {
		return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, byte(v), 0, 0, 0, 1}}
	}
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	synOpts := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{5, 180}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		ts(1), nop,
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
	var out [][]gopacket.SerializableLayer
	for i := range n {
		cs, ss := uint32(1000*i), uint32(500000+1000*i)
		for _, g := range []struct {
			back          bool
			syn, ack, fin bool
			seq, ackNo    uint32
		}{
			{false, true, false, false, cs, 0},
			{true, true, true, false, ss, cs + 1},
			{false, false, true, false, cs + 1, ss + 1},
			{false, false, true, true, cs + 1, ss + 1},
			{true, false, true, true, ss + 1, cs + 2},
			{false, false, true, false, cs + 2, ss + 2},
		} {
			eth, ip := ipv4(layers.IPProtocolTCP, g.back)
			tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + i), DstPort: 8080, Seq: g.seq, Ack: g.ackNo,
				SYN: g.syn, ACK: g.ack, FIN: g.fin, Window: 502, Options: []layers.TCPOption{nop, nop, ts(2)}}
			if g.back {
				tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
			}
			if g.syn {
				tcp.Options = synOpts
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			out = append(out, []gopacket.SerializableLayer{eth, ip, tcp})
		}
	}
	return out
}

// TestSnapLength: a capture whose snap length cuts the TCP options gives
// the report of the whole frames (the fixed header holds what the engine
// needs); one that cuts the fixed header gives a warning that counts
// those frames and blames the snap length, in the text and the JSON.
func TestSnapLength(t *testing.T) {
	frames := closedConns(12)
	whole, _ := report(t, writePcap(t, 262144, frames))
	if n := whole["summary"].(map[string]any)["time_wait_sockets"]; n != 12.0 {
		t.Fatalf("the whole capture: %v TIME_WAIT sockets, want 12", n)
	}
	for _, tc := range []struct {
		snap  int
		short float64
	}{
		{66, 0}, // the SYNs' options cut
		{54, 0}, // every segment's options cut
		{53, 72},
		{40, 72},
	} {
		t.Run(fmt.Sprint(tc.snap), func(t *testing.T) {
			r, text := report(t, writePcap(t, tc.snap, frames))
			sum := r["summary"].(map[string]any)
			warnings := r["warnings"].([]any)
			if tc.short == 0 {
				if !reflect.DeepEqual(r, whole) {
					t.Fatalf("cut at %d:\n%v\nwhole:\n%v", tc.snap, r, whole)
				}
				if len(warnings) != 0 || strings.Contains(text, "Warnings") {
					t.Fatalf("warnings %v, text:\n%s", warnings, text)
				}
				return
			}
			if sum["tcp_frames_too_short"] != tc.short || sum["tcp_packets"] != 0.0 {
				t.Fatalf("summary %v", sum)
			}
			want := fmt.Sprintf("%.0f TCP frames were too short to use and are left out: the capture's snap length", tc.short)
			if len(warnings) != 1 || !strings.HasPrefix(warnings[0].(string), want) {
				t.Fatalf("warnings %q, want one beginning %q", warnings, want)
			}
			if !strings.Contains(text, "\nWarnings\n  - "+want) {
				t.Fatalf("text report:\n%s\nwant a warning beginning %q", text, want)
			}
		})
	}
}

// TestFilesInTimeOrder: the files of a rotating capture, named in an
// order other than their time's (a shell sorts "cap", "cap1", "cap10",
// "cap2"), give the report of the files in time order; files that
// overlap in time are read as given, with a warning.
func TestFilesInTimeOrder(t *testing.T) {
	frames := closedConns(30) // 180 frames, 1 ms apart; the cuts fall inside connections
	a := writePcapFrom(t, 262144, 0, frames[:63])
	b := writePcapFrom(t, 262144, 63, frames[63:123])
	c := writePcapFrom(t, 262144, 123, frames[123:])
	var want, stderr bytes.Buffer
	if err := run([]string{"--json", a, b, c}, &want, &stderr); err != nil || stderr.Len() > 0 {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	for _, order := range [][]string{{c, a, b}, {a, c, b}, {b, a, c}} {
		var got bytes.Buffer
		if err := run(append([]string{"--json"}, order...), &got, &stderr); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() || stderr.Len() > 0 {
			t.Errorf("files in the order %q:\n%s\nstderr %q\nwant\n%s", order, got.String(), stderr.String(), want.String())
		}
	}
	var got bytes.Buffer
	if err := run([]string{a, a}, &got, &stderr); err != nil {
		t.Fatal(err)
	}
	if w := "begins 0.062 s before the end of the files read before it: files that overlap in time are read one after the other, not merged"; !strings.Contains(stderr.String(), w) {
		t.Errorf("stderr %q, want %q", stderr.String(), w)
	}
}

// TestFilesFromPipes: a pipe (twreport <(zcat a.pcap.gz) b.pcap) cannot
// be read twice, to find its first packet's time and then its packets:
// with one among them, the files are read in the order given, whole.
func TestFilesFromPipes(t *testing.T) {
	frames := closedConns(30)
	a := writePcapFrom(t, 262144, 0, frames[:63])
	b := writePcapFrom(t, 262144, 63, frames[63:])
	var want, stderr bytes.Buffer
	if err := run([]string{"--json", a, b}, &want, &stderr); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "a.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		// Blocks until twreport opens the pipe; a second open would wait
		// for a writer that never comes.
		data, err := os.ReadFile(a)
		if err == nil {
			err = os.WriteFile(fifo, data, 0o600)
		}
		if err != nil {
			t.Error(err)
		}
	}()
	var got bytes.Buffer
	if err := run([]string{"--json", fifo, b}, &got, &stderr); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Errorf("from a pipe:\n%s\nwant\n%s", got.String(), want.String())
	}
}
