package tcpdecode

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/gotcpdump/gotcpdump/goparser/internal/testpcaps"
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
			var s Segment
			if err := d.Decode(tt.lt, tt.data, &s); err != nil {
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
	var s Segment
	if err := d.Decode(layers.LinkTypeEthernet, eth([]byte{0x45, 0, 0, 20}, false), &s); err == nil {
		t.Fatal("truncated IPv4 accepted")
	}
	if err := d.Decode(layers.LinkType(147), v4, &s); err != ErrLinkType {
		t.Fatalf("unknown link type: %v", err)
	}
	for n := 0; n < len(v4); n++ {
		_ = d.Decode(layers.LinkTypeRaw, v4[:n], &s)
	}
}

// agree checks the Ethernet/IPv4/TCP fast path against gopacket's layers
// on one frame: where the fast path takes the frame, both must give the
// same Segment. It reports whether the fast path took it.
func agree(t testing.TB, d *Decoder, frame []byte) bool {
	var fast, slow Segment
	if !decodeEthernetIPv4TCP(frame, &fast) {
		return false
	}
	if err := d.decodeLayers(layers.LinkTypeEthernet, frame, &slow); err != nil {
		t.Fatalf("% x: the fast path decoded %+v, the layers refused: %v", frame, fast, err)
	}
	if !bytes.Equal(fast.Payload, slow.Payload) {
		t.Fatalf("% x: payload %q, the layers' %q", frame, fast.Payload, slow.Payload)
	}
	fast.Payload, slow.Payload = nil, nil
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("% x:\nfast path %+v\nlayers    %+v", frame, fast, slow)
	}
	return true
}

// TestFastPathAgreesWithLayers: every Ethernet frame of the test
// captures, and each of them cut at every length and with its IPv4
// total length zeroed (as under segmentation offload), decodes the same
// through the fast path as through the layers.
func TestFastPathAgreesWithLayers(t *testing.T) {
	names := testpcaps.Names()
	if len(names) == 0 {
		t.Fatal("no test captures")
	}
	d := New()
	fast, frames := 0, 0
	for _, name := range names {
		all, lt, err := testpcaps.Frames(name, 0)
		if err != nil || lt != layers.LinkTypeEthernet {
			continue
		}
		for _, f := range all {
			frames++
			if agree(t, d, f) {
				fast++
			}
			if frames%50 != 0 {
				continue
			}
			for n := 0; n < len(f) && n < 100; n++ {
				agree(t, d, f[:n])
			}
			if len(f) > 18 && binary.BigEndian.Uint16(f[12:14]) == uint16(layers.EthernetTypeIPv4) {
				z := bytes.Clone(f)
				z[16], z[17] = 0, 0
				agree(t, d, z)
			}
		}
	}
	t.Logf("%d frames, %d through the fast path", frames, fast)
	if fast*2 < frames {
		t.Errorf("the fast path took %d of %d frames: the test compares little", fast, frames)
	}
}

// FuzzDecode: no frame makes Decode panic, for any link type, and the
// fast path agrees with the layers wherever it takes a frame.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"tw_client_closes.pcap", "h2c_go.pcap", "grpc_web.pcap"} {
		frames, _, err := testpcaps.Frames(name, 20)
		if err != nil {
			f.Fatal(err)
		}
		for _, fr := range frames {
			f.Add(fr)
		}
	}
	d := New()
	f.Fuzz(func(t *testing.T, frame []byte) {
		agree(t, d, frame)
		var s Segment
		for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2, layers.LinkTypeNull, layers.LinkTypeRaw, layers.LinkTypeIPv6} {
			if d.Decode(lt, frame, &s) == nil && len(s.Payload) > len(frame) {
				t.Fatalf("link type %v: a payload of %d octets from a frame of %d", lt, len(s.Payload), len(frame))
			}
		}
	})
}

