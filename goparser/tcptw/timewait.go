package tcptw

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// TIME_WAIT sockets outlive their connections by a minute, so a storm
// leaves hundreds of thousands of them at once (BenchmarkMillionConnections
// measures the octets each costs). Each is a 48-octet record without
// pointers (nothing for the garbage collector to follow) in fixed-size
// chunks (no copying as they grow, free slots reused), found by its tuple
// through an index of 8-octet slots, and expired from a queue that is
// mostly in time order, kept in blocks too.

// endpoint codes: an IPv4 address and port in the low 48 bits; any other
// address by its number in Engine.addrs, with the top bit set. Equal
// codes mean equal netip.AddrPort values, zones included.
const codeInterned = 1 << 63

func (e *Engine) code(ap netip.AddrPort) uint64 {
	a := ap.Addr()
	if a.Is4() {
		return code4(ap)
	}
	id, ok := e.addrIDs[a]
	if !ok {
		id = uint32(len(e.addrs))
		e.addrIDs[a] = id
		e.addrs = append(e.addrs, a)
	}
	return codeInterned | uint64(id)<<16 | uint64(ap.Port())
}

// code4 is code for an IPv4 endpoint.
func code4(ap netip.AddrPort) uint64 {
	b := ap.Addr().As4()
	return uint64(binary.BigEndian.Uint32(b[:]))<<16 | uint64(ap.Port())
}

// twKey is a 4-tuple as two endpoint codes, the smaller first.
type twKey struct{ lo, hi uint64 }

func (e *Engine) twKeyOf(a, b netip.AddrPort) twKey { return twKeyFrom(e.code(a), e.code(b)) }

// twKeyFrom orders two endpoint codes.
func twKeyFrom(ca, cb uint64) twKey {
	if ca < cb {
		return twKey{ca, cb}
	}
	return twKey{cb, ca}
}

// twRec is one socket in TIME_WAIT. Times are Unix seconds and
// nanoseconds: a time.Time takes 24 octets and holds a pointer. The
// endpoints are the pair's client address and server, and the client's
// port.
type twRec struct {
	startSec, untilSec   int64
	startNsec, untilNsec int32
	rcvNxt               uint32 // next sequence number expected from the peer
	tsRecent             uint32
	pair                 uint32 // index in Engine.pairList
	host                 uint32 // the holder's, index in Engine.hostList
	// link: while the slot is free, the next free slot + 1 (the free
	// list); while it is in use, the low 32 bits of the connection's id
	// (Engine.connID), for the late segments of that connection.
	link  uint32
	port  uint16 // the client's
	flags uint8
}

const (
	twActive     = 1 << iota
	twTSOK       // tsRecent is valid
	twByClient   // the client holds it (its ephemeral port is tied up)
	twServer     // the holder is the connection's server side (ep[1])
	twRolesKnown // the connection was seen from its handshake
	twBoth       // a simultaneous close: the peer holds one too
)

func (r *twRec) active() bool { return r.flags&twActive != 0 }

// closer is how the record's connection ended.
func (r *twRec) closer() Closer {
	switch {
	case r.flags&twBoth != 0:
		return CloserBoth
	case r.flags&twServer != 0:
		return CloserServer
	}
	return CloserClient
}

// connID is the id of the connection that left the record: the newest
// id with its low 32 bits (fewer than 2^32 connections begin within a
// TIME_WAIT period).
func (e *Engine) connID(r *twRec) uint64 { return e.nextID - uint64(uint32(e.nextID)-r.link) }

// endpoints returns the connection's ep[0] and ep[1].
func (e *Engine) endpoints(r *twRec) (netip.AddrPort, netip.AddrPort) {
	p := e.pairList[r.pair]
	return netip.AddrPortFrom(p.key.client, r.port), p.key.server
}

func (e *Engine) holder(r *twRec) netip.AddrPort {
	client, server := e.endpoints(r)
	if r.flags&twServer != 0 {
		return server
	}
	return client
}

func (r *twRec) start() time.Time { return time.Unix(r.startSec, int64(r.startNsec)) }
func (r *twRec) until() time.Time { return time.Unix(r.untilSec, int64(r.untilNsec)) }

