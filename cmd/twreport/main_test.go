package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: min(len(b), snap), Length: len(b)}
		if err := w.WritePacket(ci, b[:ci.CaptureLength]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return name
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
