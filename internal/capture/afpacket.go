package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// afSource is an AF_PACKET TPACKET_V3 ring, read without copies.
type afSource struct {
	tp       *afpacket.TPacket
	ring     *ringWait
	snaplen  int
	loopback bool
	ifindex  int
	// gopacket accumulates the kernel's counters; these are their values
	// when the real filter went in.
	baseRecv, baseDrop uint64
}

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
	// gopacket does not export the socket; ReadPacket waits on it itself.
	ring, err := newRingWait(int(reflect.ValueOf(tp).Elem().FieldByName("fd").Int()))
	if err != nil {
		tp.Close()
		return nil, err
	}
	s := &afSource{tp: tp, ring: ring, snaplen: c.Snaplen, loopback: ifc.Flags&net.FlagLoopback != 0, ifindex: ifc.Index}
	// The socket is bound before a filter can be attached: reject
	// everything, drain what slipped in, then attach the real filter.
	if err := tp.SetBPF([]bpf.RawInstruction{{Op: 0x06, K: 0}}); err != nil { // ret #0
		s.Close()
		return nil, err
	}
	s.drain()
	if err := s.SetFilter(c.Filter); err != nil {
		s.Close()
		return nil, err
	}
	if c.Promisc {
		if err := tp.SetPromiscuous(true); err != nil {
			s.Close()
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
		if !s.ring.wait(end) {
			break
		}
	}
	// The drained packets do not count.
	s.baseRecv, s.baseDrop, _ = s.cumulative()
}

// ReadPacket reads the ring without copies; see ringWait for the wait.
func (s *afSource) ReadPacket(ci *gopacket.CaptureInfo) ([]byte, error) {
	var deadline time.Time // read the clock only when the ring is empty
	for {
		var err error
		var data []byte
		data, *ci, err = s.tp.ZeroCopyReadPacketData()
		if err == nil {
			s.ring.got()
			return data, nil
		}
		if errors.Is(err, afpacket.ErrPoll) {
			// POLLERR: the socket has an error to report.
			if err := s.socketError(); err != nil {
				return nil, err
			}
		} else if !errors.Is(err, afpacket.ErrTimeout) {
			return data, err
		}
		if deadline.IsZero() {
			deadline = s.ring.until(time.Now())
		}
		if !s.ring.wait(deadline) {
			return nil, ErrTimeout
		}
	}
}

// ErrIfaceGone means the interface captured on was deleted (or moved to
// another network namespace), in libpcap's words, which tcpdump prints.
var ErrIfaceGone = errors.New("capture: The interface disappeared")

// socketError reads (and so clears) the error that made the socket
// report POLLERR, as libpcap does. ENETDOWN comes when the interface goes
// down, and when it is deleted: the first is no error (the kernel takes
// the socket back when the interface comes up), the second ends the
// capture, as libpcap's "The interface disappeared".
func (s *afSource) socketError() error {
	e, err := unix.GetsockoptInt(int(s.ring.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return fmt.Errorf("capture: reading the socket's error: %w", err)
	}
	switch {
	case e == 0:
		return nil
	case syscall.Errno(e) == unix.ENETDOWN:
		if _, err := net.InterfaceByIndex(s.ifindex); err != nil {
			return ErrIfaceGone
		}
		return nil
	}
	return fmt.Errorf("capture: %w", os.NewSyscallError("packet socket", syscall.Errno(e)))
}

func (s *afSource) LinkType() layers.LinkType { return layers.LinkTypeEthernet }

// WakeAt makes a read that waits for packets at t return ErrTimeout
// then, not up to a poll interval later (-t's deadline). Not safe for
// use during a read.
func (s *afSource) WakeAt(t time.Time) { s.ring.wakeAt = t }

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

func (s *afSource) Close() {
	s.ring.close()
	s.tp.Close()
}
