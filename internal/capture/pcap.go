package capture

/*
#cgo CFLAGS: -Wall -Wextra -Werror
#cgo LDFLAGS: -lpcap
#include <endian.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <pcap/pcap.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// A batch is a run of pcap file records (little-endian, nanosecond
// timestamps) or, when ng is set, of pcapng enhanced packet blocks, as
// gotcpdump writes them: the file takes a batch whole, in writes of at
// most piece octets (writePiece in writer.go says why).
struct gc_batch {
	pcap_t *p;
	unsigned char *buf;
	size_t cap;  // octets in buf
	size_t full; // at this many a batch ends
	size_t used;
	size_t piece; // the most one write gives the file
	uint64_t packets, octets; // in the batch, and their lengths on the wire
	uint32_t snap;
	uint32_t nano;    // 1 if libpcap gives nanoseconds, else microseconds
	uint32_t ng;      // 1: enhanced packet blocks (Layout NgBlocks)
	uint64_t overrun; // packets that found no room (see gc_put)
	int64_t last_ns;  // the batch's latest packet time, ns since 1970
	// gc_run's state: its totals, the failed write's errno or the
	// failed read's pcap status, and how gc_interrupt stops it.
	uint64_t run_packets, run_octets, run_written;
	int err, pcap_status;
	int stop; // atomic
	int wake; // atomic: gc_wake asked gc_run to return once
	int efd;  // an eventfd that wakes gc_run's poll, or -1
};

// gc_size is the size of a record or block of n octets of packet.
static size_t gc_size(const struct gc_batch *b, uint32_t n) {
	// An enhanced packet block: its fields, the packet padded to 32
	// bits, and the block's length again.
	return b->ng ? 28 + (((size_t)n + 3) & ~(size_t)3) + 4 : 16 + (size_t)n;
}

// gc_put stores one packet. libpcap checks pcap_breakloop after every
// packet it hands over, so a batch ends past full by at most one packet
// of the snap length, for which buf has room; were a packet ever to
// find none, it is counted, and reported with the kernel's drops.
static void gc_put(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
	struct gc_batch *b = (struct gc_batch *)user;
	uint32_t n = h->caplen < b->snap ? h->caplen : b->snap;
	size_t size = gc_size(b, n);
	if (b->cap - b->used < size) {
		b->overrun++;
		pcap_breakloop(b->p);
		return;
	}
	uint32_t frac = (uint32_t)(b->nano ? h->ts.tv_usec : h->ts.tv_usec * 1000);
	int64_t ns = (int64_t)h->ts.tv_sec * 1000000000 + frac;
	unsigned char *r = b->buf + b->used;
	if (b->ng) {
		// As pcapgo's NgWriter writes it for the file's one interface
		// (if_tsresol 9) and no options: the time in nanoseconds, high
		// word first, zeros to pad the packet.
		uint32_t blk[7] = {
			htole32(6), htole32((uint32_t)size), 0,
			htole32((uint32_t)((uint64_t)ns >> 32)), htole32((uint32_t)ns),
			htole32(n), htole32(h->len),
		};
		memcpy(r, blk, sizeof blk);
		memcpy(r + sizeof blk, data, n);
		memset(r + sizeof blk + n, 0, size - 4 - sizeof blk - n);
		memcpy(r + size - 4, &blk[1], 4);
	} else {
		uint32_t rec[4] = {htole32((uint32_t)h->ts.tv_sec), htole32(frac), htole32(n), htole32(h->len)};
		memcpy(r, rec, sizeof rec);
		memcpy(r + sizeof rec, data, n);
	}
	if (ns > b->last_ns) {
		b->last_ns = ns;
	}
	b->used += size;
	b->packets++;
	b->octets += h->len;
	if (b->used >= b->full) {
		pcap_breakloop(b->p);
	}
}

// gc_fill_n moves what the ring holds (the handle is non-blocking) into
// the batch, up to full octets or cnt packets (-1: no limit), and
// returns pcap_dispatch's result.
static int gc_fill_n(struct gc_batch *b, int cnt) {
	b->used = 0;
	b->packets = 0;
	b->octets = 0;
	b->last_ns = 0;
	return pcap_dispatch(b->p, cnt, gc_put, (u_char *)b);
}

static int gc_fill(struct gc_batch *b) { return gc_fill_n(b, -1); }

enum { GC_RUN_IDLE, GC_RUN_LEFT, GC_RUN_WRITE_ERR, GC_RUN_READ_ERR, GC_RUN_POLL_ERR };

// gc_count_written adds to the run's totals what a batch's first off
// octets gave the file: its records whole, so that after a failed write
// (a full disk) the count is of the packets the file holds.
static void gc_count_written(struct gc_batch *b, size_t off) {
	for (size_t at = 0; at + (b->ng ? 28 : 16) <= off;) {
		uint32_t caplen, len;
		memcpy(&caplen, b->buf + at + (b->ng ? 20 : 8), 4);
		memcpy(&len, b->buf + at + (b->ng ? 24 : 12), 4);
		size_t size = gc_size(b, le32toh(caplen));
		if (at + size > off) {
			break;
		}
		b->run_packets++;
		b->run_octets += le32toh(len);
		at += size;
	}
	b->run_written += off;
}

static int64_t gc_now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

// gc_run is the capture's steady state, all in C: fill a batch, write it
// to fd whole, wait on the ring when it is empty. It returns
// GC_RUN_IDLE after ms or when gc_interrupt stops it; GC_RUN_LEFT with a
// batch left in b that Go must write itself because it may pass a limit:
// a packet at or after until_ns (a stop or a file rotation), room octets
// in the file, or want packets (0: no such limit); GC_RUN_WRITE_ERR or
// GC_RUN_POLL_ERR (errno in err) or GC_RUN_READ_ERR (pcap status in
// pcap_status). The run_* totals count the batches written. The time is
// checked after each batch too, so that a ring that never runs dry does
// not hold up the status line.
static int gc_run(struct gc_batch *b, int fd, int ms, int64_t until_ns, uint64_t room, uint64_t want) {
	b->run_packets = b->run_octets = b->run_written = 0;
	int64_t end = gc_now_ms() + ms;
	for (;;) {
		if (__atomic_load_n(&b->stop, __ATOMIC_RELAXED) || __atomic_exchange_n(&b->wake, 0, __ATOMIC_RELAXED)) {
			return GC_RUN_IDLE;
		}
		int st = gc_fill(b);
		if (b->used > 0) {
			if ((until_ns > 0 && b->last_ns >= until_ns) ||
			    (room > 0 && b->run_written + b->used >= room) ||
			    (want > 0 && b->run_packets + b->packets >= want)) {
				return GC_RUN_LEFT;
			}
			for (size_t off = 0; off < b->used;) {
				size_t piece = b->used - off < b->piece ? b->used - off : b->piece;
				ssize_t n = write(fd, b->buf + off, piece);
				if (n < 0 && errno == EINTR) {
					continue;
				}
				if (n <= 0) {
					b->err = n < 0 ? errno : EIO;
					gc_count_written(b, off);
					return GC_RUN_WRITE_ERR;
				}
				off += (size_t)n;
			}
			b->run_packets += b->packets;
			b->run_octets += b->octets;
			b->run_written += b->used;
			if (gc_now_ms() >= end) {
				return GC_RUN_IDLE; // a read error comes again
			}
			if (st < 0) {
				continue; // a full batch; a read error comes again
			}
			// libpcap returned because the ring ran dry. Asked again, it
			// would only poll the ring once more (with a timeout of 0,
			// since the handle does not block), a system call for every
			// block: wait for the next block at once.
		} else if (st < 0 && st != PCAP_ERROR_BREAK) {
			b->pcap_status = st;
			return GC_RUN_READ_ERR;
		}
		int64_t left = end - gc_now_ms();
		if (left <= 0) {
			return GC_RUN_IDLE;
		}
		struct pollfd fds[2] = {{.fd = pcap_get_selectable_fd(b->p), .events = POLLIN}, {.fd = b->efd, .events = POLLIN}};
		if (poll(fds, 2, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR) {
			b->err = errno;
			return GC_RUN_POLL_ERR;
		}
		if (fds[1].revents & POLLIN) {
			// Reset the counter, which would wake every poll from now
			// on: what woke this one is in stop or wake, set before.
			uint64_t n;
			ssize_t r = read(b->efd, &n, sizeof n);
			(void)r; // EAGAIN: another read took it
		}
	}
}

// gc_file_wait waits up to ms for a capture file read from a pipe to
// have data, in its stream's buffer or on its descriptor: 1 when it has
// (or the descriptor has an error or end for the read to report), 0
// after ms or at a wake, -1 when gc_interrupt stopped the capture.
static int gc_file_wait(struct gc_batch *b, int ms) {
	if (__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		return -1;
	}
	FILE *fp = pcap_file(b->p);
	if (fp == NULL || fp->_IO_read_ptr < fp->_IO_read_end) {
		return 1;
	}
	struct pollfd fds[2] = {{.fd = fileno(fp), .events = POLLIN}, {.fd = b->efd, .events = POLLIN}};
	int n = poll(fds, b->efd >= 0 ? 2 : 1, ms);
	if (__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		return -1;
	}
	if (n < 0) {
		return errno == EINTR ? 0 : 1;
	}
	if (b->efd >= 0 && (fds[1].revents & POLLIN)) {
		uint64_t v;
		ssize_t r = read(b->efd, &v, sizeof v);
		(void)r;
	}
	return fds[0].revents ? 1 : 0;
}

// gc_wake makes gc_run return once, now or at its next call.
static void gc_wake(struct gc_batch *b) {
	__atomic_store_n(&b->wake, 1, __ATOMIC_RELAXED);
	uint64_t one = 1;
	ssize_t n = write(b->efd, &one, sizeof one);
	(void)n;
}

// gc_interrupt makes gc_run return, now and from then on.
static void gc_interrupt(struct gc_batch *b) {
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	uint64_t one = 1;
	ssize_t n = write(b->efd, &one, sizeof one);
	(void)n; // a full counter wakes the poll as well
}
*/
import "C"

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// pcapSource reads libpcap's ring a batch at a time: one cgo call
// (pcap_dispatch) copies every packet the ring holds, up to batchBytes,
// into a buffer as pcap file records or pcapng blocks (SetLayout), which
// a file takes whole (ReadRecords) or ReadPacket hands out one by one.
// Through gopacket's ZeroCopyReadPacketData each packet was a cgo call
// and a lock, and the handle had to be in immediate mode (TPACKET_V2, a
// wake-up a packet) to be read promptly: 8 times tcpdump's CPU, with
// drops at 200,000 packets a second where tcpdump had none. gopacket
// still opens, filters, counts and closes the handle.
type pcapSource struct {
	h       *pcap.Handle
	ring    *ringWait
	ifindex int
	b       *C.struct_gc_batch // and its buffer, in C memory
	buf     []byte             // the batch: records from off to end not yet read
	layout  Layout             // the batch's, and the next's
	off     int
	end     int
	mu      sync.Mutex // Interrupt, from another goroutine, against Close
	// statsMu: libpcap's pcap_stats adds the kernel's counts, which
	// reading clears, to the handle's without a lock, and the counts at
	// -t's deadline are read from a timer's goroutine (as gopacket's
	// afpacket locks its own).
	statsMu sync.Mutex
	file    bool   // a capture file (OpenFile): its end is io.EOF
	pipe    bool   // a capture file from a pipe: read a packet at a time
	name    string // the file's, for its errors
	fileErr error  // the file's read error, once its packets before it are read
}

