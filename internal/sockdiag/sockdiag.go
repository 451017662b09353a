// Package sockdiag counts TCP sockets in TIME_WAIT through netlink
// sock_diag (NETLINK_SOCK_DIAG, inet_diag), with a dump that the kernel
// filters to that state, as ss -tan state time-wait does. Reading
// /proc/net/tcp instead would make the kernel format every socket of the
// host as text.
package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TimeWait is one socket in TIME_WAIT.
type TimeWait struct {
	Local, Remote netip.AddrPort
	Left          time.Duration // until the kernel reaps it
}

const (
	tcpTimeWait = 6  // TCP_TIME_WAIT
	tcpListen   = 10 // TCP_LISTEN

	// struct inet_diag_req_v2 and struct inet_diag_msg (linux/inet_diag.h)
	reqLen  = 56
	msgLen  = 72
	sockID  = 4 // offset of the inet_diag_sockid in both
	expires = 52
)

// ErrShort means the kernel sent a message shorter than inet_diag_msg.
var ErrShort = errors.New("sockdiag: short inet_diag message")

// DumpTimeWait lists the TIME_WAIT sockets of the current network
// namespace, IPv4 and IPv6.
func DumpTimeWait() ([]TimeWait, error) { return dump(tcpTimeWait) }

// DumpListening lists the local ports with a listening TCP socket in the
// current network namespace, IPv4 and IPv6: the ports this host serves,
// wherever they lie.
func DumpListening() (map[uint16]bool, error) {
	socks, err := dump(tcpListen)
	if err != nil {
		return nil, err
	}
	ports := make(map[uint16]bool, len(socks))
	for _, s := range socks {
		ports[s.Local.Port()] = true
	}
	return ports, nil
}

// dump lists the TCP sockets in state, IPv4 and IPv6, with a dump that
// the kernel filters to that state.
func dump(state uint) ([]TimeWait, error) {
	c, err := netlink.Dial(unix.NETLINK_SOCK_DIAG, nil)
	if err != nil {
		return nil, fmt.Errorf("sockdiag: %w", err)
	}
	defer c.Close()
	var out []TimeWait
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		req := make([]byte, reqLen)
		req[0], req[1] = family, unix.IPPROTO_TCP
		binary.NativeEndian.PutUint32(req[4:], 1<<state)
		msgs, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.SOCK_DIAG_BY_FAMILY, Flags: netlink.Request | netlink.Dump},
			Data:   req,
		})
		if err != nil {
			return nil, fmt.Errorf("sockdiag: dumping family %d: %w", family, err)
		}
		for _, m := range msgs {
			tw, err := parse(m.Data)
			if err != nil {
				return nil, err
			}
			out = append(out, tw)
		}
	}
	return out, nil
}

func parse(b []byte) (TimeWait, error) {
	if len(b) < msgLen {
		return TimeWait{}, ErrShort
	}
	id := b[sockID:]
	sport, dport := binary.BigEndian.Uint16(id[0:]), binary.BigEndian.Uint16(id[2:])
	var src, dst netip.Addr
	if b[0] == unix.AF_INET {
		src, dst = netip.AddrFrom4([4]byte(id[4:8])), netip.AddrFrom4([4]byte(id[20:24]))
	} else {
		src, dst = netip.AddrFrom16([16]byte(id[4:20])).Unmap(), netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	}
	return TimeWait{
		Local:  netip.AddrPortFrom(src, sport),
		Remote: netip.AddrPortFrom(dst, dport),
		Left:   time.Duration(binary.NativeEndian.Uint32(b[expires:])) * time.Millisecond,
	}, nil
}

// PortCount is the number of TIME_WAIT sockets of one service port.
type PortCount struct {
	Port uint16
	// Client is true when this host is the client: the service port is
	// the remote one and the local ephemeral ports are tied up.
	Client bool
	Count  int
}

// ByPort groups sockets by their service port: the local port when a
// socket listens on it (listening, as DumpListening gives: a server port
// may lie inside the ephemeral range, as gRPC's 50051 does) or when it
// lies outside the ephemeral range lo-hi (this host served the
// connection), the remote port otherwise. Largest groups first.
func ByPort(tws []TimeWait, listening map[uint16]bool, lo, hi uint16) []PortCount {
	type k struct {
		port   uint16
		client bool
	}
	counts := map[k]int{}
	for _, tw := range tws {
		if p := tw.Local.Port(); listening[p] || p < lo || p > hi {
			counts[k{p, false}]++
		} else {
			counts[k{tw.Remote.Port(), true}]++
		}
	}
	out := make([]PortCount, 0, len(counts))
	for key, n := range counts {
		out = append(out, PortCount{key.port, key.client, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Port < out[j].Port
	})
	return out
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
