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
// capture. The oldest is forgotten first; a slot serves while the
// connection's late segments come less than a TIME_WAIT length apart.
type resets struct {
	// index maps a tuple to its slot in ring (slot + 1, under a 32-bit
	// tag of its hash; 0: empty): a fixed table at most half full, with
	// linear probing. Every SYN forgets and every reset adds, and with a
	// Go map and maphash a storm's twreport ran 5.8% more instructions
	// than before it remembered resets; with this, 2.4%.
	index []uint64
	n     int // tuples in index
	seed  tupleSeed
	ring  []resetConn // made on the first reset, with index
	next  int
	used  int // slots of ring used
}

const resetIndexSlots = 2 * resetSlots

type resetConn struct {
	key        twKey
	id         uint64
	client     netip.AddrPort
	nxt        [2]uint32 // the next sequence number of each side (0: client)
	nxtOK      [2]bool
	rolesKnown bool
	closer     Closer
	at         time.Time // the RST, then the last late segment
}

func (r *resets) tag(k twKey) uint32 { return uint32(r.seed.hash(k)) }

// find returns the index slot of k, or of the first empty slot in its
// probe sequence.
func (r *resets) find(k twKey, tag uint32) (int, bool) {
	const mask = resetIndexSlots - 1
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		s := r.index[i]
		if s == 0 {
			return i, false
		}
		if uint32(s>>32) == tag && r.ring[uint32(s)-1].key == k {
			return i, true
		}
	}
}

// get returns k's slot in ring.
func (r *resets) get(k twKey) (int, bool) {
	if r.n == 0 {
		return 0, false
	}
	i, ok := r.find(k, r.tag(k))
	return int(uint32(r.index[i])) - 1, ok
}

// add remembers c, which an RST ended at t.
func (r *resets) add(k twKey, c *conn, t time.Time) {
	if r.ring == nil {
		r.ring = make([]resetConn, resetSlots)
		r.index = make([]uint64, resetIndexSlots)
		r.seed = newTupleSeed()
	}
	n := r.next
	if r.used == resetSlots {
		// The oldest goes, unless its tuple was forgotten or reset again.
		old := r.ring[n].key
		if i, ok := r.find(old, r.tag(old)); ok && int(uint32(r.index[i]))-1 == n {
			r.drop(i)
		}
	} else {
		r.used++
	}
	tag := r.tag(k)
	i, ok := r.find(k, tag)
	// If the tuple was reset before, this replaces it; the earlier ring
	// slot stays until reused.
	r.ring[n] = resetConn{key: k, id: c.id, client: c.ep[0], nxt: c.nxt, nxtOK: c.nxtOK, rolesKnown: c.rolesKnown, closer: c.closer, at: t}
	r.index[i] = uint64(tag)<<32 | uint64(n+1)
	if !ok {
		r.n++
	}
	r.next = (n + 1) % resetSlots
}

// drop empties index slot i.
func (r *resets) drop(i int) {
	r.n--
	emptySlot(r.index, i)
}

// forget drops the tuple's connection: a new one has begun on it.
func (r *resets) forget(k twKey) {
	if r.n == 0 {
		return
	}
	if i, ok := r.find(k, r.tag(k)); ok {
		r.drop(i)
	}
}

// afterReset handles a segment other than a SYN on a tuple (k) without an
// open connection or a TIME_WAIT socket, whose last connection an RST
// ended, that connection's last segment no longer than a TIME_WAIT
// length ago: if its numbers carry on that connection's, it is a late
// segment of it, which it reports. A SYN-ACK can be one too: the
// server's answer to a resent SYN, after the connection that its first
// SYN-ACK began was reset.
func (e *Engine) afterReset(k twKey, t time.Time, s *tcpdecode.Segment, v *Verdict) bool {
	i, ok := e.resets.get(k)
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
	// A peer whose RST was lost keeps its socket, resending or probing
	// it (Go's keep-alive: every 15 s) until one of the answering RSTs
	// arrives: the window runs from the connection's last segment.
	if t.After(r.at) {
		r.at = t
	}
	v.Conn = r.id
	v.FromClient = d == 0
	v.RolesKnown = r.rolesKnown
	v.Closer = r.closer
	return true
}