// batchBytes is how much one batch holds, besides room for one more
// packet of the snap length.
const batchBytes = 1 << 20

// recSize is the size of a pcap record header; blockRoom the most that
// an enhanced packet block adds to a packet (gc_size): its fields (28
// octets), padding and trailer.
const (
	recSize   = 16
	blockRoom = 28 + 3 + 4
)

func openPcap(c Config, ifindex int) (Source, error) {
	h, err := activate(c)
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
	p, err := pcapT(h)
	if err != nil {
		h.Close()
		return nil, err
	}
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
	s := &pcapSource{h: h, ring: ring, ifindex: ifindex}
	if err := s.newBatch(p); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// activate opens c's interface through libpcap with c's snap length,
// buffer, modes, time stamp precision, link type and direction, but no
// filter: what openPcap captures on, -d compiles for and -L lists.
func activate(c Config) (*pcap.Handle, error) {
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
	// kernel hands over when full or after the timeout. In immediate
	// mode it uses TPACKET_V2 and wakes the reader for each packet.
	if err := in.SetTimeout(BlockTimeout); err != nil {
		return nil, err
	}
	if c.Immediate {
		if err := in.SetImmediateMode(true); err != nil {
			return nil, err
		}
	}
	if err := in.SetBufferSize(c.BufferKiB * 1024); err != nil {
		return nil, err
	}
	if c.Nano {
		// gopacket has no call for it. tcpdump's words if it fails.
		p, err := pcapT(in)
		if err != nil {
			return nil, err
		}
		if st := C.pcap_set_tstamp_precision(p, C.PCAP_TSTAMP_PRECISION_NANO); st != 0 {
			return nil, fmt.Errorf("%s: Can't set nanosecond time stamp precision: %s", dev, C.GoString(C.pcap_statustostr(st)))
		}
	}
	h, err := in.Activate()
	if err != nil {
		// As tcpdump says it: "eth1: That device is not up", in
		// libpcap's words, where gopacket has its own.
		if err.Error() == "Interface Not Up" {
			err = errors.New(C.GoString(C.pcap_statustostr(C.PCAP_ERROR_IFACE_NOT_UP)))
		}
		return nil, fmt.Errorf("%s: %w", dev, err)
	}
	switch {
	case c.LinkType != "":
		// As tcpdump -y; libpcap's words for a type the device lacks:
		// "EN10MB is not one of the DLTs supported by this device".
		dlt := pcap.DatalinkNameToVal(c.LinkType)
		if dlt < 0 {
			h.Close()
			return nil, fmt.Errorf("invalid data link type %s", c.LinkType)
		}
		if err := h.SetLinkType(layers.LinkType(dlt)); err != nil {
			h.Close()
			return nil, err
		}
	case dev == "any":
		// Cooked headers v2, as tcpdump 4.99 asks for: each packet
		// names the interface it came through (on a node, the pod's
		// veth). Before the filter, which is compiled for the link
		// type. A libpcap without v2 keeps v1.
		_ = h.SetLinkType(layers.LinkTypeLinuxSLL2)
	}
	if d, ok := map[string]pcap.Direction{"in": pcap.DirectionIn, "out": pcap.DirectionOut}[c.Direction]; ok {
		if err := h.SetDirection(d); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture: -Q %s: %v", c.Direction, err)
		}
	}
	return h, nil
}

