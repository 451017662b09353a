package capture

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#cgo LDFLAGS: -lpcap
#include <endian.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// A batch is a run of pcap file records (little-endian, nanosecond
// timestamps), as gotcpdump writes them: the file takes a batch whole.
struct gc_batch {
	pcap_t *p;
	unsigned char *buf;
	size_t cap;  // octets in buf
	size_t full; // at this many a batch ends
	size_t used;
	uint64_t packets, octets; // in the batch, and their lengths on the wire
	uint32_t snap;
	uint32_t nano;    // 1 if libpcap gives nanoseconds, else microseconds
	uint64_t overrun; // packets that found no room (see gc_put)
};

// gc_put stores one packet. libpcap checks pcap_breakloop after every
// packet it hands over, so a batch ends past full by at most one packet
// of the snap length, for which buf has room; were a packet ever to
// find none, it is counted, and reported with the kernel's drops.
static void gc_put(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
	struct gc_batch *b = (struct gc_batch *)user;
	uint32_t n = h->caplen < b->snap ? h->caplen : b->snap;
	if (b->cap - b->used < 16 + (size_t)n) {
		b->overrun++;
		pcap_breakloop(b->p);
		return;
	}
	uint32_t rec[4] = {
		htole32((uint32_t)h->ts.tv_sec),
		htole32((uint32_t)(b->nano ? h->ts.tv_usec : h->ts.tv_usec * 1000)),
		htole32(n),
		htole32(h->len),
	};
	unsigned char *r = b->buf + b->used;
	memcpy(r, rec, sizeof rec);
	memcpy(r + sizeof rec, data, n);
	b->used += sizeof rec + n;
	b->packets++;
	b->octets += h->len;
	if (b->used >= b->full) {
		pcap_breakloop(b->p);
	}
}

// gc_fill moves what the ring holds (the handle is non-blocking) into
// the batch, up to full octets, and returns pcap_dispatch's result.
static int gc_fill(struct gc_batch *b) {
	b->used = 0;
	b->packets = 0;
	b->octets = 0;
	return pcap_dispatch(b->p, -1, gc_put, (u_char *)b);
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

// pcapSource reads libpcap's ring a batch at a time: one cgo call
// (pcap_dispatch) copies every packet the ring holds, up to batchBytes,
// into a buffer as pcap file records, which a pcap file takes whole
// (ReadRecords) or ReadPacket hands out one by one. Through gopacket's
// ZeroCopyReadPacketData each packet was a cgo call and a lock, and the
// handle had to be in immediate mode (TPACKET_V2, a wake-up a packet) to
// be read promptly: 8 times tcpdump's CPU, with drops at 200,000 packets
// a second where tcpdump had none. gopacket still opens, filters, counts
// and closes the handle.
type pcapSource struct {
	h       *pcap.Handle
	ring    *ringWait
	ifindex int
	b       *C.struct_gc_batch // and its buffer, in C memory
	buf     []byte             // the batch: records from off to end not yet read
	off     int
	end     int
}

// batchBytes is how much one batch holds, besides room for one more
// packet of the snap length.
const batchBytes = 1 << 20

// recSize is the size of a pcap record header.
const recSize = 16

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
	s := &pcapSource{h: h, ring: ring}
	if ifc, err := net.InterfaceByName(dev); err == nil {
		s.ifindex = ifc.Index
	}
	snap := uint32(C.pcap_snapshot(p))
	size := batchBytes + recSize + int(snap)
	if s.b = (*C.struct_gc_batch)(C.calloc(1, C.sizeof_struct_gc_batch)); s.b != nil {
		s.b.buf = (*C.uchar)(C.malloc(C.size_t(size)))
	}
	if s.b == nil || s.b.buf == nil {
		s.Close()
		return nil, errors.New("capture: out of memory for a batch")
	}
	s.b.p, s.b.cap, s.b.full, s.b.snap = p, C.size_t(size), batchBytes, C.uint32_t(snap)
	if C.pcap_get_tstamp_precision(p) == C.PCAP_TSTAMP_PRECISION_NANO {
		s.b.nano = 1
	}
	s.buf = unsafe.Slice((*byte)(unsafe.Pointer(s.b.buf)), size)
	return s, nil
}

// fill reads a batch; it returns false when the ring held nothing.
func (s *pcapSource) fill() (bool, error) {
	if s.b == nil {
		return false, errClosed
	}
	status := C.gc_fill(s.b)
	s.off, s.end = 0, int(s.b.used)
	if status < 0 && status != C.PCAP_ERROR_BREAK {
		if s.end > 0 {
			return true, nil // the error comes again after these packets
		}
		return false, fmt.Errorf("capture: %v", s.h.Error())
	}
	return s.end > 0, nil
}

// next makes sure the batch holds a record, reading the ring (and
// waiting for it) when it is used up.
func (s *pcapSource) next() error {
	if s.off < s.end {
		return nil
	}
	var deadline time.Time
	for {
		ok, err := s.fill()
		if err != nil {
			return err
		}
		if ok {
			s.ring.got()
			runtime.Gosched() // see ringWait
			return nil
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(pollInterval)
		}
		if !s.ring.wait(deadline) {
			return ErrTimeout
		}
	}
}

func (s *pcapSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	if err := s.next(); err != nil {
		return nil, err
	}
	// The header is read here rather than through Record: copying
	// Record's result into ci stalls on the wide loads (BenchmarkBatchToFile
	// 57-59 ns a packet against 44-51). gc_put wrote the record whole.
	rec := s.buf[s.off : s.off+recSize]
	n := int(binary.LittleEndian.Uint32(rec[8:]))
	ci.Timestamp = time.Unix(int64(binary.LittleEndian.Uint32(rec)), int64(binary.LittleEndian.Uint32(rec[4:])))
	ci.CaptureLength = n
	ci.Length = int(binary.LittleEndian.Uint32(rec[12:]))
	ci.InterfaceIndex = s.ifindex
	ci.AncillaryData = nil
	data := s.buf[s.off+recSize : s.off+recSize+n : s.off+recSize+n]
	s.off += recSize + n
	return data, nil
}

// ReadRecords returns the packets of a batch not yet read, as pcap file
// records valid until the next read or Close, with their number and
// their lengths on the wire; those are zero if ReadPacket has read part
// of the batch.
func (s *pcapSource) ReadRecords() (recs []byte, packets int, octets int64, err error) {
	if err := s.next(); err != nil {
		return nil, 0, 0, err
	}
	if s.off == 0 && s.b != nil {
		packets, octets = int(s.b.packets), int64(s.b.octets)
	}
	recs = s.buf[s.off:s.end:s.end]
	s.off = s.end
	return recs, packets, octets, nil
}

func (s *pcapSource) LinkType() layers.LinkType { return s.h.LinkType() }

func (s *pcapSource) Stats() (uint64, uint64, error) {
	st, err := s.h.Stats()
	if err != nil {
		return 0, 0, err
	}
	dropped := uint64(st.PacketsDropped)
	if s.b != nil {
		dropped += uint64(s.b.overrun)
	}
	return uint64(st.PacketsReceived), dropped, nil
}

var errClosed = errors.New("capture: read after Close")

func (s *pcapSource) SetFilter(expr string) error { return s.h.SetBPFFilter(expr) }

func (s *pcapSource) Close() {
	s.ring.close()
	s.h.Close()
	if s.b != nil {
		C.free(unsafe.Pointer(s.b.buf))
		C.free(unsafe.Pointer(s.b))
		s.b, s.buf = nil, nil
	}
}
