package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapRecords reads the records of a plain pcap file straight out of the
// bufio.Reader's buffer: pcapgo's reader copies every record twice
// (through a buffer of its own, then into the packet buffer), a tenth of
// twreport's time. It keeps pcapgo's rules and errors, and pcapgo reads
// everything else (gzip, unknown versions, records over 256 KiB).
type pcapRecords struct {
	br       *bufio.Reader
	win      []byte // what br holds; records are read from win[off:]
	off      int
	order    binary.ByteOrder
	nsFactor uint32
	snaplen  uint32
	link     layers.LinkType
}

// pcapgo's limit on records read into the reader's own buffer.
const eagerReadMax = 262144

// newPcapMapped reads a plain pcap file's records out of its mapping
// (mapPcap), without copying it through read(2); ok is false for other
// files.
func newPcapMapped(b []byte) (src *pcapRecords, ok bool) {
	var p pcapRecords
	if !p.header(b) {
		return nil, false
	}
	p.win, p.off = b, 24
	return &p, true
}

// header reads a pcap file header (version 2.4) into p.
func (p *pcapRecords) header(h []byte) bool {
	if len(h) < 24 {
		return false
	}
	switch binary.LittleEndian.Uint32(h[0:4]) {
	case 0xA1B2C3D4:
		p.order, p.nsFactor = binary.LittleEndian, 1000
	case 0xA1B23C4D:
		p.order, p.nsFactor = binary.LittleEndian, 1
	case 0xD4C3B2A1:
		p.order, p.nsFactor = binary.BigEndian, 1000
	case 0x4D3CB2A1:
		p.order, p.nsFactor = binary.BigEndian, 1
	default:
		return false
	}
	if p.order.Uint16(h[4:6]) != 2 || p.order.Uint16(h[6:8]) != 4 {
		return false
	}
	p.snaplen = p.order.Uint32(h[16:20])
	p.link = layers.LinkType(p.order.Uint32(h[20:24]))
	return true
}

func newPcapSource(br *bufio.Reader) (packetSource, error) {
	if h, err := br.Peek(24); err == nil && br.Size() >= 16+eagerReadMax {
		var p pcapRecords
		if p.header(h) {
			p.br = br
			p.win, _ = br.Peek(br.Buffered())
			p.off = 24
			return &p, nil
		}
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	return pcapSource{r}, nil
}

// Read returns the next record. Its data stays valid until the next
// call.
func (p *pcapRecords) Read(ci *captureInfo) ([]byte, error) {
	if len(p.win)-p.off < 16 {
		if n, err := p.refill(16); err != nil {
			return nil, fullErr(n, err)
		}
	}
	h := p.win[p.off : p.off+16]
	// As pcapgo: the fraction times the factor in 32 bits, and UTC.
	ts := time.Unix(int64(p.order.Uint32(h[0:4])), int64(p.order.Uint32(h[4:8])*p.nsFactor)).UTC()
	caplen := int(p.order.Uint32(h[8:12]))
	length := int(p.order.Uint32(h[12:16]))
	if caplen > max(int(p.snaplen), eagerReadMax) {
		return nil, fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, p.snaplen)
	}
	if caplen > length {
		return nil, fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, length)
	}
	if caplen > eagerReadMax && p.br != nil {
		// Rare (a snap length over 256 KiB): pcapgo's way, which copies.
		if _, err := p.br.Discard(p.off + 16); err != nil {
			return nil, err
		}
		p.win, p.off = nil, 0
		data := make([]byte, caplen)
		n, err := io.ReadFull(p.br, data)
		if err != nil {
			return nil, fullErr(n, err)
		}
		ci.ts, ci.link, ci.size = ts, p.link, length
		return data, nil
	}
	if len(p.win)-p.off < 16+caplen {
		if n, err := p.refill(16 + caplen); err != nil {
			return nil, fullErr(n-16, err)
		}
	}
	data := p.win[p.off+16 : p.off+16+caplen]
	p.off += 16 + caplen
	ci.ts, ci.link, ci.size = ts, p.link, length
	return data, nil
}

// refill drops the records read and makes at least n more octets
// available in win, returning how many there are when the input ends
// before.
func (p *pcapRecords) refill(n int) (int, error) {
	if p.br == nil {
		// A mapped file: win is all of it.
		return len(p.win) - p.off, io.EOF
	}
	if _, err := p.br.Discard(p.off); err != nil {
		return 0, err
	}
	p.off = 0
	if b, err := p.br.Peek(n); err != nil {
		p.win = b
		return len(b), err
	}
	p.win, _ = p.br.Peek(p.br.Buffered())
	return len(p.win), nil
}

// fullErr is what io.ReadFull returns after reading n octets of a record
// part that the input ended in: io.EOF when it had none of it.
func fullErr(n int, err error) error {
	if err == io.EOF && n > 0 {
		return io.ErrUnexpectedEOF
	}
	return err
}
