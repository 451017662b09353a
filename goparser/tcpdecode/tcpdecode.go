// Package tcpdecode extracts TCP segments from whole captured frames with
// gopacket's zero-allocation DecodingLayerParser, for every link type a
// TCP analyst meets: Ethernet (with VLAN tags), Linux cooked capture v1
// and v2 (tcpdump -i any), BSD loopback, and raw IPv4/IPv6.
package tcpdecode

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Segment is what the TIME_WAIT engine needs of one TCP segment.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	SYN, ACK bool
	FIN, RST bool
	Window   uint16
	HasTS    bool
	TSval    uint32
	TSecr    uint32
	SACKPerm bool // SACK-permitted (on a SYN)
	// DSACK: the ACK reports a duplicate segment (RFC 2883): the first
	// SACK block lies below the cumulative ACK, or inside the second.
	DSACK      bool
	Payload    []byte // aliases the frame; valid until the next Decode
	PayloadLen int    // TCP payload octets on the wire, even if truncated
}

// ErrNotTCP is returned for frames that carry no TCP segment.
var ErrNotTCP = errors.New("tcpdecode: not a TCP segment")

// ErrShort is returned for a TCP segment whose fixed 20-octet header the
// capture's snap length cut: nothing of it can be used. Src and Dst are
// set when the ports were captured.
var ErrShort = errors.New("tcpdecode: TCP header cut short by the snap length")

// ErrLinkType is returned for link types the decoder does not handle.
var ErrLinkType = errors.New("tcpdecode: unsupported link type")

// Decoder decodes frames; it reuses its layers and is not safe for
// concurrent use.
type Decoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	parsers map[layers.LinkType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
}

// New returns a Decoder.
func New() *Decoder {
	d := &Decoder{parsers: make(map[layers.LinkType]*gopacket.DecodingLayerParser)}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6, &d.tcp}
	first := map[layers.LinkType]gopacket.LayerType{
		layers.LinkTypeEthernet:  layers.LayerTypeEthernet,
		layers.LinkTypeLinuxSLL:  layers.LayerTypeLinuxSLL,
		layers.LinkTypeLinuxSLL2: layers.LayerTypeLinuxSLL2,
		layers.LinkTypeNull:      layers.LayerTypeLoopback,
		layers.LinkTypeLoop:      layers.LayerTypeLoopback,
		layers.LinkTypeIPv4:      layers.LayerTypeIPv4,
		layers.LinkTypeIPv6:      layers.LayerTypeIPv6,
	}
	for lt, l := range first {
		p := gopacket.NewDecodingLayerParser(l)
		// A slice indexed by layer type finds each layer's decoder faster
		// than the default map, with the same decoding.
		var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
		for _, dl := range all {
			dlc = dlc.Put(dl)
		}
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		d.parsers[lt] = p
	}
	return d
}

// Raw IP link types carry no header saying which IP version follows.
func isRaw(lt layers.LinkType) bool {
	return lt == layers.LinkTypeRaw || lt == 12 || lt == 14 // DLT_RAW values used by some systems
}

// Decode extracts the TCP segment of a frame of the given link type into
// s, which it overwrites. The caller's Segment, not a returned one: a
// returned struct is stored field by field and then copied whole, and
// the CPU stalls on such copies (with twreport's copy of its capture
// info, about a tenth of twreport's samples).
func (d *Decoder) Decode(lt layers.LinkType, frame []byte, s *Segment) error {
	*s = Segment{}
	if lt == layers.LinkTypeEthernet {
		if decodeEthernetIPv4TCP(frame, s) {
			return nil
		}
		*s = Segment{}
	}
	return d.decodeLayers(lt, frame, s)
}

