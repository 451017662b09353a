package capture

import (
	"errors"
	"fmt"
	"os"

	"github.com/gopacket/gopacket/pcap"
)

// FileInfo is what a capture file read by OpenFile says of its packets.
type FileInfo struct {
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
	st, err := f.Stat()
	regular := err == nil && st.Mode().IsRegular()
	h, err := pcap.OpenOfflineFile(f) // a copy of the descriptor
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