const twChunkBits = 12 // 4096 records, 256 KiB, per chunk

// twStore holds the records; an index names one for its lifetime.
type twStore struct {
	chunks [][]twRec
	n      uint32 // slots handed out
	free   uint32 // first free slot + 1; 0 when none
}

func (s *twStore) at(i uint32) *twRec {
	return &s.chunks[i>>twChunkBits][i&(1<<twChunkBits-1)]
}

func (s *twStore) alloc() uint32 {
	if s.free != 0 {
		i := s.free - 1
		s.free = s.at(i).link
		return i
	}
	if s.n>>twChunkBits == uint32(len(s.chunks)) {
		s.chunks = append(s.chunks, make([]twRec, 1<<twChunkBits))
	}
	s.n++
	return s.n - 1
}

func (s *twStore) release(i uint32) {
	*s.at(i) = twRec{link: s.free}
	s.free = i + 1
}

// expiry is when a record's TIME_WAIT ends, as of when it was queued.
type expiry struct {
	sec  int64
	nsec int32
	idx  uint32
}

func (x expiry) after(sec int64, nsec int32) bool {
	return x.sec > sec || x.sec == sec && x.nsec > nsec
}

func (x expiry) less(y expiry) bool { return y.after(x.sec, x.nsec) }

// expiryQueue yields expiries in time order. Expiries are the segment's
// time plus a constant, so they arrive in order but for captures whose
// timestamps step back: those go to a heap, the rest to a FIFO, and the
// earlier of the two heads comes out first. A restarted or ended socket
// leaves its old entry behind, skipped when it comes out (its record no
// longer matches), rather than being searched for. The FIFO is a list of
// blocks, so that it neither copies nor holds twice its size as it grows.
type expiryQueue struct {
	fifo  [][]expiry // fifo[0][head:] come out first
	head  int
	spare []expiry // an emptied block, for the next one
	heap  []expiry
}

const expiryBlock = 4096

func (q *expiryQueue) fifoLast() (expiry, bool) {
	if n := len(q.fifo); n > 0 && (n > 1 || q.head < len(q.fifo[0])) {
		b := q.fifo[n-1]
		return b[len(b)-1], true
	}
	return expiry{}, false
}

func (q *expiryQueue) push(x expiry) {
	if last, ok := q.fifoLast(); !ok || !x.less(last) {
		n := len(q.fifo)
		if n == 0 || len(q.fifo[n-1]) == expiryBlock {
			b := q.spare
			if b == nil {
				b = make([]expiry, 0, expiryBlock)
			}
			q.spare = nil
			q.fifo = append(q.fifo, b)
			n++
		}
		q.fifo[n-1] = append(q.fifo[n-1], x)
		return
	}
	q.heap = append(q.heap, x)
	for i := len(q.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.heap[i].less(q.heap[p]) {
			break
		}
		q.heap[i], q.heap[p] = q.heap[p], q.heap[i]
		i = p
	}
}

// peek returns the earliest expiry; fromHeap says where it is.
func (q *expiryQueue) peek() (x expiry, fromHeap, ok bool) {
	inFIFO := len(q.fifo) > 0 && q.head < len(q.fifo[0])
	switch {
	case inFIFO && (len(q.heap) == 0 || !q.heap[0].less(q.fifo[0][q.head])):
		return q.fifo[0][q.head], false, true
	case len(q.heap) > 0:
		return q.heap[0], true, true
	}
	return expiry{}, false, false
}

func (q *expiryQueue) pop(fromHeap bool) {
	if !fromHeap {
		q.head++
		if b := q.fifo[0]; q.head == len(b) && (len(b) == expiryBlock || len(q.fifo) > 1) {
			// A full block, or one with a later block behind it, is done.
			q.spare = b[:0]
			q.fifo = append(q.fifo[:0], q.fifo[1:]...)
			q.head = 0
		} else if q.head == len(b) {
			// The only block, not full: reuse it from its start.
			q.fifo[0], q.head = b[:0], 0
		}
		return
	}
	n := len(q.heap) - 1
	q.heap[0] = q.heap[n]
	q.heap = q.heap[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q.heap[l].less(q.heap[m]) {
			m = l
		}
		if r := l + 1; r < n && q.heap[r].less(q.heap[m]) {
			m = r
		}
		if m == i {
			break
		}
		q.heap[i], q.heap[m] = q.heap[m], q.heap[i]
		i = m
	}
}