// decodeLayers is Decode through gopacket's layers, for every frame; s
// must be zero.
func (d *Decoder) decodeLayers(lt layers.LinkType, frame []byte, s *Segment) error {
	if isRaw(lt) {
		if len(frame) == 0 {
			return ErrNotTCP
		}
		switch frame[0] >> 4 {
		case 4:
			lt = layers.LinkTypeIPv4
		case 6:
			lt = layers.LinkTypeIPv6
		default:
			return ErrNotTCP
		}
	}
	p := d.parsers[lt]
	if p == nil {
		return ErrLinkType
	}
	d.decoded = d.decoded[:0]
	// Errors after the TCP layer (truncated payloads) do not matter.
	_ = p.DecodeLayers(frame, &d.decoded)
	var src, dst netip.Addr
	var ipPayload []byte // the last IP layer's
	sawTCP, carriesTCP := false, false
	for _, t := range d.decoded {
		switch t {
		case layers.LayerTypeIPv4:
			src, _ = netip.AddrFromSlice(d.ip4.SrcIP.To4())
			dst, _ = netip.AddrFromSlice(d.ip4.DstIP.To4())
			s.PayloadLen = int(d.ip4.Length) - int(d.ip4.IHL)*4
			ipPayload, carriesTCP = d.ip4.Payload, d.ip4.NextLayerType() == layers.LayerTypeTCP
		case layers.LayerTypeIPv6:
			src, _ = netip.AddrFromSlice(d.ip6.SrcIP.To16())
			dst, _ = netip.AddrFromSlice(d.ip6.DstIP.To16())
			s.PayloadLen = int(d.ip6.Length)
			ipPayload, carriesTCP = d.ip6.Payload, d.ip6.NextLayerType() == layers.LayerTypeTCP
		case layers.LayerTypeTCP:
			sawTCP = true
		}
	}
	if !src.IsValid() {
		return ErrNotTCP
	}
	if !sawTCP {
		if !carriesTCP {
			return ErrNotTCP
		}
		// The TCP layer refuses a header whose options the snap length
		// cut, or that is cut itself.
		return d.cutHeader(ipPayload, src, dst, s)
	}
	t := &d.tcp
	s.Src = netip.AddrPortFrom(src, uint16(t.SrcPort))
	s.Dst = netip.AddrPortFrom(dst, uint16(t.DstPort))
	s.Seq, s.Ack = t.Seq, t.Ack
	s.SYN, s.ACK, s.FIN, s.RST = t.SYN, t.ACK, t.FIN, t.RST
	s.Window = t.Window
	for _, o := range t.Options {
		s.option(o.OptionType, o.OptionData)
	}
	s.Payload = t.Payload
	// IP total length minus the TCP header; falls back to what was
	// captured when the IP length is unusable (TSO, truncation).
	s.PayloadLen -= int(t.DataOffset) * 4
	if s.PayloadLen < len(s.Payload) || s.PayloadLen > 1<<20 {
		s.PayloadLen = len(s.Payload)
	}
	return nil
}

// option reads one TCP option's data into s. The ACK flag and number
// must be in s already.
func (s *Segment) option(kind layers.TCPOptionKind, data []byte) {
	switch kind {
	case layers.TCPOptionKindTimestamps:
		if len(data) == 8 {
			s.HasTS = true
			s.TSval = binary.BigEndian.Uint32(data[0:4])
			s.TSecr = binary.BigEndian.Uint32(data[4:8])
		}
	case layers.TCPOptionKindSACKPermitted:
		s.SACKPerm = true
	case layers.TCPOptionKindSACK:
		if len(data) < 8 || len(data)%8 != 0 {
			return
		}
		left, right := binary.BigEndian.Uint32(data[0:4]), binary.BigEndian.Uint32(data[4:8])
		s.DSACK = s.ACK && int32(left-s.Ack) < 0
		if len(data) >= 16 && !s.DSACK {
			left2, right2 := binary.BigEndian.Uint32(data[8:12]), binary.BigEndian.Uint32(data[12:16])
			s.DSACK = s.ACK && int32(left-left2) >= 0 && int32(right2-right) >= 0
		}
	}
}

// options reads the TCP options in o into s, as the TCP layer does; it
// stops at an MPTCP option, whose rules the layer's decoding follows, and
// returns false there.
func (s *Segment) options(o []byte) bool {
	for len(o) > 0 {
		switch o[0] {
		case 0: // end of options
			return true
		case 1: // no-operation
			o = o[1:]
			continue
		case uint8(layers.TCPOptionKindMultipathTCP):
			return false
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return true // parsing stops here, as the layer's does
		}
		s.option(layers.TCPOptionKind(o[0]), o[2:o[1]])
		o = o[o[1]:]
	}
	return true
}

