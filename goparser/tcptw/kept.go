package tcptw

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
)

// A frame's verdict is kept for later passes in this compact form rather
// than as its tree items: a capture keeps one per TCP frame, and most
// first passes (tshark without -V, -T fields or a filter on tcptw) want
// no items at all. Later passes render the items from it.
//
//	flags (uvarint) | conn | closer | ints… | [holder] [holder2 population2]
//	[tw start, tw until] [reuse since, reuse holder]
//
// Integers are varints; addresses are netip.AddrPort's binary form after
// its length. A frame that is not a segment the engine decodes is the
// single octet keptNotMine.

const keptNotMine = 0xff

// Verdict flags in the kept form.
const (
	kFromClient = 1 << iota
	kRolesKnown
	kTWActive
	kTWStarted
	kTWRestarted
	kAssassinated
	kHolder
	kHolder2
	kTW
	kReuse
	kReuseAccepted
	kCopy
)

// ErrKept reports a kept verdict that does not decode.
var ErrKept = errors.New("tcptw: malformed kept verdict")

func appendVerdict(b []byte, v *Verdict) []byte {
	var fl uint64
	set := func(bit uint64, ok bool) {
		if ok {
			fl |= bit
		}
	}
	set(kFromClient, v.FromClient)
	set(kRolesKnown, v.RolesKnown)
	set(kTWActive, v.TWActive)
	set(kTWStarted, v.TWStarted)
	set(kTWRestarted, v.TWRestarted)
	set(kAssassinated, v.Assassinated)
	set(kHolder, v.Holder.IsValid())
	set(kHolder2, v.Holder2.IsValid())
	set(kTW, !v.TWStart.IsZero())
	set(kReuse, v.Reuse != nil)
	set(kReuseAccepted, v.Reuse != nil && v.Reuse.Accepted)
	set(kCopy, v.Copy)
	b = binary.AppendUvarint(b, fl)
	b = binary.AppendUvarint(b, v.Conn)
	b = append(b, byte(v.Closer))
	for _, n := range [...]int64{int64(v.Population), int64(v.SynRetry), int64(v.Duration), int64(v.Requests),
		int64(v.FinToSyn), int64(v.PortsInUse), int64(v.PortRange), int64(v.Evicted)} {
		b = binary.AppendVarint(b, n)
	}
	if fl&kHolder != 0 {
		b = appendAddrPort(b, v.Holder)
	}
	if fl&kHolder2 != 0 {
		b = appendAddrPort(b, v.Holder2)
		b = binary.AppendVarint(b, int64(v.Population2))
	}
	if fl&kTW != 0 {
		b = binary.AppendVarint(b, v.TWStart.UnixNano())
		b = binary.AppendVarint(b, v.TWUntil.UnixNano())
	}
	if r := v.Reuse; r != nil {
		b = binary.AppendVarint(b, int64(r.Since))
		b = appendAddrPort(b, r.Holder)
	}
	return b
}

func appendAddrPort(b []byte, ap netip.AddrPort) []byte {
	n := len(b)
	b = append(b, 0)
	b, _ = ap.AppendBinary(b) // cannot fail
	b[n] = byte(len(b) - n - 1)
	return b
}

// keptReader reads the kept form; the first error sticks.
type keptReader struct {
	b   []byte
	err error
}

func (r *keptReader) uvarint() uint64 { return readVarint(r, binary.Uvarint) }
func (r *keptReader) varint() int64   { return readVarint(r, binary.Varint) }

// readVarint reads one varint with dec (binary.Uvarint or binary.Varint).
func readVarint[T uint64 | int64](r *keptReader, dec func([]byte) (T, int)) T {
	if r.err != nil {
		return 0
	}
	x, n := dec(r.b)
	if n <= 0 {
		r.err = ErrKept
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *keptReader) addrPort() netip.AddrPort {
	var ap netip.AddrPort
	if r.err != nil {
		return ap
	}
	if len(r.b) < 1 || len(r.b) < 1+int(r.b[0]) {
		r.err = ErrKept
		return ap
	}
	n := int(r.b[0])
	if err := ap.UnmarshalBinary(r.b[1 : 1+n]); err != nil {
		r.err = ErrKept
	}
	r.b = r.b[1+n:]
	return ap
}

// readVerdict decodes what appendVerdict wrote into v, whose Reuse, when
// there is one, points at reuse.
func readVerdict(b []byte, v *Verdict, reuse *Reuse) error {
	r := keptReader{b: b}
	fl := r.uvarint()
	*v = Verdict{Conn: r.uvarint()}
	if len(r.b) < 1 {
		return ErrKept
	}
	v.Closer = Closer(r.b[0])
	r.b = r.b[1:]
	if int(v.Closer) >= len(closerNames) {
		return ErrKept
	}
	v.FromClient = fl&kFromClient != 0
	v.RolesKnown = fl&kRolesKnown != 0
	v.TWActive = fl&kTWActive != 0
	v.TWStarted = fl&kTWStarted != 0
	v.TWRestarted = fl&kTWRestarted != 0
	v.Assassinated = fl&kAssassinated != 0
	v.Copy = fl&kCopy != 0
	v.Population = int(r.varint())
	v.SynRetry = int(r.varint())
	v.Duration = time.Duration(r.varint())
	v.Requests = int(r.varint())
	v.FinToSyn = time.Duration(r.varint())
	v.PortsInUse = int(r.varint())
	v.PortRange = int(r.varint())
	v.Evicted = int(r.varint())
	if fl&kHolder != 0 {
		v.Holder = r.addrPort()
	}
	if fl&kHolder2 != 0 {
		v.Holder2 = r.addrPort()
		v.Population2 = int(r.varint())
	}
	if fl&kTW != 0 {
		v.TWStart = time.Unix(0, r.varint())
		v.TWUntil = time.Unix(0, r.varint())
	}
	if fl&kReuse != 0 {
		*reuse = Reuse{Since: time.Duration(r.varint()), Accepted: fl&kReuseAccepted != 0, Holder: r.addrPort()}
		v.Reuse = reuse
	}
	if r.err == nil && len(r.b) != 0 {
		return ErrKept
	}
	return r.err
}
