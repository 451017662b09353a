package capture

import (
	"bufio"
	"bytes"
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
	head, _ := br.Peek(64 << 10)
	info.Nano = fileNano(head)
	var h *pcap.Handle
	var err error
	if st, serr := f.Stat(); serr == nil && st.Mode().IsRegular() {
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
	s := &pcapSource{h: h, file: true, name: name}
	if err := s.newBatch(p); err != nil {
		s.Close()
		return nil, info, err
	}
	info.Snaplen = int(s.b.snap)
	return s, info, nil
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
