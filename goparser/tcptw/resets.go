package tcptw

import (
	"net/netip"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// resetSlots bounds the connections that resets remembers: at a storm's
// 10,000 resets a second, the last 0.4 s of them, more than a
// round trip across data centres, in which most late segments come.
const resetSlots = 4096

// resets remembers the last connections that an RST ended, which leave no
// TIME_WAIT socket to match their late segments against: data and ACKs
// that were in flight when the RST was sent, retransmissions of a peer
// whose RST was lost, and the closed side's RSTs in answer to them. On a
// lossy path these would otherwise open connections begun before the
// capture. The oldest is forgotten first; a slot is used for at most a
// TIME_WAIT length.
type resets struct {
	slot  map[twKey]int32
	ring  []resetConn // made on the first reset
	next  int
	count int
}

type resetConn struct {
	key        twKey
	id         uint64
	client     netip.AddrPort
	nxt        [2]uint32 // the next sequence number of each side (0: client)
	nxtOK      [2]bool
	rolesKnown bool
	closer     Closer
	at         time.Time
}

// add remembers c, which an RST ended at t.
func (r *resets) add(k twKey, c *conn, t time.Time) {
	if r.ring == nil {
		r.ring = make([]resetConn, resetSlots)
		r.slot = make(map[twKey]int32)
	}
	i := r.next
	if r.count == resetSlots {
		if old := r.ring[i].key; r.slot[old] == int32(i) {
			delete(r.slot, old)
		}
	} else {
		r.count++
	}
	r.ring[i] = resetConn{key: k, id: c.id, client: c.ep[0], nxt: c.nxt, nxtOK: c.nxtOK, rolesKnown: c.rolesKnown, closer: c.closer, at: t}
	r.slot[k] = int32(i)
	r.next = (i + 1) % resetSlots
}

// forget drops the tuple's connection: a new one has begun on it.
func (r *resets) forget(k twKey) {
	if r.slot != nil {
		delete(r.slot, k)
	}
}

// afterReset handles a segment other than a SYN on a tuple (k) without an
// open connection or a TIME_WAIT socket, whose last connection an RST
// ended no longer than a TIME_WAIT length ago: if its numbers carry on
// that connection's, it is a late segment of it, which it reports. A
// SYN-ACK can be one too: the server's answer to a resent SYN, after
// the connection that its first SYN-ACK began was reset.
func (e *Engine) afterReset(k twKey, t time.Time, s *tcpdecode.Segment, v *Verdict) bool {
	i, ok := e.resets.slot[k]
	if !ok {
		return false
	}
	r := &e.resets.ring[i]
	if t.Sub(r.at) > e.cfg.TimeWait {
		e.resets.forget(k)
		return false
	}
	d := 0
	if s.Src != r.client {
		d = 1
	}
	// As late: a sender's own numbers near where they stopped, or an ACK
	// of about what the peer had sent.
	if !(r.nxtOK[d] && near(s.Seq, r.nxt[d])) && !(s.ACK && r.nxtOK[1-d] && near(s.Ack, r.nxt[1-d])) {
		return false
	}
	v.Conn = r.id
	v.FromClient = d == 0
	v.RolesKnown = r.rolesKnown
	v.Closer = r.closer
	return true
}
