package sockdiag

import (
	"encoding/binary"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// The sockets one by one, as watch sampled them until Counter counted
// them as it read: the tests check each socket's addresses and compare
// Counter's groups with these.

const expires = 52 // offset of idiag_expires in inet_diag_msg

// TimeWait is one socket in TIME_WAIT.
type TimeWait struct {
	Local, Remote netip.AddrPort
	Left          time.Duration // until the kernel reaps it
}

// DumpTimeWait lists the TIME_WAIT sockets of the current network
// namespace, IPv4 and IPv6.
func DumpTimeWait() ([]TimeWait, error) {
	c := NewCounter()
	defer c.Close()
	var out []TimeWait
	_, err := c.dump(tcpTimeWait, func(m []byte) { out = append(out, parse(m)) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DumpListening lists the local ports with a listening TCP socket in the
// current network namespace, IPv4 and IPv6: the ports this host serves,
// wherever they lie.
func DumpListening() (map[uint16]bool, error) {
	c := NewCounter()
	defer c.Close()
	ports := map[uint16]bool{}
	if _, err := c.dump(tcpListen, func(m []byte) { ports[localPort(m)] = true }); err != nil {
		return nil, err
	}
	return ports, nil
}

func parse(b []byte) TimeWait {
	id := b[sockID:]
	var src, dst netip.Addr
	if b[0] == unix.AF_INET {
		src, dst = netip.AddrFrom4([4]byte(id[4:8])), netip.AddrFrom4([4]byte(id[20:24]))
	} else {
		src, dst = netip.AddrFrom16([16]byte(id[4:20])).Unmap(), netip.AddrFrom16([16]byte(id[20:36])).Unmap()
	}
	return TimeWait{
		Local:  netip.AddrPortFrom(src, localPort(b)),
		Remote: netip.AddrPortFrom(dst, remotePort(b)),
		Left:   time.Duration(binary.NativeEndian.Uint32(b[expires:])) * time.Millisecond,
	}
}

// ByPort groups sockets as Counter.Sample does. Largest groups first.
func ByPort(tws []TimeWait, listening map[uint16]bool, lo, hi uint16) []PortCount {
	counts := map[portKey]int{}
	for _, tw := range tws {
		counts[service(tw.Local.Port(), tw.Remote.Port(), listening, lo, hi)]++
	}
	return appendSorted(make([]PortCount, 0, len(counts)), counts)
}
