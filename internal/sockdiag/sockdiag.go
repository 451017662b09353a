// Package sockdiag counts TCP sockets in TIME_WAIT through netlink
// sock_diag (NETLINK_SOCK_DIAG, inet_diag), with a dump that the kernel
// filters to that state, as ss -tan state time-wait does. Reading
// /proc/net/tcp instead would make the kernel format every socket of the
// host as text.
//
// A storm holds tens of thousands of sockets and a watch samples them
// every second, so the dump is read from a raw netlink socket into one
// buffer and counted as it is read (Counter): materialising a message,
// then a TimeWait, for every socket made the garbage collector cost more
// than the kernel's walk of its socket table.
package sockdiag

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	tcpTimeWait = 6  // TCP_TIME_WAIT
	tcpListen   = 10 // TCP_LISTEN

	// struct inet_diag_req_v2 and struct inet_diag_msg (linux/inet_diag.h)
	reqLen = 56
	msgLen = 72
	sockID = 4 // offset of the inet_diag_sockid in both

	// A dump's datagrams are at most 32 KiB (netlink_recvmsg caps what it
	// learns of the reader's buffer there); a larger buffer never truncates.
	bufLen = 64 << 10
	// recvTimeout bounds a read of a kernel that does not answer.
	recvTimeout = 5 * time.Second
	// maxInterrupted is how many dumps in a row may be interrupted
	// (NLM_F_DUMP_INTR) before a sample settles for the last one.
	maxInterrupted = 3
)

var (
	// ErrShort means the kernel sent a message shorter than its header
	// or than inet_diag_msg.
	ErrShort = errors.New("sockdiag: short netlink message")
	// ErrTruncated means a datagram did not fit the receive buffer: the
	// rest of the dump is lost.
	ErrTruncated = errors.New("sockdiag: netlink datagram truncated")
	// ErrSequence means a message answered another request than the
	// one sent.
	ErrSequence = errors.New("sockdiag: netlink reply out of sequence")
)

// PortCount is the number of TIME_WAIT sockets of one service port.
type PortCount struct {
	Port uint16
	// Client is true when this host is the client: the service port is
	// the remote one and the local ephemeral ports are tied up.
	Client bool
	Count  int
}

// Counter samples the TIME_WAIT sockets of the network namespace it was
// first used in, grouped by service port (service). It keeps
// its netlink socket, buffer and maps from one sample to the next, so
// that a sample allocates nothing however many sockets it counts. A
// Counter is not safe for concurrent use.
type Counter struct {
	fd        int // NETLINK_SOCK_DIAG socket; -1: the next sample opens one
	seq       uint32
	req       [unix.NLMSG_HDRLEN + reqLen]byte
	buf       []byte
	listening map[uint16]bool
	counts    map[portKey]int
	ports     []PortCount
}

type portKey struct {
	port   uint16
	client bool
}

// NewCounter returns a Counter; its socket is opened by the first sample.
func NewCounter() *Counter {
	return &Counter{fd: -1, buf: make([]byte, bufLen), listening: map[uint16]bool{}, counts: map[portKey]int{}}
}

// Close closes the Counter's socket; a later sample opens another.
func (c *Counter) Close() error {
	if c.fd < 0 {
		return nil
	}
	err := unix.Close(c.fd)
	c.fd = -1
	return err
}

// Sample counts the TIME_WAIT sockets, IPv4 and IPv6, and groups them by
// service port, largest groups first, with the listening ports and the
// ephemeral range lo-hi; when the listeners cannot be dumped, the range
// alone decides. ports is only valid until the next sample. On an error, n is
// 0 and ports empty.
func (c *Counter) Sample(lo, hi uint16) (n int, ports []PortCount, err error) {
	// The listeners come first: a socket is counted as it is read, and
	// its group depends on them.
	clear(c.listening)
	if _, err := c.dump(tcpListen, func(m []byte) { c.listening[localPort(m)] = true }); err != nil {
		clear(c.listening)
	}
	for try := 1; ; try++ {
		n = 0
		clear(c.counts)
		intr, err := c.dump(tcpTimeWait, func(m []byte) {
			n++
			c.counts[service(localPort(m), remotePort(m), c.listening, lo, hi)]++
		})
		if err != nil {
			return 0, c.ports[:0], err
		}
		// The socket table changed under an interrupted dump, which may
		// then miss or repeat sockets: another is likely whole.
		if !intr || try == maxInterrupted {
			break
		}
	}
	c.ports = appendSorted(c.ports[:0], c.counts)
	return n, c.ports, nil
}