// IfIndex is the kernel's index of the named interface, from one ioctl
// (if_nametoindex). net.InterfaceByName reads the whole link table, which
// on a host with 1,000 interfaces (a node's pods' veths) costs about 8 ms
// of CPU each time. gopacket's NewInactiveHandle still reads it once.
func IfIndex(name string) (int, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	i, err := C.if_nametoindex(cs)
	if i == 0 {
		if err == nil {
			err = syscall.ENODEV
		}
		return 0, err
	}
	return int(i), nil
}

// newBatch sets up the batch that reads p, in C memory.
func (s *pcapSource) newBatch(p *C.pcap_t) error {
	snap := uint32(C.pcap_snapshot(p))
	size := batchBytes + blockRoom + int(snap)
	if s.b = (*C.struct_gc_batch)(C.calloc(1, C.sizeof_struct_gc_batch)); s.b == nil {
		return errNoBatch
	}
	s.b.efd = -1 // before anything can fail: Close closes it
	if s.b.buf = (*C.uchar)(C.malloc(C.size_t(size))); s.b.buf == nil {
		return errNoBatch
	}
	s.b.p, s.b.cap, s.b.full, s.b.snap = p, C.size_t(size), batchBytes, C.uint32_t(snap)
	s.b.piece = writePiece
	s.b.efd = C.eventfd(0, C.EFD_CLOEXEC|C.EFD_NONBLOCK) // -1: Run is not offered
	if C.pcap_get_tstamp_precision(p) == C.PCAP_TSTAMP_PRECISION_NANO {
		s.b.nano = 1
	}
	s.buf = unsafe.Slice((*byte)(unsafe.Pointer(s.b.buf)), size)
	return nil
}

