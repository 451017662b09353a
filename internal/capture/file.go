package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcap"
	"github.com/gopacket/gopacket/pcapgo"
)

// FileInfo is what a capture file read by OpenFile says of its packets.
type FileInfo struct {
	// Nano: its time stamps are finer than microseconds (a pcap file
	// of the nanosecond magic, or pcapng whose first interface's
	// if_tsresol is finer than 6).
	Nano    bool
	Snaplen int
}

// OpenFile reads a pcap or pcapng file (name "-": standard input) as a
// source, as tcpdump -r does, through libpcap with nanosecond time
// stamps, keeping the packets filter passes (libpcap's filter, compiled
// for the file's link type and run on each packet). ReadPacket and
// ReadRecords return io.EOF at its end.
func OpenFile(name, filter string) (Source, FileInfo, error) {
	var info FileInfo
	f := os.Stdin
	if name != "-" {
		var err error
		if f, err = os.Open(name); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, info, fmt.Errorf("%s: %v", name, err)
		}
		defer f.Close()
	}
	// libpcap reads the file as it is and scales its time stamps to
	// nanoseconds: its own precision is read here, from the head.
	br := bufio.NewReaderSize(f, 64<<10)
	info.Nano = fileNano(fileHead(br))
	var h *pcap.Handle
	var err error
	regular := false
	if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() {
		regular = true
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			h, err = pcap.OpenOfflineFile(f)
		}
	} else {
		// A pipe cannot be read again from the start: libpcap reads
		// what was peeked, then the rest, through a pipe of its own.
		var pr, pw *os.File
		if pr, pw, err = os.Pipe(); err != nil {
			return nil, info, err
		}
		go func() {
			_, _ = io.Copy(pw, br) // EPIPE when the handle closes early
			pw.Close()
		}()
		h, err = pcap.OpenOfflineFile(pr) // a copy of the descriptor
		pr.Close()
	}
	if err != nil {
		return nil, info, fmt.Errorf("%s: %v", name, err)
	}
	if filter != "" {
		if err := h.SetBPFFilter(filter); err != nil {
			h.Close()
			return nil, info, fmt.Errorf("%w %q: %v", ErrFilter, filter, err)
		}
	}
	p, err := pcapT(h)
	if err != nil {
		h.Close()
		return nil, info, err
	}
	// From a pipe, each packet as it comes (ssh host tcpdump -U -w - |
	// gotcpdump -r -): a batch would wait for a MiB of them.
	s := &pcapSource{h: h, file: true, pipe: !regular, name: name}
	if err := s.newBatch(p); err != nil {
		s.Close()
		return nil, info, err
	}
	info.Snaplen = int(s.b.snap)
	return s, info, nil
}

// fileHead peeks at the head of a capture file: a pcap file's header, or
// a pcapng file's section header and first interface description, which
// give its time stamps' precision. It asks for no more, so that a pipe
// that brings packets slowly is not waited on.
func fileHead(br *bufio.Reader) []byte {
	magic, err := br.Peek(4)
	if err != nil {
		return magic
	}
	if !bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		head, _ := br.Peek(24)
		return head
	}
	// pcapng: blocks of type, length, body, length; the section
	// header's byte-order magic says how lengths are written.
	n := 0
	for range 2 {
		b, err := br.Peek(n + 12)
		if err != nil {
			return b
		}
		order := binary.ByteOrder(binary.LittleEndian)
		if bo, _ := br.Peek(12); bytes.Equal(bo[8:12], []byte{0x1a, 0x2b, 0x3c, 0x4d}) {
			order = binary.BigEndian
		}
		size := int(order.Uint32(b[n+4 : n+8]))
		if size < 12 || n+size > br.Size() {
			return b
		}
		n += size
	}
	head, _ := br.Peek(n)
	return head
}

// fileNano tells from the head of a capture file whether its time stamps
// are finer than microseconds.
func fileNano(head []byte) bool {
	var res gopacket.TimestampResolution
	if len(head) >= 4 && bytes.Equal(head[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(head), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return false
		}
		res = r.Resolution()
	} else {
		r, err := pcapgo.NewReader(bytes.NewReader(head))
		if err != nil {
			return false
		}
		res = r.Resolution()
	}
	return res.Base != 0 && res.ToDuration() < time.Microsecond
}