// expire ends the TIME_WAIT sockets whose time ran out by t. Sockets that
// expire at the same instant may end in any order: each ends at its own
// expiry time, and the populations they leave do not depend on the order.
func (e *Engine) expire(t time.Time) {
	sec, nsec := t.Unix(), int32(t.Nanosecond())
	for {
		x, fromHeap, ok := e.expiry.peek()
		if !ok || x.after(sec, nsec) {
			return
		}
		e.expiry.pop(fromHeap)
		if r := e.tw.at(x.idx); r.active() && r.untilSec == x.sec && r.untilNsec == x.nsec {
			e.endTW(x.idx, r.until())
		}
	}
}

func (e *Engine) queueExpiry(i uint32, r *twRec) {
	e.expiry.push(expiry{r.untilSec, r.untilNsec, i})
}

func (e *Engine) startTW(c *conn, s int, t time.Time) {
	o := 1 - s
	k := e.twKeyOf(c.ep[0], c.ep[1])
	until := t.Add(e.cfg.TimeWait)
	host := e.pairHost(c.pair, s)
	i := e.tw.alloc()
	r := e.tw.at(i)
	*r = twRec{
		startSec: t.Unix(), startNsec: int32(t.Nanosecond()),
		untilSec: until.Unix(), untilNsec: int32(until.Nanosecond()),
		rcvNxt:   c.finSeq[o] + 1,
		tsRecent: c.ts[o],
		pair:     c.pair.idx,
		host:     host.idx,
		link:     uint32(c.id),
		port:     c.ep[0].Port(),
		flags:    twActive,
	}
	if c.tsOK[o] {
		r.flags |= twTSOK
	}
	if c.rolesKnown {
		r.flags |= twRolesKnown
	}
	if c.closer == CloserBoth {
		r.flags |= twBoth
	}
	// ep[0] is the client of c.pair whether the handshake was seen or
	// the roles were inferred (newConn, swapRoles): the pair's closes
	// count it so, and so must its TIME_WAIT sockets.
	byClient := s == 0
	if byClient {
		r.flags |= twByClient
	}
	if s == 1 {
		r.flags |= twServer
	}
	c.tw[s] = i + 1
	// The index holds active sockets only: a tuple already there has one.
	if !e.tws.add(e, k, i) {
		e.tws2[k] = i
	}
	e.queueExpiry(i, r)
	host.change(t, +1)
	c.pair.twChange(t, +1, byClient)
	e.rep.twStarted++
}

func (e *Engine) endTW(i uint32, t time.Time) {
	r := e.tw.at(i)
	if !r.active() {
		return
	}
	e.hostList[r.host].change(t, -1)
	e.pairList[r.pair].twChange(t, -1, r.flags&twByClient != 0)
	k := e.twKeyOf(e.endpoints(r))
	if e.tws.del(e, k, i) {
		if o, ok := e.tws2[k]; ok {
			e.tws.set(e, k, o)
			delete(e.tws2, k)
		}
	} else if j, ok := e.tws2[k]; ok && j == i {
		delete(e.tws2, k)
	}
	// Its queue entry stays behind, and no longer matches.
	e.tw.release(i)
}

func (e *Engine) restartTW(i uint32, t time.Time) {
	r := e.tw.at(i)
	until := t.Add(e.cfg.TimeWait)
	r.untilSec, r.untilNsec = until.Unix(), int32(until.Nanosecond())
	e.queueExpiry(i, r)
}

// twFor returns the active TIME_WAIT socket of a tuple held by holder.
func (e *Engine) twFor(k twKey, holder netip.AddrPort) (uint32, bool) {
	if i, ok := e.tws.get(e, k); ok {
		if r := e.tw.at(i); r.active() && e.holder(r) == holder {
			return i, true
		}
	}
	if len(e.tws2) > 0 {
		if i, ok := e.tws2[k]; ok {
			if r := e.tw.at(i); r.active() && e.holder(r) == holder {
				return i, true
			}
		}
	}
	return 0, false
}

