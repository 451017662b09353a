package tcpdecode

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ipTCP serializes an IP packet (v4 or v6) carrying a TCP segment with a
// timestamp option and a payload.
func ipTCP(t *testing.T, v6 bool) []byte {
	t.Helper()
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, ACK: true, FIN: true, Window: 512,
		Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 7, 0, 0, 0, 9}}}}
	var net gopacket.NetworkLayer
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: ip("2001:db8::1"), DstIP: ip("2001:db8::2")}
		net = ip
	} else {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: ip("10.0.0.1"), DstIP: ip("10.0.0.2")}
		net = ip4
	}
	_ = tcp.SetNetworkLayerForChecksum(net)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, net.(gopacket.SerializableLayer), tcp, gopacket.Payload("hello")); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ip(s string) net.IP { return net.ParseIP(s) }

func TestLinkTypes(t *testing.T) {
	v4, v6 := ipTCP(t, false), ipTCP(t, true)
	eth := func(payload []byte, vlan bool) []byte {
		h := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
		if vlan {
			h = append(h, 0x81, 0x00, 0x00, 0x2a)
		}
		return append(append(h, 0x08, 0x00), payload...)
	}
	sll := func(payload []byte) []byte {
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6) // address length
		binary.BigEndian.PutUint16(h[14:], 0x0800)
		return append(h, payload...)
	}
	sll2 := func(payload []byte) []byte {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], 0x86dd)
		binary.BigEndian.PutUint32(h[4:], 3) // interface index
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		return append(h, payload...)
	}
	null := func(payload []byte) []byte {
		return append([]byte{2, 0, 0, 0}, payload...) // AF_INET, host order (little endian)
	}
	tests := []struct {
		name string
		lt   layers.LinkType
		data []byte
		v6   bool
	}{
		{"ethernet", layers.LinkTypeEthernet, eth(v4, false), false},
		{"ethernet vlan", layers.LinkTypeEthernet, eth(v4, true), false},
		{"linux sll", layers.LinkTypeLinuxSLL, sll(v4), false},
		{"linux sll2 ipv6", layers.LinkTypeLinuxSLL2, sll2(v6), true},
		{"bsd loopback", layers.LinkTypeNull, null(v4), false},
		{"raw ipv4", layers.LinkTypeRaw, v4, false},
		{"raw ipv6", layers.LinkTypeRaw, v6, true},
		{"ipv6 link type", layers.LinkTypeIPv6, v6, true},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := d.Decode(tt.lt, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			src, dst := "10.0.0.1:40000", "10.0.0.2:80"
			if tt.v6 {
				src, dst = "[2001:db8::1]:40000", "[2001:db8::2]:80"
			}
			if s.Src != netip.MustParseAddrPort(src) || s.Dst != netip.MustParseAddrPort(dst) {
				t.Fatalf("endpoints %v -> %v", s.Src, s.Dst)
			}
			if s.Seq != 1000 || s.Ack != 2000 || !s.FIN || !s.ACK || s.SYN || s.RST || s.PayloadLen != 5 || string(s.Payload) != "hello" {
				t.Fatalf("segment %+v", s)
			}
			if !s.HasTS || s.TSval != 7 || s.TSecr != 9 {
				t.Fatalf("timestamps %v %d %d", s.HasTS, s.TSval, s.TSecr)
			}
		})
	}
	// Not TCP, and truncated frames, are refused without a panic.
	if _, err := d.Decode(layers.LinkTypeEthernet, eth([]byte{0x45, 0, 0, 20}, false)); err == nil {
		t.Fatal("truncated IPv4 accepted")
	}
	if _, err := d.Decode(layers.LinkType(147), v4); err != ErrLinkType {
		t.Fatalf("unknown link type: %v", err)
	}
	for n := 0; n < len(v4); n++ {
		_, _ = d.Decode(layers.LinkTypeRaw, v4[:n])
	}
}