var errNoBatch = errors.New("capture: out of memory for a batch")

// pcapT is the pcap_t of a gopacket *pcap.Handle or *pcap.InactiveHandle:
// gopacket does not export it, and the batches read it directly.
func pcapT(h any) (*C.pcap_t, error) {
	field := reflect.ValueOf(h).Elem().FieldByName("cptr")
	if !field.IsValid() || field.Kind() != reflect.Pointer || field.IsNil() {
		return nil, errors.New("capture: this gopacket/pcap keeps no pcap_t where it used to")
	}
	return (*C.pcap_t)(field.UnsafePointer()), nil
}

// openSavefile reads a pcap file as a source whose batches are
// full octets at most, for tests of Run with packets of known times and
// sizes (a file is always ready to read, so Run spins when it runs dry).
func openSavefile(name string, full int) (*pcapSource, error) {
	h, err := pcap.OpenOffline(name)
	if err != nil {
		return nil, err
	}
	p, err := pcapT(h)
	if err != nil {
		h.Close()
		return nil, err
	}
	s := &pcapSource{h: h}
	if err := s.newBatch(p); err != nil {
		s.Close()
		return nil, err
	}
	s.b.full = C.size_t(full)
	return s, nil
}

// SetLayout sets how the batches lay their packets out from the next
// on (PcapRecords to begin with), as the file that takes them holds
// them. It reports false, and changes nothing, while records of the
// other layout are unread (a file's first packet, read by NextTime):
// the caller then reads packet by packet.
func (s *pcapSource) SetLayout(l Layout) bool {
	if s.b == nil || (s.off < s.end && l != s.layout) {
		return false
	}
	s.layout = l
	s.b.ng = C.uint32_t(l)
	return true
}

