package capture

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#cgo LDFLAGS: -lpcap
#include <pcap/pcap.h>
#include <stdint.h>
#include <string.h>

// A batch is a run of records, each this header and the packet's bytes,
// the next record starting at the next multiple of 8.
struct gc_rec {
	int64_t sec, frac; // frac: nanoseconds, or microseconds (pcap_get_tstamp_precision)
	uint32_t caplen, len;
};

// gc_fill moves the packets that the ring holds (the handle is
// non-blocking) into buf while it has room for one of snap octets, and
// returns the octets used. *status is 0, or libpcap's error code.
static size_t gc_fill(pcap_t *p, unsigned char *buf, size_t cap, uint32_t snap, int *status) {
	size_t used = 0;
	*status = 0;
	while (cap - used >= sizeof(struct gc_rec) + snap) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int r = pcap_next_ex(p, &h, &data);
		if (r != 1) {
			if (r < 0) {
				*status = r;
			}
			break;
		}
		struct gc_rec *rec = (struct gc_rec *)(buf + used);
		uint32_t n = h->caplen < snap ? h->caplen : snap;
		rec->sec = h->ts.tv_sec;
		rec->frac = h->ts.tv_usec;
		rec->caplen = n;
		rec->len = h->len;
		memcpy(rec + 1, data, n);
		used += (sizeof *rec + n + 7) & ~(size_t)7;
	}
	return used;
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// pcapSource reads libpcap's ring a batch at a time: one cgo call copies
// every packet the ring holds (up to batchBytes) into buf, and
// ReadPacket hands them out from there. Through gopacket's
// ZeroCopyReadPacketData each packet was a cgo call and a lock, and the
// handle had to be in immediate mode (TPACKET_V2, a wake-up a packet) to
// be read promptly: 8 times tcpdump's CPU, with drops at 200,000
// packets a second where tcpdump had none. gopacket still opens,
// filters, counts and closes the handle.
type pcapSource struct {
	h        *pcap.Handle
	p        *C.pcap_t
	ring     *ringWait
	snap     uint32
	ifindex  int
	fracNano int64 // nanoseconds in a unit of gc_rec.frac
	buf      []byte
	off, end int // the records not yet read
}

// batchBytes is how much one batch holds, besides room for one more
// packet of the snap length.
const batchBytes = 1 << 20

// recSize is the size of C's struct gc_rec (the constant below does not
// compile if it is not).
const recSize = 24

const _ = uint(recSize-C.sizeof_struct_gc_rec) + uint(C.sizeof_struct_gc_rec-recSize)

func openPcap(c Config) (Source, error) {
	dev := c.Interface
	if dev == "" {
		dev = "any"
	}
	in, err := pcap.NewInactiveHandle(dev)
	if err != nil {
		return nil, err
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(c.Snaplen); err != nil {
		return nil, err
	}
	if err := in.SetPromisc(c.Promisc); err != nil {
		return nil, err
	}
	// With a timeout, libpcap uses a TPACKET_V3 ring whose blocks the
	// kernel hands over when full or after the timeout.
	if err := in.SetTimeout(BlockTimeout); err != nil {
		return nil, err
	}
	if err := in.SetBufferSize(c.BufferKiB * 1024); err != nil {
		return nil, err
	}
	h, err := in.Activate()
	if err != nil {
		return nil, err
	}
	// libpcap attaches the filter and flushes what arrived before it.
	if c.Filter != "" {
		if err := h.SetBPFFilter(c.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("%w %q: %v", ErrFilter, c.Filter, err)
		}
	}
	// gopacket does not export the pcap_t; the batches read it directly.
	field := reflect.ValueOf(h).Elem().FieldByName("cptr")
	if !field.IsValid() || field.Kind() != reflect.Pointer || field.IsNil() {
		h.Close()
		return nil, errors.New("capture: this gopacket/pcap keeps no pcap_t where it used to")
	}
	p := (*C.pcap_t)(field.UnsafePointer())
	// gc_fill must not block (gopacket sets this too, with a timeout).
	var errbuf [C.PCAP_ERRBUF_SIZE]C.char
	if C.pcap_setnonblock(p, 1, &errbuf[0]) < 0 {
		h.Close()
		return nil, fmt.Errorf("capture: %s", C.GoString(&errbuf[0]))
	}
	fd := C.pcap_get_selectable_fd(p)
	if fd < 0 {
		h.Close()
		return nil, errors.New("capture: libpcap gives no descriptor to wait on")
	}
	ring, err := newRingWait(int(fd))
	if err != nil {
		h.Close()
		return nil, err
	}
	s := &pcapSource{h: h, p: p, ring: ring, snap: uint32(C.pcap_snapshot(p)), fracNano: 1}
	if C.pcap_get_tstamp_precision(p) != C.PCAP_TSTAMP_PRECISION_NANO {
		s.fracNano = 1000
	}
	if ifc, err := net.InterfaceByName(dev); err == nil {
		s.ifindex = ifc.Index
	}
	s.buf = make([]byte, batchBytes+recSize+int(s.snap)+8)
	return s, nil
}

// fill reads a batch; it returns false when the ring held nothing.
func (s *pcapSource) fill() (bool, error) {
	var status C.int
	n := C.gc_fill(s.p, (*C.uchar)(unsafe.Pointer(&s.buf[0])), C.size_t(len(s.buf)), C.uint32_t(s.snap), &status)
	s.off, s.end = 0, int(n)
	if status != 0 && status != C.PCAP_ERROR_BREAK {
		if n > 0 {
			return true, nil // the error comes again after these packets
		}
		return false, fmt.Errorf("capture: %v", s.h.Error())
	}
	return n > 0, nil
}

func (s *pcapSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	if s.off >= s.end {
		var deadline time.Time
		for {
			ok, err := s.fill()
			if err != nil {
				return nil, err
			}
			if ok {
				s.ring.got()
				runtime.Gosched() // see ringWait
				break
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(pollInterval)
			}
			if !s.ring.wait(deadline) {
				return nil, ErrTimeout
			}
		}
	}
	rec := s.buf[s.off : s.off+recSize]
	n := int(binary.NativeEndian.Uint32(rec[16:]))
	ci.Timestamp = time.Unix(int64(binary.NativeEndian.Uint64(rec)), int64(binary.NativeEndian.Uint64(rec[8:]))*s.fracNano)
	ci.CaptureLength = n
	ci.Length = int(binary.NativeEndian.Uint32(rec[20:]))
	ci.InterfaceIndex = s.ifindex
	ci.AncillaryData = nil
	data := s.buf[s.off+recSize : s.off+recSize+n : s.off+recSize+n]
	s.off += (recSize + n + 7) &^ 7
	return data, nil
}

func (s *pcapSource) LinkType() layers.LinkType { return s.h.LinkType() }

func (s *pcapSource) Stats() (uint64, uint64, error) {
	st, err := s.h.Stats()
	if err != nil {
		return 0, 0, err
	}
	return uint64(st.PacketsReceived), uint64(st.PacketsDropped), nil
}

func (s *pcapSource) SetFilter(expr string) error { return s.h.SetBPFFilter(expr) }

func (s *pcapSource) Close() {
	s.ring.close()
	s.h.Close()
}
