// Package capture reads packets from a network interface, through an
// AF_PACKET TPACKET_V3 ring (gopacket/afpacket) or through libpcap
// (gopacket/pcap), with a BPF filter compiled by libpcap and run in the
// kernel, and writes them to pcap or pcapng files.
package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Source is an open capture.
type Source interface {
	// ReadPacket returns the next packet; the data is valid until the
	// next call. It returns ErrTimeout when no packet came in a while,
	// so that callers can check for signals and deadlines.
	ReadPacket() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
	// Stats reports packets that passed the filter and packets the
	// kernel dropped, since the capture started.
	Stats() (received, dropped uint64, err error)
	// SetFilter replaces the kernel filter while capturing.
	SetFilter(expr string) error
	Close()
}

// ErrTimeout means no packet arrived within the poll interval.
var ErrTimeout = errors.New("capture: timeout")

// Errors that say the capture cannot start as asked; Open wraps them
// with the details.
var (
	ErrFilter     = errors.New("bad filter")
	ErrInterface  = errors.New("no such interface")
	ErrPermission = errors.New("capturing needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); run as root or grant them with setcap cap_net_raw,cap_net_admin+ep")
)

// classify wraps an error of opening a capture in the sentinel that
// explains it. libpcap reports errors as text.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrFilter) {
		return err
	}
	if msg := err.Error(); errors.Is(err, os.ErrPermission) || strings.Contains(msg, "not permitted") || strings.Contains(msg, "ermission denied") {
		return fmt.Errorf("%w (%v)", ErrPermission, err)
	}
	return err
}

// Config describes a capture.
type Config struct {
	Interface string // "any" for all interfaces
	Snaplen   int
	BufferKiB int // ring or kernel buffer size, as tcpdump's -B
	Filter    string
	Engine    string // "afpacket" (default) or "pcap"
	Promisc   bool
}

const pollInterval = 200 * time.Millisecond

// BlockTimeout is how long the kernel fills a ring block before handing
// it over part-full. Each hand-over costs a wake-up (and a Go scheduler
// hand-off), so it is long, as libpcap's default timeout is; a reader
// that stops must read on for this long to get the last packets.
const BlockTimeout = 100 * time.Millisecond

// Open starts a capture. The afpacket engine cannot give cooked headers
// for "any", which then goes through libpcap.
func Open(c Config) (Source, error) {
	if c.Interface != "" && c.Interface != "any" {
		if _, err := net.InterfaceByName(c.Interface); err != nil {
			return nil, fmt.Errorf("%w %q (gotcpdump -D lists them)", ErrInterface, c.Interface)
		}
	}
	if c.Snaplen <= 0 {
		c.Snaplen = 262144
	}
	if c.BufferKiB <= 0 {
		c.BufferKiB = 32 * 1024
	}
	switch {
	case c.Engine == "pcap" || c.Interface == "any" || c.Interface == "":
		s, err := openPcap(c)
		return s, classify(err)
	case c.Engine == "" || c.Engine == "afpacket":
		s, err := openAFPacket(c)
		return s, classify(err)
	}
	return nil, fmt.Errorf("capture: unknown engine %q (afpacket or pcap)", c.Engine)
}

// pcapSource is libpcap, the fallback engine.
type pcapSource struct {
	h *pcap.Handle
}

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
	if err := in.SetTimeout(pollInterval); err != nil {
		return nil, err
	}
	if err := in.SetBufferSize(c.BufferKiB * 1024); err != nil {
		return nil, err
	}
	if err := in.SetImmediateMode(true); err != nil {
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
	return &pcapSource{h: h}, nil
}

func (p *pcapSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	data, ci, err := p.h.ZeroCopyReadPacketData()
	if errors.Is(err, pcap.NextErrorTimeoutExpired) {
		return nil, ci, ErrTimeout
	}
	return data, ci, err
}

func (p *pcapSource) LinkType() layers.LinkType { return p.h.LinkType() }

func (p *pcapSource) Stats() (uint64, uint64, error) {
	s, err := p.h.Stats()
	if err != nil {
		return 0, 0, err
	}
	return uint64(s.PacketsReceived), uint64(s.PacketsDropped), nil
}

func (p *pcapSource) SetFilter(expr string) error { return p.h.SetBPFFilter(expr) }

func (p *pcapSource) Close() { p.h.Close() }

// afSource is an AF_PACKET TPACKET_V3 ring, read without copies.
type afSource struct {
	tp       *afpacket.TPacket
	fd       int32
	snaplen  int
	loopback bool
	// gopacket accumulates the kernel's counters; these are their values
	// when the real filter went in.
	baseRecv, baseDrop uint64
	// dry is when ReadPacket last found the ring empty after a packet
	// (zero while packets come): long dry spells wait differently.
	dry time.Time
}

// idleAfter is how long the ring stays empty before the capture counts
// as idle: longer than BlockTimeout, after which the kernel hands over
// any packet that came.
const idleAfter = 2 * BlockTimeout