// fill reads a batch; it returns false when the ring held nothing.
func (s *pcapSource) fill() (bool, error) {
	if s.b == nil {
		return false, errClosed
	}
	if s.file {
		cnt := -1
		if s.pipe {
			cnt = 1
		}
		return s.fillFile(cnt)
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

// fillFile reads a batch of a capture file; it returns false at the
// file's end. A batch that filled ends in pcap_breakloop, whose flag
// libpcap's file reader leaves set when it has handed over packets: the
// next pcap_dispatch clears it and returns PCAP_ERROR_BREAK without
// reading, which is no end of file (taken for one, every -r stopped
// after its first batch). A read error (a truncated file) comes after
// the packets before it, in the batch, and is kept: libpcap reports it
// once, and the next read would find the end of the file.
// It reads cnt packets at most (-1: a batch).
func (s *pcapSource) fillFile(cnt int) (bool, error) {
	if s.fileErr != nil {
		s.off, s.end = 0, 0
		return false, s.fileErr
	}
	status := C.gc_fill_n(s.b, C.int(cnt))
	if status == C.PCAP_ERROR_BREAK && s.b.used == 0 {
		status = C.gc_fill_n(s.b, C.int(cnt))
	}
	s.off, s.end = 0, int(s.b.used)
	if status < 0 && status != C.PCAP_ERROR_BREAK {
		s.fileErr = fmt.Errorf("%s: %v", s.name, s.h.Error()) // libpcap's words, as tcpdump prints them
		if s.end == 0 {
			return false, s.fileErr
		}
	}
	return s.end > 0, nil
}

// NextTime is the time of a capture file's next packet, which is left
// to be read; ok is false at the end of the file or at a read error,
// which the next read returns. The packet is read alone, so that a
// pipe is not waited on for a whole batch.
func (s *pcapSource) NextTime() (t time.Time, ok bool) {
	if !s.file || s.b == nil {
		return t, false
	}
	if s.off >= s.end {
		if ok, err := s.fillFile(1); !ok || err != nil {
			return t, false
		}
	}
	h, err := s.layout.Record(s.buf[s.off:s.end])
	if err != nil {
		return t, false
	}
	return h.Time, true
}

// next makes sure the batch holds a record, reading the ring (and
// waiting for it) when it is used up.
func (s *pcapSource) next() error {
	if s.off < s.end {
		return nil
	}
	var deadline time.Time
	for {
		if s.pipe && s.b != nil {
			// A pipe's writer may stall: wait for it here, where a stop
			// (Interrupt) ends the wait, not in libpcap's read, which the
			// runtime restarts after each signal.
			if C.gc_file_wait(s.b, C.int(pollInterval.Milliseconds())) != 1 {
				return ErrTimeout
			}
		}
		ok, err := s.fill()
		if err != nil {
			return err
		}
		if s.file {
			if !ok {
				return io.EOF // libpcap reads a file to its end or a full batch
			}
			return nil
		}
		if ok {
			s.ring.got()
			runtime.Gosched() // see ringWait
			return nil
		}
		if deadline.IsZero() {
			deadline = s.ring.until(time.Now())
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
	if s.layout != PcapRecords {
		h, err := s.layout.Record(s.buf[s.off:s.end])
		if err != nil {
			return nil, err
		}
		*ci = gopacket.CaptureInfo{Timestamp: h.Time, CaptureLength: h.Captured, Length: h.Length, InterfaceIndex: s.ifindex}
		data := s.buf[s.off+h.Data : s.off+h.Data+h.Captured : s.off+h.Data+h.Captured]
		s.off += h.Size
		return data, nil
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

// ReadRecords returns the packets of a batch not yet read, as records
// of the source's layout valid until the next read or Close, with their
// number and their lengths on the wire; those are zero if ReadPacket has
// read part of the batch.
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

// WakeAt makes a read that waits for packets at t return ErrTimeout
// then, not up to a poll interval later (-t's deadline). Not safe for
// use during a read.
func (s *pcapSource) WakeAt(t time.Time) {
	if s.ring != nil {
		s.ring.wakeAt = t
	}
}

func (s *pcapSource) Stats() (uint64, uint64, error) {
	s.statsMu.Lock()
	st, err := s.h.Stats()
	s.statsMu.Unlock()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ring != nil {
		s.ring.close()
	}
	s.h.Close()
	if s.b != nil {
		if s.b.efd >= 0 {
			C.close(s.b.efd)
		}
		C.free(unsafe.Pointer(s.b.buf))
		C.free(unsafe.Pointer(s.b))
		s.b, s.buf = nil, nil
	}
}

// RunLimits bound a Run. A batch that may pass one is left to
// ReadRecords, for the caller to split as it would any batch.
type RunLimits struct {
	Until   time.Time     // a packet at or after it (zero: none)
	Room    int64         // octets the file takes before it rotates (0: no limit)
	Want    int           // packets still wanted (0: no limit)
	Timeout time.Duration // how long Run goes on
}

// RunResult is what a Run wrote.
type RunResult struct {
	Packets int
	Octets  int64 // the packets' lengths on the wire
	Written int64 // octets of records written to the file
	Left    bool  // a batch waits for ReadRecords
}

// ErrNoRun means Run is not offered; ReadRecords is.
var ErrNoRun = errors.New("capture: this source cannot run in C")

// Run reads batches and writes each whole to fd (a file of the source's
// layout open for writing, after its header and records), all in one cgo
// call, until lim.Timeout passes, Interrupt is called, a batch may pass
// a limit or an error. A capture's steady state then costs what
// tcpdump's does: in Go, a goroutine that reads and writes in turn keeps
// the runtime's monitor (sysmon) waking every 10 ms, and every system
// call or cgo call after an idle stretch starts it polling every 20 µs
// for a while, which took a fifth of gotcpdump's CPU at 50,000 packets a
// second. A write error is an *os.SyscallError; of the failed batch, the
// records that reached the file whole are counted.
// Run, ReadRecords and Close belong to one goroutine; only Interrupt may
// come from another.
func (s *pcapSource) Run(fd int, lim RunLimits) (RunResult, error) {
	if s.b == nil || s.b.efd < 0 || s.off < s.end || s.file {
		return RunResult{}, ErrNoRun
	}
	var until int64
	if !lim.Until.IsZero() {
		until = max(lim.Until.UnixNano(), 1)
	}
	ms := max(lim.Timeout.Milliseconds(), 1)
	status := C.gc_run(s.b, C.int(fd), C.int(min(ms, 1<<30)), C.int64_t(until), C.uint64_t(max(lim.Room, 0)), C.uint64_t(max(lim.Want, 0)))
	r := RunResult{Packets: int(s.b.run_packets), Octets: int64(s.b.run_octets), Written: int64(s.b.run_written)}
	switch status {
	case C.GC_RUN_LEFT:
		s.off, s.end = 0, int(s.b.used)
		r.Left = true
	case C.GC_RUN_WRITE_ERR:
		return r, os.NewSyscallError("write", syscall.Errno(s.b.err))
	case C.GC_RUN_READ_ERR:
		return r, fmt.Errorf("capture: %v", s.h.Error())
	case C.GC_RUN_POLL_ERR:
		return r, fmt.Errorf("capture: waiting for packets: %w", syscall.Errno(s.b.err))
	}
	return r, nil
}

// Interrupt makes a Run return now, and every Run after it at once. It
// may be called from any goroutine, also after Close.
func (s *pcapSource) Interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b != nil && s.b.efd >= 0 {
		C.gc_interrupt(s.b)
	}
}

// Wake makes a Run return now, or the next Run at once, without
// stopping the ones after it (for SIGUSR1's counts). It may be called
// from any goroutine, also after Close.
func (s *pcapSource) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b != nil && s.b.efd >= 0 {
		C.gc_wake(s.b)
	}
}

// Devices returns the names of libpcap's devices in its order (that of
// tcpdump -D): network interfaces, any, and devices that are not network
// interfaces (nflog, nfqueue, D-Bus and Bluetooth monitors).
func Devices() ([]string, error) {
	devs, err := DeviceList()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(devs))
	for _, d := range devs {
		names = append(names, d.Name)
	}
	return names, nil
}

// Device is one of libpcap's devices, as tcpdump -D lists it.
type Device struct {
	Name, Description string
	Flags             uint32 // libpcap's PCAP_IF_*
}

// DeviceList returns libpcap's devices in its order.
func DeviceList() ([]Device, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, err
	}
	list := make([]Device, 0, len(devs))
	for _, d := range devs {
		list = append(list, Device{Name: d.Name, Description: d.Description, Flags: d.Flags})
	}
	return list, nil
}

// Status is what tcpdump -D prints of d's flags between brackets ("Up,
// Running, Connected", or "none"), or "" where it prints no brackets.
func (d Device) Status() string {
	if d.Flags == 0 {
		return ""
	}
	var s []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{C.PCAP_IF_UP, "Up"}, {C.PCAP_IF_RUNNING, "Running"}, {C.PCAP_IF_LOOPBACK, "Loopback"}, {C.PCAP_IF_WIRELESS, "Wireless"}} {
		if d.Flags&f.bit != 0 {
			s = append(s, f.name)
		}
	}
	if len(s) == 0 {
		s = append(s, "none")
	}
	wireless := d.Flags&C.PCAP_IF_WIRELESS != 0
	switch d.Flags & C.PCAP_IF_CONNECTION_STATUS {
	case C.PCAP_IF_CONNECTION_STATUS_UNKNOWN:
		s = append(s, map[bool]string{false: "Connection status unknown", true: "Association status unknown"}[wireless])
	case C.PCAP_IF_CONNECTION_STATUS_CONNECTED:
		s = append(s, map[bool]string{false: "Connected", true: "Associated"}[wireless])
	case C.PCAP_IF_CONNECTION_STATUS_DISCONNECTED:
		s = append(s, map[bool]string{false: "Disconnected", true: "Not associated"}[wireless])
	}
	return strings.Join(s, ", ")
}

// isPcapDevice reports whether libpcap lists a device of that name.
func isPcapDevice(name string) bool {
	names, err := Devices()
	return err == nil && slices.Contains(names, name)
}