// hasTW says whether any socket of the tuple is in TIME_WAIT.
func (e *Engine) hasTW(k twKey) bool {
	if _, ok := e.tws.get(e, k); ok {
		return true
	}
	_, ok := e.tws2[k]
	return ok
}

// twIndex maps a tuple to its (first) TIME_WAIT record, like a
// map[twKey]uint32 in a quarter of the memory (a Go map takes about 50
// octets an entry here): an open-addressing table of 8-octet slots, each
// 32 bits of the key's hash and the record's index + 1, with linear
// probing. The key is not stored: a slot whose hash bits match is
// checked against the key of its record.
type twIndex struct {
	slots []uint64 // 0: empty
	n     int
	seed  tupleSeed
}

const twIndexMinSlots = 1 << 10

func (x *twIndex) tag(k twKey) uint32 {
	if x.slots == nil {
		x.seed = newTupleSeed()
		x.slots = make([]uint64, twIndexMinSlots)
	}
	return uint32(x.seed.hash(k))
}

// find returns the slot of k, or of the first empty slot in its probe
// sequence.
func (x *twIndex) find(e *Engine, k twKey) (int, bool) {
	tag := x.tag(k)
	mask := len(x.slots) - 1
	for i := int(tag) & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return i, false
		}
		if uint32(s>>32) == tag && e.twKeyOf(e.endpoints(e.tw.at(uint32(s)-1))) == k {
			return i, true
		}
	}
}

func (x *twIndex) get(e *Engine, k twKey) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	i, ok := x.find(e, k)
	return uint32(x.slots[i]) - 1, ok
}

// add maps k to rec unless k is there already, and says whether it did.
func (x *twIndex) add(e *Engine, k twKey, rec uint32) bool {
	i, ok := x.find(e, k)
	if ok {
		return false
	}
	x.insertAt(i, k, rec)
	return true
}

func (x *twIndex) set(e *Engine, k twKey, rec uint32) {
	i, ok := x.find(e, k)
	if ok {
		x.slots[i] = uint64(x.tag(k))<<32 | uint64(rec+1)
		return
	}
	x.insertAt(i, k, rec)
}

// insertAt fills the empty slot i that find returned for k.
func (x *twIndex) insertAt(i int, k twKey, rec uint32) {
	x.slots[i] = uint64(x.tag(k))<<32 | uint64(rec+1)
	x.n++
	if 4*x.n > 3*len(x.slots) {
		// Grow at three quarters full; each slot's home is in its tag.
		old := x.slots
		x.slots = make([]uint64, 2*len(old))
		mask := len(x.slots) - 1
		for _, s := range old {
			if s != 0 {
				j := int(s>>32) & mask
				for x.slots[j] != 0 {
					j = (j + 1) & mask
				}
				x.slots[j] = s
			}
		}
	}
}

// del removes k if it maps to rec, and says whether it did.
func (x *twIndex) del(e *Engine, k twKey, rec uint32) bool {
	if x.n == 0 {
		return false
	}
	i, ok := x.find(e, k)
	if !ok || uint32(x.slots[i])-1 != rec {
		return false
	}
	x.n--
	emptySlot(x.slots, i)
	return true
}

// emptySlot empties slot i of a table of tagged slots (a tag of the
// key's hash in the top 32 bits, whose low bits are the slot the key
// probes first; 0: empty) with linear probing. Backward shift: it moves
// up the entries after i that may not stay beyond the hole, so that
// probe sequences need no tombstones.
func emptySlot(slots []uint64, i int) {
	mask := len(slots) - 1
	for j := (i + 1) & mask; slots[j] != 0; j = (j + 1) & mask {
		home := int(slots[j]>>32) & mask
		// j's entry may move to i when i lies cyclically in [home, j).
		if (j-home)&mask >= (j-i)&mask {
			slots[i] = slots[j]
			i = j
		}
	}
	slots[i] = 0
}