// dump asks the kernel for the TCP sockets in state, IPv4 then IPv6, and
// calls fn with each inet_diag_msg (at least msgLen bytes, valid only
// during the call). intr reports that a dump was interrupted. After an
// error the socket is closed: unread datagrams of the broken dump would
// otherwise be read as the next one's.
func (c *Counter) dump(state uint, fn func(msg []byte)) (intr bool, err error) {
	if c.fd < 0 {
		if err := c.open(); err != nil {
			return false, fmt.Errorf("sockdiag: %w", err)
		}
	}
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		i, err := c.dumpFamily(family, state, fn)
		if err != nil {
			c.Close()
			return false, fmt.Errorf("sockdiag: dumping family %d: %w", family, err)
		}
		intr = intr || i
	}
	return intr, nil
}

func (c *Counter) open() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return err
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return err
	}
	c.fd = fd
	return nil
}

// dumpFamily sends one dump request (nlmsghdr and inet_diag_req_v2) and
// walks the messages of each datagram of the answer until NLMSG_DONE.
func (c *Counter) dumpFamily(family uint8, state uint, fn func([]byte)) (intr bool, err error) {
	c.seq++
	req := c.req[:]
	clear(req)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], c.seq)
	r := req[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(r[4:], 1<<state)
	// An unconnected netlink socket writes to the kernel.
	if _, err := unix.Write(c.fd, req); err != nil {
		return false, err
	}
	for {
		n, err := c.recv()
		if err != nil {
			return false, err
		}
		if n > len(c.buf) {
			c.buf = make([]byte, n) // for the next dump; this one is lost
			return false, ErrTruncated
		}
		for b := c.buf[:n]; len(b) > 0; {
			if len(b) < unix.NLMSG_HDRLEN {
				return false, ErrShort
			}
			l := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			flags := binary.NativeEndian.Uint16(b[6:])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return false, ErrShort
			}
			if binary.NativeEndian.Uint32(b[8:]) != c.seq {
				return false, ErrSequence
			}
			intr = intr || flags&unix.NLM_F_DUMP_INTR != 0
			body := b[unix.NLMSG_HDRLEN:l]
			switch typ {
			case unix.SOCK_DIAG_BY_FAMILY:
				if len(body) < msgLen {
					return false, ErrShort
				}
				fn(body)
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				// Both carry an int: 0, or a negative errno (an error
				// with 0 is an acknowledgement, not sent to a dump).
				if len(body) < 4 {
					if typ == unix.NLMSG_DONE {
						return intr, nil
					}
					return false, ErrShort
				}
				if e := int32(binary.NativeEndian.Uint32(body)); e < 0 {
					return false, syscall.Errno(-e)
				}
				if typ == unix.NLMSG_DONE {
					return intr, nil
				}
			}
			b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
		}
	}
}

// recv reads one datagram into c.buf and returns its full length, larger
// than the buffer if it was truncated (MSG_TRUNC). It calls recvfrom(2)
// itself because unix.Recvfrom allocates the sender's address at every
// call.
func (c *Counter) recv() (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(c.fd), uintptr(unsafe.Pointer(unsafe.SliceData(c.buf))),
			uintptr(len(c.buf)), unix.MSG_TRUNC, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR: // with SO_RCVTIMEO set, even under SA_RESTART
			continue
		case unix.EAGAIN:
			return 0, fmt.Errorf("no answer in %v: %w", recvTimeout, errno)
		}
		return 0, errno
	}
}

func localPort(m []byte) uint16  { return binary.BigEndian.Uint16(m[sockID:]) }
func remotePort(m []byte) uint16 { return binary.BigEndian.Uint16(m[sockID+2:]) }

// service is the group of one socket: its service port, which is the
// local port when a socket listens on it (a server port may lie inside
// the ephemeral range, as gRPC's 50051 does) or when it lies outside the
// ephemeral range lo-hi (this host served the connection), the remote
// port otherwise.
func service(local, remote uint16, listening map[uint16]bool, lo, hi uint16) portKey {
	if listening[local] || local < lo || local > hi {
		return portKey{local, false}
	}
	return portKey{remote, true}
}

// appendSorted appends the groups to out, largest first, then by port,
// server before client.
func appendSorted(out []PortCount, counts map[portKey]int) []PortCount {
	for k, n := range counts {
		out = append(out, PortCount{k.port, k.client, n})
	}
	slices.SortFunc(out, func(a, b PortCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Port, b.Port); c != 0 {
			return c
		}
		return cmp.Compare(b2i(a.Client), b2i(b.Client))
	})
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// EphemeralRange reads net.ipv4.ip_local_port_range of the current
// network namespace (the kernel's default when it cannot).
func EphemeralRange() (lo, hi uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768, 60999
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768, 60999
	}
	l, err1 := strconv.ParseUint(f[0], 10, 16)
	h, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil {
		return 32768, 60999
	}
	return uint16(l), uint16(h)
}
