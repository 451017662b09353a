package tests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestICMPErrorQuotingASegment: an ICMP error that quotes a TCP segment of
// an HTTP/2 connection (a port unreachable, a PMTU "fragmentation needed"
// quoting a data segment) hands the quoted payload to the connection's
// dissectors a second time, inside the ICMP frame. goh2 must leave it
// alone: decoded again, its HEADERS would enter the HPACK table twice, and
// its TCP sequence number would put the direction out of step, so that
// every later frame of it reads as out of order. The frames around the
// error must show what they show without it, on the C paths and on Lua's.
func TestICMPErrorQuotingASegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "icmp_error.pcap")
	writeWithICMPError(t, pcap("h2c_go.pcap"), file, 14, 10)
	fields := []string{"-Y", "!icmp", "-T", "fields", "-e", "goh2.type", "-e", "goh2.streamid",
		"-e", "goh2.header.value", "-e", "_ws.expert.message"}
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_DISSECTOR=1", "GOTCPDUMP_LUA_CONVERSATION=1")
	for _, env := range []struct {
		name string
		env  []string
	}{{"C", pluginEnv}, {"Lua", luaEnv}} {
		for _, two := range [][]string{nil, {"-2"}} {
			want := tshark(t, env.env, append(append([]string{"-r", pcap("h2c_go.pcap")}, two...), fields...)...)
			got := tshark(t, env.env, append(append([]string{"-r", file}, two...), fields...)...)
			if got != want {
				t.Errorf("%s %v: with an ICMP error quoting frame 10 after frame 14, the other frames differ:\n%s",
					env.name, two, firstDiff(got, want))
			}
		}
	}
}

// writeWithICMPError copies in to out, with an ICMP port unreachable after
// frame `after` that quotes the IPv4 packet of frame `quoted` (Ethernet).
func writeWithICMPError(t *testing.T, in, out string, after, quoted int) {
	t.Helper()
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	type pkt struct {
		ci   gopacket.CaptureInfo
		data []byte
	}
	var pkts []pkt
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkts = append(pkts, pkt{ci, data})
	}
	if len(pkts) < max(after, quoted) {
		t.Fatalf("%s: %d frames", in, len(pkts))
	}
	q := gopacket.NewPacket(pkts[quoted-1].data, layers.LayerTypeEthernet, gopacket.Default)
	eth, _ := q.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	ip, _ := q.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if eth == nil || ip == nil {
		t.Fatalf("frame %d is not IPv4 on Ethernet", quoted)
	}
	quote := pkts[quoted-1].data[14:]
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts,
		&layers.Ethernet{SrcMAC: eth.DstMAC, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4},
		&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: ip.DstIP, DstIP: ip.SrcIP},
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodePort)},
		gopacket.Payload(quote),
	); err != nil {
		t.Fatal(err)
	}
	ci := pkts[after-1].ci
	ci.Timestamp = ci.Timestamp.Add(1)
	ci.CaptureLength, ci.Length = len(buf.Bytes()), len(buf.Bytes())
	all := append(append(append([]pkt(nil), pkts[:after]...), pkt{ci, buf.Bytes()}), pkts[after:]...)
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := pcapgo.NewWriterNanos(o)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if err := w.WritePacket(p.ci, p.data); err != nil {
			t.Fatal(err)
		}
	}
}