// TestSACKOptions decodes SACK-permitted and SACK options over exact
// bytes, through the fast path (Ethernet) and the layers (raw IPv4).
func TestSACKOptions(t *testing.T) {
	sack := func(blocks ...uint32) []byte {
		o := []byte{1, 1, 5, byte(2 + 4*len(blocks))}
		for _, b := range blocks {
			o = binary.BigEndian.AppendUint32(o, b)
		}
		return o
	}
	tests := []struct {
		name      string
		flags     byte // TCP flags octet
		ack       uint32
		opts      []byte
		perm, dup bool
	}{
		{"syn sack-permitted", 0x02, 0, []byte{2, 4, 5, 180, 4, 2, 1, 1}, true, false},
		{"syn-ack sack-permitted", 0x12, 1, []byte{4, 2, 1, 1}, true, false},
		{"duplicate FIN below the ack", 0x10, 122, sack(121, 122), false, true},
		{"block above the ack", 0x10, 122, sack(130, 140), false, false},
		{"block ending at the ack", 0x10, 122, sack(100, 122), false, true},
		{"block starting at the ack", 0x10, 122, sack(122, 130), false, false},
		{"first inside second", 0x10, 122, sack(130, 135, 128, 140), false, true},
		{"first beside second", 0x10, 122, sack(130, 135, 140, 150), false, false},
		{"first overlapping second", 0x10, 122, sack(130, 145, 128, 140), false, false},
		{"duplicate below the ack, then a SACK block", 0x10, 122, sack(100, 110, 130, 140), false, true},
		{"first inside second across the wrap", 0x10, 0xfffffff0, sack(0xfffffff8, 4, 0xfffffff4, 8), false, true},
		{"below the ack across the wrap", 0x10, 5, sack(0xfffffff0, 0xfffffff8), false, true},
		{"above the ack across the wrap", 0x10, 0xfffffff0, sack(3, 9), false, false},
		{"without the ACK flag", 0x00, 122, sack(121, 122), false, false},
		{"short block", 0x10, 122, []byte{1, 1, 5, 6, 0, 0, 0, 121}, false, false},
	}
	d := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.opts)%4 != 0 {
				t.Fatalf("options of %d octets", len(tt.opts))
			}
			tcp := make([]byte, 20, 20+len(tt.opts))
			binary.BigEndian.PutUint16(tcp[0:], 8080)
			binary.BigEndian.PutUint16(tcp[2:], 40000)
			binary.BigEndian.PutUint32(tcp[4:], 139)
			binary.BigEndian.PutUint32(tcp[8:], tt.ack)
			tcp[12] = byte(20+len(tt.opts)) / 4 << 4
			tcp[13] = tt.flags
			binary.BigEndian.PutUint16(tcp[14:], 512)
			tcp = append(tcp, tt.opts...)
			ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1}
			binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)+len(tcp)))
			ip = append(ip, tcp...)
			eth := append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, ip...)
			for _, f := range []struct {
				lt    layers.LinkType
				frame []byte
			}{{layers.LinkTypeEthernet, eth}, {layers.LinkTypeRaw, ip}} {
				var s Segment
				if err := d.Decode(f.lt, f.frame, &s); err != nil {
					t.Fatalf("%v: %v", f.lt, err)
				}
				if s.SACKPerm != tt.perm || s.DSACK != tt.dup {
					t.Errorf("%v: SACK-permitted %v, D-SACK %v; want %v, %v", f.lt, s.SACKPerm, s.DSACK, tt.perm, tt.dup)
				}
			}
			if !agree(t, d, eth) {
				t.Error("the fast path did not take the frame")
			}
		})
	}
}

// TestCutHeader: a segment cut by the snap length inside its TCP options
// still has its fixed header, and the options captured whole; cut inside
// the fixed header, it is ErrShort, with the ports if they were captured.
func TestCutHeader(t *testing.T) {
	// A Linux SYN's options: MSS, SACK permitted, timestamps, NOP,
	// window scale; 40 octets of header.
	opts := []byte{2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, 1, 3, 3, 7}
	hdr := []byte{0x9c, 0x40, 0x1f, 0x90, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0, 0}
	ipHdr := []byte{0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	frame := append(append(append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00}, ipHdr...), hdr...), opts...)
	full := Segment{Src: netip.MustParseAddrPort("10.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.0.0.2:8080"),
		Seq: 1000, SYN: true, Window: 64240}
	ports := Segment{Src: full.Src, Dst: full.Dst}
	withOpts := func(perm, ts bool) Segment {
		s := full
		s.SACKPerm = perm
		if ts {
			s.HasTS, s.TSval, s.TSecr = true, 7, 9
		}
		return s
	}
	tests := []struct {
		snap int // octets of the frame captured
		want Segment
		err  error
	}{
		{74, withOpts(true, true), nil}, // whole
		{73, withOpts(true, true), nil}, // the window scale cut
		{70, withOpts(true, true), nil},
		{69, withOpts(true, false), nil}, // the timestamps cut
		{60, withOpts(true, false), nil},
		{59, withOpts(false, false), nil}, // SACK permitted cut
		{54, full, nil},                   // the fixed header alone
		{53, ports, ErrShort},
		{38, ports, ErrShort},
		{37, Segment{}, ErrShort},
		{34, Segment{}, ErrShort}, // the IP header alone
	}
	d := New()
	for _, tt := range tests {
		var s Segment
		err := d.Decode(layers.LinkTypeEthernet, frame[:tt.snap], &s)
		if tt.err != nil {
			s = Segment{Src: s.Src, Dst: s.Dst}
		}
		if len(s.Payload) == 0 {
			s.Payload = nil // none captured, and none sent
		}
		if err != tt.err || !reflect.DeepEqual(s, tt.want) {
			t.Errorf("cut at %d: %v, %+v\nwant %v, %+v", tt.snap, err, s, tt.err, tt.want)
		}
	}
}