func openAFPacket(c Config) (Source, error) {
	ifc, err := net.InterfaceByName(c.Interface)
	if err != nil {
		return nil, err
	}
	// A block must hold the largest packet (GRO and TSO hand packet
	// sockets up to 64 KiB, BIG TCP more), so it is sized by the snap
	// length; the ring is then -B, as with libpcap, in at least 8 blocks.
	frame := 1 << 16
	for frame < c.Snaplen+128 && frame < 1<<20 {
		frame <<= 1
	}
	block := frame
	blocks := max(c.BufferKiB*1024/block, 8)
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(ifc.Name),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(frame),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptPollTimeout(0), // see ReadPacket
		afpacket.OptBlockTimeout(BlockTimeout),
	)
	if err != nil {
		return nil, err
	}
	s := &afSource{tp: tp, snaplen: c.Snaplen, loopback: ifc.Flags&net.FlagLoopback != 0,
		// gopacket does not export the socket; ReadPacket polls it itself.
		fd: int32(reflect.ValueOf(tp).Elem().FieldByName("fd").Int())}
	// The socket is bound before a filter can be attached: reject
	// everything, drain what slipped in, then attach the real filter.
	if err := tp.SetBPF([]bpf.RawInstruction{{Op: 0x06, K: 0}}); err != nil { // ret #0
		tp.Close()
		return nil, err
	}
	s.drain()
	if err := s.SetFilter(c.Filter); err != nil {
		tp.Close()
		return nil, err
	}
	if c.Promisc {
		if err := tp.SetPromiscuous(true); err != nil {
			tp.Close()
			return nil, err
		}
	}
	return s, nil
}

// skipOutgoing drops a loopback interface's outgoing copies: a packet
// socket sees every looped packet twice, and libpcap skips the outgoing
// one, as this prefix does (ld the packet type ancillary word; outgoing
// packets return 0, the rest go on to the compiled filter).
var skipOutgoing = []bpf.RawInstruction{
	{Op: 0x20, K: 0xfffff004},      // ld [SKF_AD_OFF + SKF_AD_PKTTYPE]
	{Op: 0x15, Jt: 0, Jf: 1, K: 4}, // jeq #PACKET_OUTGOING
	{Op: 0x06, K: 0},               // ret #0
}

// compile turns a libpcap filter into a kernel program; an empty filter
// accepts every packet, cut to the snap length.
func compile(lt layers.LinkType, snaplen int, expr string) ([]bpf.RawInstruction, error) {
	ins, err := pcap.CompileBPFFilter(lt, snaplen, expr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrFilter, expr, err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return raw, nil
}

// drain reads and drops what the socket took in before the reject-all
// filter: those packets sit in a block that the kernel hands over only
// after BlockTimeout, so it reads until then.
func (s *afSource) drain() {
	end := time.Now().Add(BlockTimeout + 50*time.Millisecond)
	for {
		_, _, err := s.tp.ZeroCopyReadPacketData()
		if err == nil {
			continue
		}
		left := time.Until(end)
		if left <= 0 {
			break
		}
		s.sleep(left) // nothing here is in a hurry
	}
	// The drained packets do not count.
	s.baseRecv, s.baseDrop, _ = s.cumulative()
}

// ReadPacket waits for the ring's next block in ppoll(2) entered as a raw
// system call, which the Go runtime does not see. Through gopacket's
// poll (an ordinary system call) the runtime's monitor takes the
// goroutine's processor away after 10 ms and then wakes every 20 µs for
// a while: at a few hundred blocks a second that cost a quarter of the
// CPU time, and sleeping between non-blocking polls costs the same. A
// raw call that blocks is interrupted by the runtime's preemption signal
// (EINTR) within 10 ms, so the scheduler and the garbage collector wait
// no longer than that. Those signals, and the rescheduling after each,
// are what an idle capture spends its time on (4 times tcpdump's CPU),
// so once the ring has been empty for idleAfter the wait is an ordinary
// system call, and the runtime sleeps until a block comes.
func (s *afSource) ReadPacket() ([]byte, gopacket.CaptureInfo, error) {
	var deadline time.Time // read the clock only when the ring is empty
	for {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err == nil {
			if !s.dry.IsZero() {
				s.dry = time.Time{} // packets come again
			}
			return data, ci, nil
		}
		if !errors.Is(err, afpacket.ErrTimeout) {
			if errors.Is(err, afpacket.ErrPoll) {
				return nil, ci, ErrTimeout
			}
			return data, ci, err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(pollInterval)
		}
		if s.dry.IsZero() {
			s.dry = now
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return nil, ci, ErrTimeout
		}
		if now.Sub(s.dry) >= idleAfter {
			s.sleep(left)
		} else {
			s.wait(left)
		}
	}
}

// wait blocks until the ring has a block for user space, d passes, or a
// signal comes.
func (s *afSource) wait(d time.Duration) {
	fds := [1]unix.PollFd{{Fd: s.fd, Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(int64(d))
	_, _, _ = unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
}

// sleep is wait as a system call that the runtime sees.
func (s *afSource) sleep(d time.Duration) {
	fds := [1]unix.PollFd{{Fd: s.fd, Events: unix.POLLIN}}
	ts := unix.NsecToTimespec(int64(d))
	_, _ = unix.Ppoll(fds[:], &ts, nil)
}

func (s *afSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

func (s *afSource) cumulative() (uint64, uint64, error) {
	_, v3, err := s.tp.SocketStats()
	return uint64(v3.Packets()), uint64(v3.Drops()), err
}

func (s *afSource) Stats() (uint64, uint64, error) {
	r, d, err := s.cumulative()
	return r - s.baseRecv, d - s.baseDrop, err
}

func (s *afSource) SetFilter(expr string) error {
	prog, err := compile(layers.LinkTypeEthernet, s.snaplen, expr)
	if err != nil {
		return err
	}
	if s.loopback {
		prog = append(append([]bpf.RawInstruction(nil), skipOutgoing...), prog...)
	}
	return s.tp.SetBPF(prog)
}

func (s *afSource) Close() { s.tp.Close() }