// cutHeader decodes a TCP header that the layer refused, of which tcp is
// what the capture holds. One whose options the snap length cut still has
// the fixed 20 octets: ports, numbers, flags and window, which tcpdump and
// Wireshark show too, with the options that were captured whole (the
// rest are unknown). s holds the IP layer's payload length.
func (d *Decoder) cutHeader(tcp []byte, src, dst netip.Addr, s *Segment) error {
	if len(tcp) >= 4 {
		s.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(tcp[0:2]))
		s.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(tcp[2:4]))
	}
	if len(tcp) < 20 {
		return ErrShort
	}
	// The layer reads the fixed header before it finds the options cut.
	t := &d.tcp
	_ = t.DecodeFromBytes(tcp, gopacket.NilDecodeFeedback)
	hl := int(t.DataOffset) * 4
	if hl < 20 || hl <= len(tcp) {
		return ErrNotTCP // not cut: malformed
	}
	s.Seq, s.Ack = t.Seq, t.Ack
	s.SYN, s.ACK, s.FIN, s.RST = t.SYN, t.ACK, t.FIN, t.RST
	s.Window = t.Window
	s.options(tcp[20:]) // those before an MPTCP option
	s.PayloadLen -= hl
	if s.PayloadLen < 0 || s.PayloadLen > 1<<20 {
		s.PayloadLen = 0
	}
	return nil
}

// decodeEthernetIPv4TCP is Decode's path for the frames of nearly every
// capture: untagged Ethernet, IPv4 without options, not a fragment, and a
// TCP header that fits, with no MPTCP option. It reads each field where
// the gopacket layers do and follows their rules (an IPv4 length of 0
// under TCP segmentation offload, option parsing that stops at a length
// it cannot follow), so the Segment is the same, in a fraction of the
// time. It returns false for every other frame, which the layers
// decode; s is then partly written.
func decodeEthernetIPv4TCP(frame []byte, s *Segment) bool {
	if len(frame) < 14+20+20 || binary.BigEndian.Uint16(frame[12:14]) != uint16(layers.EthernetTypeIPv4) {
		return false
	}
	ip := frame[14:]
	if ip[0]&0x0f != 5 || ip[9] != uint8(layers.IPProtocolTCP) {
		return false
	}
	ipLen := binary.BigEndian.Uint16(ip[2:4])
	length := int(ipLen)
	if length == 0 {
		length = len(ip)
		ipLen = uint16(min(length, 0xffff))
	}
	if length < 20 {
		return false
	}
	if len(ip) > length {
		ip = ip[:length]
	}
	if ff := binary.BigEndian.Uint16(ip[6:8]); ff&0x2000 != 0 || ff&0x1fff != 0 {
		return false // a fragment
	}
	tcp := ip[20:]
	if len(tcp) < 20 {
		return false
	}
	hl := int(tcp[12]>>4) * 4
	if hl < 20 || hl > len(tcp) {
		return false
	}
	// The header before the options: option reads the ACK.
	s.Seq = binary.BigEndian.Uint32(tcp[4:8])
	s.Ack = binary.BigEndian.Uint32(tcp[8:12])
	flags := tcp[13]
	s.FIN, s.SYN, s.RST, s.ACK = flags&0x01 != 0, flags&0x02 != 0, flags&0x04 != 0, flags&0x10 != 0
	if !s.options(tcp[20:hl]) {
		return false
	}
	s.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(tcp[0:2]))
	s.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(tcp[2:4]))
	s.Window = binary.BigEndian.Uint16(tcp[14:16])
	s.Payload = tcp[hl:]
	s.PayloadLen = int(ipLen) - 20 - hl
	if s.PayloadLen < len(s.Payload) || s.PayloadLen > 1<<20 {
		s.PayloadLen = len(s.Payload)
	}
	return true
}
