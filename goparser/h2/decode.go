// Package h2 decodes captured HTTP/2 connections the way a Go peer reads
// them: frames through golang.org/x/net/http2's Framer, header blocks
// through its hpack Decoder (one per direction), plus the flow-control and
// SETTINGS state a peer keeps. Results are written as Wireshark tree items.
package h2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gotcpdump/gotcpdump/goparser/gogrpc"
	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/internal/evict"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// Status is the outcome of one Decode call.
type Status int

const (
	StatusOK      Status = 0
	StatusNotMine Status = 1 // heuristic call on traffic that is not HTTP/2
)

// NeedOneMoreSegment asks for one more TCP segment, as Wireshark's
// DESEGMENT_ONE_MORE_SEGMENT does.
const NeedOneMoreSegment = -1

// Input is one TCP payload (or a reassembly of several) of a connection.
// Connections are told apart by their endpoints: a new connection on the
// same 4-tuple starts with the client preface, which resets the state.
type Input struct {
	Src, Dst  string // sender and receiver endpoints, "address port"
	Data      []byte // starts at a frame boundary once the direction is in sync
	Heuristic bool   // claim the payload only if it looks like HTTP/2
	// NoReassembly says the caller cannot supply more octets (Wireshark's
	// TCP reassembly is off): a frame cut by the segment end is shown as
	// far as it goes and the direction resynchronises.
	NoReassembly bool
	// Missing is how many octets of the payload follow Data that the
	// capture left out (a snap length cut the packet). They belong to the
	// connection's octets: frames that span them are shown as cut and
	// the next frame is looked for after them, not at the end of Data.
	Missing int
	// Time is when the packet was captured (for gRPC call durations).
	Time time.Time
	// Frame is the capture frame number (0: unknown), which gRPC messages
	// that span frames list.
	Frame uint32
	// NoTree: nothing will show or filter on the items (no tree, and no
	// later pass to render a kept result): gRPC messages are not decoded
	// into fields (gogrpc.Limits.NoTree).
	NoTree bool
	// Seq, when HasSeq, is the TCP sequence number of Data's first octet.
	// With tcp.reassemble_out_of_order off (Wireshark's default),
	// Wireshark's TCP hands on a segment that follows a gap, and later
	// the one that came out of order, as if each continued the stream;
	// the sequence numbers tell them apart.
	Seq    uint32
	HasSeq bool
}

// Link says that capture frame Part carried a piece of a gRPC message
// that was reassembled in frame In.
type Link struct{ Part, In uint32 }

func (in Input) connKey() string { return string(in.appendConnKey(nil)) }

// appendConnKey appends the connection's key, the same from both ends.
func (in Input) appendConnKey(b []byte) []byte {
	a, z := in.Src, in.Dst
	if z < a {
		a, z = z, a
	}
	return append(append(append(b, a...), '|'), z...)
}

// Decoder holds the state of every HTTP/2 connection of a capture.
// It is not safe for concurrent use.
type Decoder struct {
	opts    Options
	conns   map[string]*conn
	rejects map[string]uint8
	tick    uint64
	w       tree.Writer
	info    []byte // the Info column: each frame's summary, joined by ", "
	// Labels are built in these buffers, reused for every frame: the
	// Writer copies them, and Sprintf would allocate for every item.
	labelBuf, summaryBuf, textBuf []byte
	fx                            frameExperts
	experts                       []tree.ExpertRecord
	hdr                           headerReader

	noReassembly bool
	missing      int // Input.Missing
	// peerUnclaimed: the receiver of this call's data sent payloads on
	// the connection that the heuristic did not claim (its SETTINGS among
	// them, perhaps cut by a snap length).
	peerUnclaimed bool
	resetFramer   bool
	consumed      int // the last Decode's consumed octets (Consumed)
	need          int // and the octets it needed next (Need)
	// contLost: the frame's direction lost frames since its last HEADERS,
	// so a CONTINUATION may belong to a block whose HEADERS was lost.
	contLost bool
	weight   uint8
	now      time.Time
	frameNum uint32
	links    []Link
	text     []byte // gRPC-Web-Text decoded, reused
	// frag holds what an HPACK decoder is given to decode. A decoder keeps
	// the slice it was last given (hpack.Decoder.buf), and a fragment
	// inside a Framer's read buffer kept that buffer (16 KiB and more
	// once DATA went through it) alive as long as the connection.
	frag       []byte
	calls      gogrpc.Stats
	schema     *pbschema.Registry
	grpcPorts  map[uint16]string // server port -> method path, for streams without HEADERS
	grpcLimits gogrpc.Limits
	grpcOff    bool // gogrpc is disabled: no gRPC on HTTP/2 either
	inflated   int  // octets this Decode's gRPC messages inflated to (gogrpc.Limits.Inflated)
	noTree     bool // Input.NoTree
	keepIdle   bool // never release idle connections (tests compare)
	// idle holds the last idleKeep connections found with no open stream
	// (a ring, next is the oldest): each is released when it drops out,
	// unless a stream opened meanwhile. Connections that are idle only
	// between requests keep their Framers: making them again for every
	// request cost allocations.
	idle     []*conn
	idleNext int
	idleKeep int
}

// GRPCCalls returns the gRPC calls seen so far, per method.
func (d *Decoder) GRPCCalls() *gogrpc.Stats { return &d.calls }

// SetGRPCPorts names the gRPC method of streams whose HEADERS were never
// captured, by the server's port (like Wireshark's fake headers); "" is
// gRPC with an unknown method.
func (d *Decoder) SetGRPCPorts(m map[uint16]string) { d.grpcPorts = m }

// SetGRPC turns the decoding of gRPC on HTTP/2 on (the default) or off,
// as Wireshark's enabling of gogrpc does.
func (d *Decoder) SetGRPC(on bool) { d.grpcOff = !on }

// SetGRPCLimits bounds the gRPC messages of streams that start after it.
func (d *Decoder) SetGRPCLimits(l gogrpc.Limits) { d.grpcLimits = l.WithDefaults() }

// SetSchema sets the protobuf types that gRPC messages are decoded with
// (nil: raw decoding only).
func (d *Decoder) SetSchema(r *pbschema.Registry) { d.schema = r }

// New returns a Decoder with the given limits.
func New(o Options) *Decoder {
	return &Decoder{
		opts:     o.withDefaults(),
		conns:    make(map[string]*conn),
		rejects:  make(map[string]uint8),
		idleKeep: 64,
	}
}

// heuristicTries is how many unclaimed payloads of a TCP stream the
// heuristic looks at before it leaves the stream alone for good.
const heuristicTries = 8

// Links returns, for the last Decode, the earlier frames that carried
// parts of the gRPC messages it completed. Valid until the next Decode.
func (d *Decoder) Links() []Link { return d.links }

// Decode decodes in.Data and appends the result to e as one array:
//
//	{status, consumed, need, {pdu…}, info, {{expert, message}…}}
//
// consumed is how many octets of in.Data were decoded; need, when not 0,
// is how many more octets the frame at consumed needs (NeedOneMoreSegment
// when unknown); each pdu is a tree item; info is the Info column text or
// nil; the last list repeats the expert infos of the pdus, for callers
// that build no tree.
func (d *Decoder) Decode(in Input, e *result.Encoder) Status {
	d.tick++
	d.consumed, d.need = 0, 0
	// The key is looked up from a stack buffer and becomes a string only
	// for a new connection: one allocation a packet less.
	var kb [128]byte
	kbytes := in.appendConnKey(kb[:0])
	c := d.conns[string(kbytes)]
	preface := startsWithPreface(in.Data)
	if c != nil && c.started(in.Src) && preface {
		// A new connection on a reused 4-tuple.
		c = nil
	}
	if c == nil {
		// Tries are counted per direction: a capture that starts inside
		// a bulk transfer may only align in the other direction.
		key := string(kbytes)
		rkey := key + "|" + in.Src
		if in.Heuristic && !preface && (d.rejects[rkey] >= heuristicTries || !LooksLikeHTTP2(in.Data)) {
			if len(d.rejects) >= d.opts.MaxConns {
				clear(d.rejects)
			}
			d.rejects[rkey]++
			e.BeginArray()
			e.Int(int64(StatusNotMine))
			e.Int(0)
			e.Int(0)
			e.BeginArray()
			e.End()
			e.Nil()
			e.BeginArray()
			e.End()
			e.End()
			return StatusNotMine
		}
		c = d.newConn(key)
	}
	c.lastUse = d.tick
	// Only a preface asks (the key is built only then: an allocation).
	d.peerUnclaimed = preface && len(d.rejects) > 0 && d.rejects[string(kbytes)+"|"+in.Dst] > 0
	dir := c.direction(in.Src, in.Dst)
	d.experts = d.experts[:0]
	d.w = tree.Writer{E: e, X: &d.experts}
	d.info = d.info[:0]
	// Octets missing from the capture cannot be reassembled either.
	d.noReassembly = in.NoReassembly || in.Missing > 0
	d.missing = max(in.Missing, 0)
	d.now = in.Time
	d.frameNum = in.Frame
	d.noTree = in.NoTree
	d.links = d.links[:0]
	d.inflated = 0

	e.BeginArray()
	e.Int(int64(StatusOK))
	consumedSlot, needSlot := e.IntSlot(), e.IntSlot()
	e.BeginArray()
	var consumed, need int
	if d.inSequence(c, dir, in, preface) {
		consumed, need = d.decodeDir(c, dir, in.Data)
		if in.HasSeq {
			h := c.half[dir]
			h.nextSeq, h.seqKnown = in.Seq+uint32(consumed), true
			if need == 0 {
				// The octets a snap length cut off come next in the stream.
				h.nextSeq = in.Seq + uint32(len(in.Data)+d.missing)
			}
		}
	} else {
		consumed = len(in.Data)
	}
	d.consumed, d.need = consumed, need
	if !d.keepIdle {
		d.idleConn(c)
	}
	e.End()
	e.PatchInt(consumedSlot, int64(consumed))
	e.PatchInt(needSlot, int64(need))
	if len(d.info) == 0 {
		e.Nil()
	} else {
		e.BytesValue(d.info)
	}
	tree.EncodeExperts(e, d.experts)
	e.End()
	return StatusOK
}

// inSequence checks in's place in its direction's stream against the
// octets expected next, and reports whether to decode it. Octets that
// were skipped (a gap) put the direction out of step, as a gap found by
// its contents does; octets from before the expected ones (a segment
// that came out of order, after what followed it was decoded, or a
// retransmission) are shown as such and not decoded again, which would
// decode frames twice or take the middle of one for a frame header.
// preface: in's data begins with the client's connection preface.
func (d *Decoder) inSequence(c *conn, dir int, in Input, preface bool) bool {
	h := c.half[dir]
	if preface {
		// A connection's start, perhaps on a 4-tuple that an earlier one
		// used (whose direction was out of step, so no new conn was
		// made): both directions' sequence numbers start afresh.
		c.half[0].seqKnown, c.half[1].seqKnown = false, false
	}
	if !in.HasSeq {
		h.seqKnown = false // the next sequence number starts afresh
		return true
	}
	if !h.seqKnown {
		return true
	}
	ahead := int64(int32(in.Seq - h.nextSeq))
	switch {
	case ahead == 0:
		return true
	case ahead < 0 && -ahead >= int64(len(in.Data)+d.missing):
		// One message for all, so that -z expert groups them.
		d.outside(0, len(in.Data), ": out of order", "[out of order]", xOutOfOrder,
			"octets from before the ones expected next: a TCP segment out of order or retransmitted, handed on because tcp.reassemble_out_of_order is off; not decoded")
		return false
	}
	// Octets skipped, or some seen before and some not (a retransmission
	// cut differently): decoding resumes at the next frame boundary found,
	// and a header block open before the gap ended in it.
	h.synced = false
	h.asked, h.skip, h.cutOff, h.restLost = 0, 0, false, false
	h.fr = nil
	if h.block.active {
		_ = h.hdec.Close()
		h.block.active = false
	}
	c.framesLost(dir)
	return true
}

// Consumed returns how many octets of its data the last Decode took: the
// result's items lie within them.
func (d *Decoder) Consumed() int { return d.consumed }

// Need returns how many more octets the last Decode needed at Consumed
// (0: none; NeedOneMoreSegment when unknown).
func (d *Decoder) Need() int { return d.need }

func (d *Decoder) newConn(id string) *conn {
	if len(d.conns) >= d.opts.MaxConns {
		d.evictConns()
	}
	c := &conn{clientDir: -1}
	c.half[0] = newHalf(&d.opts)
	c.half[1] = newHalf(&d.opts)
	c.half[1].dirIndex = 1
	d.conns[id] = c
	return c
}

// idleConn queues c for release if it has no open stream, and releases
// the connection it pushes out of the queue.
func (d *Decoder) idleConn(c *conn) {
	if c.idle || len(c.streams) > 0 || !c.holds() {
		return
	}
	if d.idleKeep <= 0 {
		c.release()
		return
	}
	if d.idle == nil {
		d.idle = make([]*conn, d.idleKeep)
	}
	old := d.idle[d.idleNext]
	d.idle[d.idleNext], c.idle = c, true
	d.idleNext = (d.idleNext + 1) % len(d.idle)
	if old != nil {
		// Gone from d.conns perhaps (evicted, forgotten): released all
		// the same, as it is no longer referenced.
		old.idle = false
		old.release()
	}
}

// evictConns drops the least recently used eighth of the connections.
func (d *Decoder) evictConns() {
	n := len(d.conns) / 8
	if n == 0 {
		n = 1
	}
	ticks := make([]uint64, 0, len(d.conns))
	for _, c := range d.conns {
		ticks = append(ticks, c.lastUse)
	}
	cut := evict.Cutoff(ticks, n)
	for id, c := range d.conns {
		if c.lastUse <= cut {
			delete(d.conns, id)
		}
	}
}

// started reports whether the direction sent by sender already decoded
// frames.
func (c *conn) started(sender string) bool {
	for i := range c.senders {
		if c.senders[i] == sender {
			return c.half[i].synced
		}
	}
	return false
}

func startsWithPreface(b []byte) bool {
	return len(b) >= len(clientPreface) && string(b[:len(clientPreface)]) == http2.ClientPreface
}

// direction is the index of the direction that sender sends, to
// receiver. The first segment names both endpoints: what keys on the
// server's port (gogrpc.ports) must not wait for the server to send.
func (c *conn) direction(sender, receiver string) int {
	for i := range c.senders {
		if c.senders[i] == sender {
			return i
		}
		if c.senders[i] == "" {
			c.senders[i] = sender
			if i == 0 {
				c.senders[1] = receiver
			}
			return i
		}
	}
	return 1
}

// decodeDir decodes the frames of one direction and writes their PDUs.
func (d *Decoder) decodeDir(c *conn, dir int, data []byte) (int, int) {
	h := c.half[dir]
	off, need := 0, 0
	if pend := h.asked; pend != 0 {
		h.asked = 0
		if h.synced && d.noReassembly {
			// The last call asked TCP for the rest of a frame, but this
			// segment could not be reassembled (a snap length cut it):
			// the frame's start is gone, and data goes on inside it.
			h.synced = false
			if pend > 0 {
				h.skip, h.cutOff = pend, true
				c.frameCut(dir, h.askedFH)
			} else {
				c.framesLost(dir) // not even its header was whole
			}
		}
	}
	if !h.synced {
		n, ok := d.sync(c, dir, data)
		switch {
		case !ok && n > 0:
			need = n
		case !ok:
			start, found := d.resync(c, dir, data)
			switch {
			case start > 0 && h.cutOff:
				d.cutRest(0, start)
			case start > 0 && h.wasSynced:
				d.lost(c, dir, 0, start)
			case start > 0:
				d.unsynced(data[:start])
			}
			if h.restLost {
				h.cutOff, h.restLost = false, false
			}
			off = start
			if found {
				d.synced(h)
			}
		default:
			off = n
		}
	}
	for h.synced && off < len(data) {
		rem := data[off:]
		fh, reserved, ok := d.hdr.read(rem)
		if !ok {
			// As tcp_dissect_pdus does: ask for a segment, not for the
			// missing header octets, so that every pass reassembles alike.
			need, h.asked = NeedOneMoreSegment, -1
			if d.noReassembly {
				d.cut(off, len(rem), nil)
				h.synced, h.cutOff = false, true
				c.framesLost(dir)
				off, need = len(data), 0
			}
			break
		}
		total := frameHeaderLen + int(fh.Length)
		if total > len(rem) {
			peer := c.half[1-dir]
			overMax := peer.maxFrameSeen && fh.Length > peer.maxFrame
			overLimit := fh.Length > d.opts.MaxFrameLen
			if (overMax || overLimit) && !plausibleHeader(fh, reserved, true, ^uint32(0)) {
				// Not a peer's oversized frame but octets from inside one:
				// TCP passed on a segment that follows a gap (a segment
				// missing from the capture) as if it continued the
				// stream. Its type, flags or stream cannot be a frame's
				// either, so it is shown as lost framing, not as a frame
				// with a protocol error, and the next boundary is looked
				// for in the rest of the payload.
				start, found := d.resync(c, dir, rem)
				d.lost(c, dir, off, start)
				off += start
				if !found {
					h.synced = false
					break
				}
				continue
			}
			switch {
			case overMax:
				// A Go peer fails the connection on the header alone; do
				// not wait for megabytes that will never be decoded.
				d.oversized(off, len(rem), fh, fmt.Sprintf("frame length %d exceeds the receiver's SETTINGS_MAX_FRAME_SIZE %d (RFC 9113 §4.2); decoding of this direction resumes at the next frame boundary found", fh.Length, peer.maxFrame), xFrameSize)
			case overLimit:
				d.oversized(off, len(rem), fh, fmt.Sprintf("frame length %d exceeds the decoder limit %d (preference goh2.max_frame); decoding of this direction resumes at the next frame boundary found", fh.Length, d.opts.MaxFrameLen), xLimit)
			case d.noReassembly:
				d.cut(off, len(rem), &fh)
				// The rest of the frame comes first in the next segments,
				// after the octets the capture left out of this one.
				h.skip, h.cutOff = total-len(rem)-d.missing, true
				if h.skip < 0 {
					// The frame ended among the missing octets, and the
					// next one started there: its header is lost.
					h.skip, h.cutOff = 0, false
					c.framesLost(dir)
				}
				c.frameCut(dir, fh)
			default:
				need = total - len(rem)
				h.asked, h.askedFH = need, fh
				break
			}
			if need == 0 {
				// The frame's own expert info says decoding resumes at the
				// next boundary: none for the octets before it.
				h.synced, h.lostNoted = false, true
				off = len(data)
			}
			break
		}
		d.frame(c, dir, data, off, fh)
		off += total
	}
	if h.synced && off == len(data) && d.missing > 0 {
		// A frame began among the octets the capture left out.
		h.synced = false
		c.framesLost(dir)
	}
	return off, need
}

// sync finds the first frame boundary of a direction. It returns the
// octets to skip (the preface) and true, or the octets still needed for
// the preface and false, or 0 and false when the data is not aligned.
func (d *Decoder) sync(c *conn, dir int, data []byte) (int, bool) {
	h := c.half[dir]
	switch {
	case startsWithPreface(data):
		h.synced, h.wasSynced, h.contLost = true, true, false
		c.sawStart = true
		c.clientDir = dir
		c.half[0].maxFrameSeen = true
		c.half[1].maxFrameSeen = true
		if d.peerUnclaimed {
			// The server spoke first and was not understood: what its
			// SETTINGS said of sizes and windows is unknown.
			c.half[1-dir].maxFrameSeen, c.sawStart = false, false
		}
		if other := c.half[1-dir]; other.primed && other.blocks == 0 {
			// The server spoke first (nghttpd sends SETTINGS before it reads
			// the preface): its table is fresh after all.
			other.freshHPACK()
		}
		d.w.Begin(Proto.Item, 0, len(clientPreface), tree.FromBytes, ": Connection Preface", 0)
		d.w.Add(fMagic, 0, len(clientPreface), tree.Str(http2.ClientPreface), "", 0)
		d.w.End()
		d.addInfo("Magic")
		return len(clientPreface), true
	case len(data) < len(clientPreface) && string(clientPreface[:len(data)]) == string(data):
		return len(clientPreface) - len(data), false
	case c.sawStart && dir != c.clientDir && !h.wasSynced:
		// The server's first frame follows the client's preface.
		h.synced, h.wasSynced, h.contLost = true, true, false
		return 0, true
	case h.skip == 0 && frameRun(&d.hdr, data, false, strictMaxLen):
		d.synced(h)
		return 0, true
	}
	return 0, false
}

// synced marks a direction aligned on frames after the capture started
// mid-connection (or after a resynchronisation).
func (d *Decoder) synced(h *half) {
	h.synced, h.wasSynced, h.lostNoted, h.cutOff = true, true, false, false
	h.skip = 0
	if h.blocks == 0 && !h.primed {
		h.primeMidstream(&d.frag)
	}
}

// resync looks for the first frame boundary inside data, for a direction
// whose frames are larger than its segments (a bulk transfer captured
// from its middle): a run of plausible frames in data is a boundary;
// failing that, the first plausible header whose frame ends in a later
// segment becomes a candidate, confirmed when a plausible header stands
// exactly where that frame ends. It returns where decoding can start
// (len(data) when nowhere) and whether a boundary was found there.
func (d *Decoder) resync(c *conn, dir int, data []byte) (int, bool) {
	h := c.half[dir]
	if h.skip > 0 {
		if h.skip >= len(data) {
			// Past the end of data: after the octets the capture left
			// out, or among them, where the boundary cannot be found:
			// frames that began there are lost.
			if h.skip -= len(data) + d.missing; h.skip < 0 {
				// data is still the rest of the cut frame (cutOff), the
				// segments after it are not.
				h.skip, h.restLost = 0, true
				c.framesLost(dir)
			}
			return len(data), false
		}
		at := h.skip
		h.skip = 0
		if fh, r, ok := d.hdr.read(data[at:]); ok && plausibleHeader(fh, r, true, strictMaxLen) {
			return at, true
		}
	}
	later := 0
	for i := 1; i+frameHeaderLen <= len(data); i++ {
		// Most offsets of a frame's payload fail on the type octet alone;
		// a lost segment can leave megabytes to scan.
		if !knownType(http2.FrameType(data[i+3])) {
			continue
		}
		fh, r, ok := d.hdr.read(data[i:])
		if !ok || !plausibleHeader(fh, r, true, strictMaxLen) || fh.Type == http2.FrameContinuation {
			continue
		}
		end := i + frameHeaderLen + int(fh.Length)
		if end > len(data) {
			// A candidate to check in a later segment, unless a run of
			// frames confirms a boundary further on in this one: octets
			// inside a frame can read as a header of a long frame too.
			// One that ends among octets the capture left out cannot be.
			if later == 0 && end > len(data)+d.missing {
				later = end - len(data) - d.missing
			}
			continue
		}
		if frameRun(&d.hdr, data[i:], true, strictMaxLen) {
			return i, true
		}
	}
	h.skip = later
	return len(data), false
}

// outside shows data[off:off+n] as octets in no frame that is decoded:
// an item with text, info for the column, and expert info x with msg
// unless msg is empty.
func (d *Decoder) outside(off, n int, text, info string, x schema.ExpertID, msg string) {
	d.w.Begin(Proto.Item, off, n, tree.FromBytes, text, 0)
	d.w.Add(fNotSynced, off, n, tree.FromBytes, "", 0)
	if msg != "" {
		d.w.Expert(x, msg)
	}
	d.w.End()
	d.addInfo(info)
}

// unsynced shows data[0:] (a prefix of the call's data) as bytes that
// belong to no frame seen from its start.
func (d *Decoder) unsynced(data []byte) {
	d.outside(0, len(data), ": continuation of a frame that started before the capture", "[data before the first frame boundary]",
		xUnsynced, fmt.Sprintf("%d octets before the first frame boundary of this direction", len(data)))
}

// lost shows data[off:off+n] as octets of a direction that lost its
// framing: where a frame header was due, or after that until the next
// boundary found. Only the first packet of a loss gets the expert info,
// as the next boundary can be a frame length (up to 16 MiB) away.
func (d *Decoder) lost(c *conn, dir, off, n int) {
	h := c.half[dir]
	c.framesLost(dir)
	msg := ""
	if !h.lostNoted {
		msg = fmt.Sprintf("framing lost: %d octets where a frame header was due are not one; decoding of this direction resumes at the next frame boundary found", n)
		h.lostNoted = true
	}
	d.outside(off, n, ": framing lost", "[framing lost]", xLost, msg)
}

func (d *Decoder) oversized(off, n int, fh http2.FrameHeader, msg string, x schema.ExpertID) {
	d.w.Begin(Proto.Item, off, n, tree.FromBytes, fmt.Sprintf(": %s, Length %d", frameLabel(fh), fh.Length), 0)
	d.header(off, fh)
	d.w.Expert(x, msg)
	d.w.End()
	d.addInfo(frameLabel(fh), " [too large]")
}

// cut shows a frame that the segment ends inside of while TCP reassembly
// is off.
func (d *Decoder) cut(off, n int, fh *http2.FrameHeader) {
	msg := fmt.Sprintf("frame cut by the end of the segment (%d octets) and TCP reassembly is off (tcp.desegment_tcp_streams): enable it to decode frames that span segments", n)
	if d.missing > 0 {
		msg = fmt.Sprintf("frame cut by the capture's snap length: %d octets of it captured, the segment's last %d octets not; decoding goes on after them", n, d.missing)
	}
	if fh == nil {
		d.outside(off, n, ": partial frame header", "[partial frame]", xUnsynced, msg)
		return
	}
	d.w.Begin(Proto.Item, off, n, tree.FromBytes, fmt.Sprintf(": %s, Length %d (partial)", frameLabel(*fh), fh.Length), 0)
	d.header(off, *fh)
	d.w.Expert(xUnsynced, msg)
	d.w.End()
	d.addInfo(frameLabel(*fh), " [partial]")
}

// cutRest shows data[off:off+n] as the rest of a frame that cut showed
// the start of (its note said why).
func (d *Decoder) cutRest(off, n int) {
	d.outside(off, n, ": rest of a frame cut by the end of a segment", "[rest of a partial frame]", 0, "")
}

// header writes the items of the 9-octet frame header.
func (d *Decoder) header(off int, fh http2.FrameHeader) {
	w := d.w
	w.Add(fLength, off, 3, tree.FromBytes, "", 0)
	w.Add(fType, off+3, 1, tree.FromBytes, "", 0)
	w.Begin(fFlags, off+4, 1, tree.FromBytes, "", 0)
	var defined http2.Flags
	if knownType(fh.Type) {
		defined = definedFlags[fh.Type]
	}
	switch fh.Type {
	case http2.FrameData:
		w.Add(fEndStrm, off+4, 1, tree.FromBytes, "", 0)
		w.Add(fPadded, off+4, 1, tree.FromBytes, "", 0)
	case http2.FrameHeaders:
		w.Add(fEndStrm, off+4, 1, tree.FromBytes, "", 0)
		w.Add(fEndHdrs, off+4, 1, tree.FromBytes, "", 0)
		w.Add(fPadded, off+4, 1, tree.FromBytes, "", 0)
		w.Add(fPrioFlag, off+4, 1, tree.FromBytes, "", 0)
	case http2.FramePushPromise:
		w.Add(fEndHdrs, off+4, 1, tree.FromBytes, "", 0)
		w.Add(fPadded, off+4, 1, tree.FromBytes, "", 0)
	case http2.FrameContinuation:
		w.Add(fEndHdrs, off+4, 1, tree.FromBytes, "", 0)
	case http2.FrameSettings:
		w.Add(fAckSet, off+4, 1, tree.FromBytes, "", 0)
	case http2.FramePing:
		w.Add(fAckPing, off+4, 1, tree.FromBytes, "", 0)
	}
	w.Add(fUnused, off+4, 1, tree.Uint(uint64(fh.Flags&^defined)), "", 0)
	w.End()
	w.Add(fReserved, off+5, 4, tree.FromBytes, "", 0)
	w.Add(fStreamID, off+5, 4, tree.FromBytes, "", 0)
}

// frameExperts collects the expert infos of the frame being decoded; they
// are written once the frame's state changes are known.
type frameExperts []struct {
	id  schema.ExpertID
	msg string
}

func (fx *frameExperts) add(id schema.ExpertID, format string, a ...any) {
	*fx = append(*fx, struct {
		id  schema.ExpertID
		msg string
	}{id, fmt.Sprintf(format, a...)})
}

// section names the RFC 9113 section that governs each frame type.
var section = [...]string{
	http2.FrameData:         "§6.1",
	http2.FrameHeaders:      "§6.2",
	http2.FramePriority:     "§6.3",
	http2.FrameRSTStream:    "§6.4",
	http2.FrameSettings:     "§6.5",
	http2.FramePushPromise:  "§6.6",
	http2.FramePing:         "§6.7",
	http2.FrameGoAway:       "§6.8",
	http2.FrameWindowUpdate: "§6.9",
	http2.FrameContinuation: "§6.10",
}

func sectionOf(t http2.FrameType) string {
	if knownType(t) {
		return section[t]
	}
	return "§5.5"
}

// violation explains, for a frame the Framer refused without detail, which
// rule it breaks, and the section of that rule when it is not the frame
// type's own.
func violation(fh http2.FrameHeader, payload []byte, code http2.ErrCode) (string, string) {
	zeroOnly := fh.Type == http2.FrameSettings || fh.Type == http2.FramePing || fh.Type == http2.FrameGoAway
	switch {
	case zeroOnly && fh.StreamID != 0:
		return fmt.Sprintf("%v frame on stream %d; it must use stream 0", fh.Type, fh.StreamID), ""
	case !zeroOnly && fh.Type != http2.FrameWindowUpdate && knownType(fh.Type) && fh.StreamID == 0:
		return fmt.Sprintf("%v frame on stream 0", fh.Type), ""
	case fh.Type == http2.FramePing && fh.Length != 8:
		return fmt.Sprintf("PING payload of %d octets; it must be 8", fh.Length), ""
	case fh.Type == http2.FrameSettings && fh.Flags.Has(http2.FlagSettingsAck) && fh.Length != 0:
		return "SETTINGS ACK with a payload", ""
	case fh.Type == http2.FrameSettings && fh.Length%6 != 0:
		return fmt.Sprintf("SETTINGS payload of %d octets is not a multiple of 6", fh.Length), ""
	case fh.Type == http2.FrameSettings:
		for i := 0; i+6 <= len(payload); i += 6 {
			s := http2.Setting{ID: http2.SettingID(binary.BigEndian.Uint16(payload[i:])), Val: binary.BigEndian.Uint32(payload[i+2:])}
			if err := s.Valid(); err != nil && err == http2.ConnectionError(code) {
				return fmt.Sprintf("%v %d is invalid", s.ID, s.Val), "§6.5.2"
			}
		}
	case fh.Type == http2.FrameWindowUpdate && fh.Length == 4:
		return "WINDOW_UPDATE with an increment of 0", ""
	case fh.Type == http2.FrameWindowUpdate, fh.Type == http2.FrameRSTStream:
		return fmt.Sprintf("%v payload of %d octets; it must be 4", fh.Type, fh.Length), ""
	case fh.Type == http2.FramePriority:
		return fmt.Sprintf("PRIORITY payload of %d octets; it must be 5", fh.Length), ""
	case fh.Type == http2.FrameGoAway:
		return fmt.Sprintf("GOAWAY payload of %d octets; it must be at least 8", fh.Length), ""
	}
	return "padding longer than the payload", ""
}

// framerError turns an error of the Framer into an expert info.
func (d *Decoder) framerError(fr *http2.Framer, fh http2.FrameHeader, payload []byte, err error) {
	detail := ""
	if e := fr.ErrorDetail(); e != nil {
		detail = e.Error()
	}
	var ce http2.ConnectionError
	var se http2.StreamError
	code := http2.ErrCodeProtocol
	scope := "connection"
	switch {
	case errors.As(err, &ce):
		code = http2.ErrCode(ce)
	case errors.As(err, &se):
		code, scope = se.Code, fmt.Sprintf("stream %d", se.StreamID)
		if se.Cause != nil {
			detail = se.Cause.Error()
		}
	default:
		d.fx.add(xProtocol, "%v (RFC 9113 %s)", err, sectionOf(fh.Type))
		return
	}
	sec := sectionOf(fh.Type)
	if detail == "" {
		var rule string
		detail, rule = violation(fh, payload, code)
		if rule != "" {
			sec = rule
		}
	}
	if strings.HasPrefix(detail, "got ") || strings.HasPrefix(detail, "unexpected CONTINUATION") {
		sec = "§6.10" // header block sequencing
		d.resetFramer = true
		if d.contLost && fh.Type == http2.FrameContinuation {
			// Not the peer's error: its HEADERS went with the lost frames.
			d.fx.add(xTableLost, "CONTINUATION for stream %d of a header block whose HEADERS was lost with frames of this direction: not decoded", fh.StreamID)
			return
		}
	}
	id := xProtocol
	switch code {
	case http2.ErrCodeFrameSize:
		id = xFrameSize
	case http2.ErrCodeFlowControl:
		id = xFlowError
	}
	d.fx.add(id, "%s error %v: %s (RFC 9113 %s)", scope, code, detail, sec)
}

// frame decodes one complete frame at data[off:].
func (d *Decoder) frame(c *conn, dir int, data []byte, off int, fh http2.FrameHeader) {
	h, peer := c.half[dir], c.half[1-dir]
	d.fx = d.fx[:0]
	if fh.Type == http2.FrameHeaders {
		h.contLost = false
	}
	d.contLost = h.contLost
	total := frameHeaderLen + int(fh.Length)
	raw := data[off : off+total]
	h.rd.Reset(raw)
	if h.fr == nil {
		h.newFramer()
	}

	// A Go peer reads with its advertised SETTINGS_MAX_FRAME_SIZE. When the
	// capture missed the SETTINGS, the size is unknown: do not judge it.
	if peer.maxFrameSeen {
		h.fr.SetMaxReadFrameSize(peer.maxFrame)
	} else {
		h.fr.SetMaxReadFrameSize(1<<24 - 1)
	}
	hdr, err := h.fr.ReadFrameHeader()
	if err == nil {
		// The Framer checked the order of this header and noted whether
		// a CONTINUATION must follow; a length past its limit skipped
		// that, and an order error left it (or resets the Framer below).
		h.frBlock = (fh.Type == http2.FrameHeaders || fh.Type == http2.FrameContinuation) && !fh.Flags.Has(http2.FlagHeadersEndHeaders)
	}
	if errors.Is(err, http2.ErrFrameTooLarge) {
		d.fx.add(xFrameSize, "frame length %d exceeds the receiver's SETTINGS_MAX_FRAME_SIZE %d (RFC 9113 §4.2)", fh.Length, peer.maxFrame)
	} else if err != nil {
		d.framerError(h.fr, fh, raw[frameHeaderLen:], err)
	}
	if err != nil {
		hdr = fh
	}
	f, err := h.fr.ReadFrameForHeader(hdr)
	if err != nil {
		d.framerError(h.fr, fh, raw[frameHeaderLen:], err)
		f = nil
	}

	st := d.apply(c, dir, fh, f)
	d.render(c, dir, data, off, fh, f, st)
	if !d.grpcOff {
		d.grpc(c, dir, data, off, fh, f, st)
	}
	if d.resetFramer {
		// x/net keeps expecting the CONTINUATION after a sequencing
		// error; one error must not condemn every later frame.
		d.resetFramer = false
		h.newFramer()
		if h.block.active {
			_ = h.hdec.Close()
			h.block.active = false
		}
	}
}

// grpc writes the gogrpc items of a frame of a gRPC stream: the messages
// that complete in a DATA frame, and the status in trailers.
func (d *Decoder) grpc(c *conn, dir int, data []byte, off int, fh http2.FrameHeader, f http2.Frame, fs frameState) {
	st := fs.st
	if st == nil {
		return
	}
	// After frames were lost a block may decode without an unknown
	// reference and still not be what the peer sent (a reference to an
	// entry that moved): it is not taken as whole.
	blockWhole := fs.whole() && !c.half[dir].blocksLost
	if df, ok := f.(*http2.DataFrame); ok && !st.grpc && !st.sawMethod {
		d.grpcWithoutHeaders(c, dir, st, df.Data(), df.StreamEnded())
	}
	if fs.block && fh.Type != http2.FramePushPromise {
		get := func(name string) (string, bool) {
			for _, h := range fs.all {
				if h.Name == name {
					return h.Value, true
				}
			}
			return "", false
		}
		if m, ok := get(":method"); ok && m != "" {
			ct, ctKnown := get("content-type")
			whole := blockWhole
			if !ctKnown && !whole && m == "POST" {
				// The content-type may be one of the fields that refer to
				// HPACK entries the capture does not have: the first DATA
				// decides (grpcWithoutHeaders).
				// What was captured of the request is kept for then.
				st.hidden = true
				st.reqDir = dir
				st.call.Path, _ = get(":path")
				st.call.Encoding[0], _ = get("grpc-encoding")
				st.progress = gogrpc.Progress{Start: d.now}
				if v, ok := get("grpc-timeout"); ok {
					st.progress.Timeout, _ = gogrpc.ParseTimeout(v)
				}
			} else {
				st.sawMethod = true
			}
			if isGRPC, text := gogrpc.IsGRPC(ct); isGRPC {
				path, _ := get(":path")
				enc, _ := get("grpc-encoding")
				st.grpc, st.reqDir, st.call = true, dir, gogrpc.Call{Path: path, Encoding: [2]string{enc}, Text: [2]bool{text}}
				st.call.Whole[0] = whole
				d.grpcBuffers(st)
				d.grpcConn(c, dir)
				st.progress = gogrpc.Progress{Start: d.now}
				if v, ok := get("grpc-timeout"); ok {
					st.progress.Timeout, _ = gogrpc.ParseTimeout(v)
				}
				gogrpc.WriteRequest(d.w, off, frameHeaderLen+int(fh.Length), st.call, get)
			}
		} else if ct, _ := get("content-type"); !st.grpc {
			if isGRPC, text := gogrpc.IsGRPC(ct); isGRPC {
				// A gRPC response whose request was not captured: the
				// method comes from the gogrpc.ports preference, if it
				// names one.
				call := gogrpc.Call{Path: d.grpcPortPath(c, 1-dir), Text: [2]bool{false, text}}
				if st.hidden {
					// Its request was captured, its content-type was not:
					// what was is kept.
					if st.call.Path != "" {
						call.Path = st.call.Path
					}
					call.Encoding[0] = st.call.Encoding[0]
				} else {
					st.progress = gogrpc.Progress{Start: d.now}
				}
				st.grpc, st.reqDir, st.call = true, 1-dir, call
				d.grpcBuffers(st)
				if enc, ok := get("grpc-encoding"); ok {
					st.call.Encoding[1] = enc
				}
				st.call.Whole[1] = blockWhole
				d.grpcStatus(st, off, frameHeaderLen+int(fh.Length), get, st.ended[dir], blockWhole)
			} else if _, resp := get(":status"); resp && ct == "" && st.ended[dir] && !blockWhole && !st.sawMethod && !st.hidden && !st.progress.Ended {
				// A call begun before the capture may end so, its
				// response referring to HPACK entries the capture does
				// not hold: counted once the connection shows gRPC.
				st.progress.Ended = true
				d.unseenEnd(c)
			}
		} else if st.grpc && st.call.Assumed && dir != st.reqDir && ct != "" && !isGRPCType(ct) {
			// Taken for gRPC by its request's DATA, answered as something
			// else: not gRPC after all.
			st.grpc = false
		} else if st.grpc && dir != st.reqDir {
			if enc, ok := get("grpc-encoding"); ok {
				st.call.Encoding[1] = enc
			}
			if _, ok := get(":status"); ok {
				// The response's headers (trailers have no status): what
				// they say of its messages' encoding is all there is.
				st.call.Whole[1] = blockWhole
			}
			if _, text := gogrpc.IsGRPC(ct); ct != "" {
				st.call.Text[1] = text
			}
			d.grpcStatus(st, off, frameHeaderLen+int(fh.Length), get, st.ended[dir], blockWhole)
		}
	}
	if rst, ok := f.(*http2.RSTStreamFrame); ok && st.grpc && !st.progress.Ended {
		// Reset before its status: the call ends as grpc-go reports it.
		d.grpcEnd(st, off, frameHeaderLen+int(fh.Length), gogrpc.ResetStatus(rst.ErrCode, st.progress.Timeout, d.now.Sub(st.progress.Start)))
	}
	if df, ok := f.(*http2.DataFrame); ok && st.grpc && !(st.respPlain && dir != st.reqDir) && d.grpcInStep(st, dir, off, fh, df) {
		base := off + frameHeaderLen
		if fh.Flags.Has(http2.FlagDataPadded) {
			base++
		}
		side := st.side(dir)
		payload := df.Data()
		if st.call.Text[side] {
			// gRPC-Web-Text: the messages are in the base64 text.
			var err error
			if d.text, err = st.b64[dir].Decode(d.text[:0], payload); err != nil {
				gogrpc.WriteProblem(d.w, off, frameHeaderLen+int(fh.Length), st.call, gogrpc.XWebText, fmt.Sprintf("stream %d: %v; the rest of this direction is not decoded", fh.StreamID, err))
				return
			}
			payload = d.text
		}
		notShown := 0
		for _, m := range st.msgs[dir].FeedFrame(payload, d.frameNum) {
			for _, p := range m.Frames {
				if p.Frame != d.frameNum {
					d.links = append(d.links, Link{Part: p.Frame, In: d.frameNum})
				}
			}
			if st.call.Text[side] {
				m.Encoded, m.Off, m.N = true, 0, len(df.Data())
			}
			if m.Trailer {
				// gRPC-Web: the trailers travel as the body's last frame.
				d.grpcStatus(st, base+m.Off, m.N, gogrpc.WebTrailers(m.Data), true, true)
				continue
			}
			st.progress.Messages[side]++
			st.progress.Bytes[side] += int64(m.Length)
			if d.w.E != nil && d.w.E.Len() >= gogrpc.MaxItemsPerPacket {
				notShown++
				continue
			}
			lim := d.grpcLimits
			lim.NoTree = d.noTree
			lim.Inflated = &d.inflated
			gogrpc.WriteMessage(d.w, base, m, st.call, dir == st.reqDir, d.schema, lim)
		}
		if notShown > 0 {
			gogrpc.WriteProblem(d.w, off, frameHeaderLen+int(fh.Length), st.call, gogrpc.XNotShown,
				fmt.Sprintf("%d more gRPC messages of stream %d not shown: this packet's items reached %d octets", notShown, fh.StreamID, gogrpc.MaxItemsPerPacket))
		}
		if seen, length, ok := st.msgs[dir].Pending(); ok && df.StreamEnded() {
			msg := fmt.Sprintf("stream %d ended after %d of the %d octets of a message (its prefix included)", fh.StreamID, seen, length)
			if length == 0 {
				msg = fmt.Sprintf("stream %d ended after %d octets of a message's 5-octet prefix", fh.StreamID, seen)
			}
			gogrpc.WriteProblem(d.w, off, frameHeaderLen+int(fh.Length), st.call, gogrpc.XIncomplete, msg)
		}
		if df.StreamEnded() && dir != st.reqDir && !st.progress.Ended {
			d.grpcEnd(st, off, frameHeaderLen+int(fh.Length), gogrpc.EndedWithoutTrailers)
		}
	}
}

// unseenEnd counts a call begun before the capture that ended without a
// status the capture holds, once the connection shows gRPC.
func (d *Decoder) unseenEnd(c *conn) {
	if c.grpcReqDir > 0 {
		d.calls.NoStatus(1)
	} else {
		c.unseenEnds++
	}
}

// grpcConn notes that the connection carries gRPC requests in direction
// reqDir, and counts the calls that ended before it was known to.
func (d *Decoder) grpcConn(c *conn, reqDir int) {
	c.grpcReqDir = reqDir + 1
	d.calls.NoStatus(c.unseenEnds)
	c.unseenEnds = 0
}

// grpcStatus writes how a block of the response (HEADERS, or gRPC-Web's
// trailers frame) ends the call, if it does (gogrpc.ReadStatus).
func (d *Decoder) grpcStatus(st *stream, off, n int, get func(string) (string, bool), end, whole bool) {
	if s, ok := gogrpc.ReadStatus(get, end, whole); ok {
		st.respPlain = st.respPlain || s.NotGRPC
		d.grpcEnd(st, off, n, s)
	} else if end && !st.progress.Ended {
		st.progress.Ended = true
		d.calls.NoStatus(1)
	}
}

// grpcEnd writes a call's status, with its summary, and counts the call,
// once: a client takes no second status (trailers after the HTTP status
// of a response that is not gRPC decided it, a reset after trailers).
func (d *Decoder) grpcEnd(st *stream, off, n int, s gogrpc.Status) {
	if st.progress.Ended {
		return
	}
	gogrpc.WriteStatus(d.w, off, n, st.call, s, d.schema, func(w tree.Writer) {
		gogrpc.WriteSummary(w, off, n, &st.progress, d.now)
	})
	st.progress.Ended = true
	d.calls.Add(st.call.Path, s.Code, d.now.Sub(st.progress.Start))
}

// grpcInStep reports whether the gRPC messages of st's direction dir can
// be read from df. After frames of it were lost or cut (msgsCut) they
// cannot, which is reported once, until a DATA frame reads as messages
// from its first octet (grpc-go starts every message in a DATA frame of
// its own): decoding resumes there, with a note.
func (d *Decoder) grpcInStep(st *stream, dir, off int, fh http2.FrameHeader, df *http2.DataFrame) bool {
	if !st.msgsCut[dir] {
		return true
	}
	side := st.side(dir)
	n := frameHeaderLen + int(fh.Length)
	if !st.msgsLost[dir] {
		st.msgsLost[dir], st.progress.Lost[side] = true, true
		msg := fmt.Sprintf("stream %d: frames of this direction were lost (segments missing from the capture, or cut): its gRPC messages are out of step until a DATA frame starts with one", fh.StreamID)
		if seen, length, ok := st.msgs[dir].Pending(); ok {
			msg += fmt.Sprintf("; %d of the %d octets of a message (its prefix included) were seen", seen, length)
		}
		gogrpc.WriteProblem(d.w, off, n, st.call, gogrpc.XMessagesLost, msg)
	}
	if st.call.Text[side] || !grpcResumes(df.Data(), df.StreamEnded()) {
		return false
	}
	st.msgsCut[dir], st.msgsLost[dir] = false, false
	st.msgs[dir] = grpcmsg.Reassembler{Max: st.msgs[dir].Max}
	gogrpc.WriteProblem(d.w, off, n, st.call, gogrpc.XResumed, fmt.Sprintf("stream %d: this DATA frame reads as gRPC messages from its first octet: decoding resumes", fh.StreamID))
	return true
}

// grpcResumes reports whether a DATA payload after lost frames can be
// taken to start with a message: it reads as messages end to end
// (grpcMessages), the first of which is not empty unless it is all of p;
// zeros from inside a message read as empty messages.
func grpcResumes(p []byte, end bool) bool {
	if len(p) < grpcmsg.PrefixLen || binary.BigEndian.Uint32(p[1:grpcmsg.PrefixLen]) == 0 && len(p) > grpcmsg.PrefixLen {
		return false
	}
	return grpcMessages(p, end)
}

// grpcWithoutHeaders takes a stream whose request HEADERS were never
// captured (a capture that began inside it), or whose content-type refers
// to HPACK entries from before the capture (hidden), for gRPC when its
// first DATA starts like a gRPC message and the server's port is in the
// gogrpc.ports preference (which also names the method); otherwise a
// hidden POST when its DATA is gRPC messages end to end, and a stream
// without HEADERS when the connection carried gRPC requests before
// (which tells the request direction).
func (d *Decoder) grpcWithoutHeaders(c *conn, dir int, st *stream, payload []byte, end bool) {
	// Only the stream's first DATA can show where a message begins.
	first := !st.grpcChecked
	st.grpcChecked = true
	if !first || len(payload) < grpcmsg.PrefixLen || payload[0] > 1 {
		return
	}
	path, reqDir := "", -1
	if p, ok := d.grpcPorts[senderPort(c.senders[1-dir])]; ok {
		path, reqDir = p, dir
	} else if p, ok := d.grpcPorts[senderPort(c.senders[dir])]; ok {
		path, reqDir = p, 1-dir
	} else if st.hidden {
		// Whatever the connection carried before: a POST's body must
		// show it is gRPC.
		if grpcMessages(payload, end) {
			reqDir = st.reqDir
		}
	} else if c.grpcReqDir > 0 {
		reqDir = c.grpcReqDir - 1
	}
	if reqDir < 0 {
		return
	}
	call := gogrpc.Call{Path: path, Assumed: true}
	if st.hidden {
		// The request's HEADERS say which way it goes, and name the
		// method and encoding when those were not lost entries; the
		// call started with them.
		reqDir = st.reqDir
		if st.call.Path != "" {
			call.Path = st.call.Path
		}
		call.Encoding[0] = st.call.Encoding[0]
		d.grpcConn(c, reqDir)
	} else {
		st.progress = gogrpc.Progress{Start: d.now}
	}
	st.grpc, st.reqDir, st.call = true, reqDir, call
	d.grpcBuffers(st)
}

// grpcMessages reports a DATA payload made of gRPC length-prefixed
// messages end to end (flag 0 or 1, then a length of at most gRPC's
// default limit, 4 MiB), the last of which may go on in later frames
// unless the stream ends with this one. A file that starts 00 01 00 00
// (a font) has a "length" of 16 MiB; a run of zeros is empty messages,
// which are not taken for a stream of them.
func grpcMessages(p []byte, end bool) bool {
	msgs, empty := 0, 0
	for len(p) > 0 {
		if len(p) < grpcmsg.PrefixLen || p[0] > 1 {
			return false
		}
		n := uint64(binary.BigEndian.Uint32(p[1:grpcmsg.PrefixLen]))
		if n > maxAssumedMessage {
			return false
		}
		if msgs++; n == 0 {
			empty++
		}
		if rest := uint64(len(p) - grpcmsg.PrefixLen); n > rest {
			return !end
		}
		p = p[grpcmsg.PrefixLen+int(n):]
	}
	return msgs == 1 || empty < msgs
}

// maxAssumedMessage is the longest message a body taken for gRPC by its
// DATA may start with: grpc-go's default receive limit.
const maxAssumedMessage = 4 << 20

// isGRPCType reports a gRPC or gRPC-Web content-type.
func isGRPCType(ct string) bool {
	ok, _ := gogrpc.IsGRPC(ct)
	return ok
}

// grpcBuffers sets how much of a message a stream keeps.
func (d *Decoder) grpcBuffers(st *stream) {
	st.msgs[0].Max = d.grpcLimits.WithDefaults().MaxMessage
	st.msgs[1].Max = st.msgs[0].Max
}

// grpcPortPath is the method that gogrpc.ports gives the server that
// receives the requests of direction reqDir.
func (d *Decoder) grpcPortPath(c *conn, reqDir int) string {
	return d.grpcPorts[senderPort(c.senders[1-reqDir])]
}

func senderPort(sender string) uint16 {
	_, p, _ := strings.Cut(sender, " ")
	n, _ := strconv.Atoi(p)
	return uint16(n)
}

// flowResult is what a frame did to a flow-control window.
type flowResult struct {
	valid        bool
	conn, stream int64
	hasStream    bool
	adjusted     int
}

// frameState carries what apply learned for render.
type frameState struct {
	flow     flowResult
	fields   []hpack.HeaderField // fields completed by this frame's fragment
	inBlock  bool                // this frame carries a header block fragment
	all      []hpack.HeaderField // the whole block, once it ends
	block    bool                // a header block ended in this frame
	frames   int
	listSz   uint32
	capped   bool
	trailers bool
	hpackErr string
	acked    []http2.Setting
	st       *stream
}

// apply updates the connection state for one frame, on the first pass
// only (the caller never decodes a frame twice).
func (d *Decoder) apply(c *conn, dir int, fh http2.FrameHeader, f http2.Frame) frameState {
	h, peer := c.half[dir], c.half[1-dir]
	var fs frameState
	var st *stream
	switch fh.Type {
	case http2.FrameData, http2.FrameHeaders, http2.FramePushPromise, http2.FrameContinuation:
		if fh.StreamID == 0 {
			break
		}
		if fh.Type == http2.FrameContinuation && h.block.active && h.block.stream == fh.StreamID && h.block.st != nil {
			// The block's stream, even if END_STREAM on its HEADERS
			// ended it: its status may be in this fragment.
			st = h.block.st
			break
		}
		// Frames that open or carry a stream create its state.
		var evicted bool
		st, evicted = c.stream(fh.StreamID, d.tick, &d.opts)
		if evicted {
			d.fx.add(xLimit, "more than %d streams tracked on this connection; the least recently used was forgotten", d.opts.MaxStreams)
		}
	case http2.FrameWindowUpdate, http2.FramePriority, http2.FrameRSTStream:
		// These may name closed or idle streams; they must not revive them.
		st = c.streams[fh.StreamID]
	}

	switch f := f.(type) {
	case *http2.DataFrame:
		if c.sawStart && st != nil {
			n := int64(fh.Length) // padding counts against the window
			h.connWindow -= n
			st.window[dir] -= n
			fs.flow = flowResult{valid: true, conn: h.connWindow, stream: st.window[dir], hasStream: true}
			d.checkWindow(0, h.connWindow, n)
			d.checkWindow(fh.StreamID, st.window[dir], n)
		}
		if f.StreamEnded() && st != nil {
			st.ended[dir] = true
		}
	case *http2.HeadersFrame:
		d.startBlock(h, fh.StreamID, false, 0)
		h.block.st = st
		if st != nil {
			fs.trailers = st.sawHdrs[dir]
			if f.StreamEnded() {
				st.ended[dir] = true
			}
		}
		d.blockFragment(h, f.HeaderBlockFragment(), f.HeadersEnded(), &fs)
	case *http2.PushPromiseFrame:
		d.startBlock(h, fh.StreamID, true, f.PromiseID)
		if _, evicted := c.stream(f.PromiseID, d.tick, &d.opts); evicted {
			d.fx.add(xLimit, "more than %d streams tracked on this connection; the least recently used was forgotten", d.opts.MaxStreams)
		}
		d.blockFragment(h, f.HeaderBlockFragment(), f.HeadersEnded(), &fs)
	case *http2.ContinuationFrame:
		if h.block.active && h.block.stream == fh.StreamID {
			h.block.frames++
			if h.block.frames == d.opts.MaxContinuation+1 {
				d.fx.add(xLimit, "header block spans more than %d CONTINUATION frames", d.opts.MaxContinuation)
			}
			d.blockFragment(h, f.HeaderBlockFragment(), f.HeadersEnded(), &fs)
		}
	case *http2.RSTStreamFrame:
		delete(c.streams, fh.StreamID)
		fs.st = st // its gRPC call ends here
		st = nil
	case *http2.SettingsFrame:
		if f.IsAck() {
			// The ACK makes the peer's oldest outstanding SETTINGS apply.
			if len(peer.pending) > 0 {
				fs.acked = peer.pending[0]
				peer.pending = peer.pending[1:]
				fs.flow.adjusted = d.applySettings(c, 1-dir, fs.acked)
			}
			break
		}
		var ss []http2.Setting
		for i := 0; i < f.NumSettings(); i++ {
			s := f.Setting(i)
			if err := s.Valid(); err != nil {
				d.fx.add(xProtocol, "%v %d is invalid: %v (RFC 9113 §6.5.2)", s.ID, s.Val, err)
				continue
			}
			if s.ID == http2.SettingMaxFrameSize {
				// The sender accepts larger frames as soon as it says so.
				h.maxFrame, h.maxFrameSeen = s.Val, true
			}
			ss = append(ss, s)
		}
		if len(h.pending) < maxPendingSettings {
			h.pending = append(h.pending, ss)
		}
	case *http2.WindowUpdateFrame:
		if !c.sawStart {
			break
		}
		inc := int64(f.Increment)
		if fh.StreamID == 0 {
			peer.connWindow += inc
			fs.flow = flowResult{valid: true, conn: peer.connWindow}
			if peer.connWindow > maxWindow {
				d.fx.add(xFlowError, "connection window grows to %d, above 2^31-1 (RFC 9113 §6.9.1)", peer.connWindow)
			}
		} else if st != nil {
			st.window[1-dir] += inc
			fs.flow = flowResult{valid: true, conn: peer.connWindow, stream: st.window[1-dir], hasStream: true}
			if st.window[1-dir] > maxWindow {
				d.fx.add(xFlowError, "stream %d window grows to %d, above 2^31-1 (RFC 9113 §6.9.1)", fh.StreamID, st.window[1-dir])
			}
		}
	}
	if st != nil && st.ended[0] && st.ended[1] && !(h.block.active && h.block.st == st) {
		// Kept while its header block goes on in CONTINUATION frames.
		delete(c.streams, fh.StreamID)
	}
	if st != nil {
		fs.st = st
	}
	return fs
}

// checkWindow judges a window w (of the connection when stream is 0)
// after n flow-controlled octets.
func (d *Decoder) checkWindow(stream uint32, w, n int64) {
	switch {
	case w < 0:
		// Only what went beyond a window that was still open counts.
		d.fx.add(xFlowError, "DATA of %d octets exceeds the %s window by %d (RFC 9113 §6.9.1)", n, windowScope(stream), min(n, -w))
	case w == 0 && n > 0:
		d.fx.add(xBlocked, "%s window exhausted: the sender is blocked until a WINDOW_UPDATE", windowScope(stream))
	}
}

// windowScope names the window of stream (the connection's when 0), built
// only for an expert info: most frames leave their windows open.
func windowScope(stream uint32) string {
	if stream == 0 {
		return "connection"
	}
	return "stream " + strconv.FormatUint(uint64(stream), 10)
}

// applySettings applies SETTINGS sent by side s, now acknowledged. It
// returns how many open streams had their window adjusted.
func (d *Decoder) applySettings(c *conn, s int, ss []http2.Setting) int {
	h, peer := c.half[s], c.half[1-s]
	adjusted := 0
	for _, x := range ss {
		switch x.ID {
		case http2.SettingHeaderTableSize:
			// The peer's encoder may now grow its table up to this size.
			if x.Val > d.opts.MaxTableSize {
				d.fx.add(xLimit, "HEADER_TABLE_SIZE %d exceeds the decoder limit %d (preference goh2.max_table): larger tables are refused", x.Val, d.opts.MaxTableSize)
				peer.tableRefused = true
			}
			peer.hdec.SetAllowedMaxDynamicTableSize(min(x.Val, d.opts.MaxTableSize))
		case http2.SettingInitialWindowSize:
			delta := int64(x.Val) - h.initWindow
			h.initWindow = int64(x.Val)
			var over []uint32
			for id, st := range c.streams {
				st.window[1-s] += delta
				adjusted++
				if st.window[1-s] > maxWindow {
					over = append(over, id)
				}
			}
			// In stream order: a map's is random, and every pass must
			// give the same notes.
			slices.Sort(over)
			for _, id := range over {
				d.fx.add(xFlowError, "INITIAL_WINDOW_SIZE %d pushes stream %d's window to %d, above 2^31-1 (RFC 9113 §6.9.2)", x.Val, id, c.streams[id].window[1-s])
			}
		}
	}
	return adjusted
}

func (d *Decoder) startBlock(h *half, stream uint32, push bool, promise uint32) {
	if h.block.active {
		// The Framer reports the missing CONTINUATION; reset the decoder
		// so the new block starts clean.
		_ = h.hdec.Close()
	}
	h.blocks++
	h.block.active = true
	h.block.stream = stream
	h.block.push = push
	h.block.promise = promise
	h.block.frames = 1
	h.block.failed = false
	h.block.err = ""
	h.block.regular = false
	h.block.st = nil
	h.fields = h.fields[:0]
	h.listSz = 0
	h.capped = false
}

// blockFragment feeds one fragment to the direction's HPACK decoder. The
// fields it completes are shown in this frame, as Wireshark's http2 does.
func (d *Decoder) blockFragment(h *half, frag []byte, end bool, fs *frameState) {
	fs.inBlock = true
	start := len(h.fields)
	if !h.block.failed && len(frag) > 0 {
		d.frag = append(d.frag[:0], frag...)
		if _, err := h.hdec.Write(d.frag); err != nil {
			h.block.failed = true
			h.block.err = hpackError(err)
			fs.hpackErr = h.block.err
			if errors.Is(err, hpack.ErrStringLength) {
				// The decoder's limit, not the peer's error; the table
				// is not followed from here on.
				h.tableRefused = true
			}
		}
	}
	fs.fields = h.fields[start:]
	if !end {
		return
	}
	if err := h.hdec.Close(); err != nil && !h.block.failed {
		h.block.failed = true
		h.block.err = hpackError(err)
		fs.hpackErr = h.block.err
	}
	fs.block = true
	fs.all = h.fields
	fs.frames = h.block.frames
	if st := h.block.st; st != nil && !informational(h.fields) {
		// Later blocks on this stream, in this direction, are trailers.
		st.sawHdrs[h.dirIndex] = true
	}
	fs.listSz = h.listSz
	fs.capped = h.capped
	h.block.active = false
}

// whole reports a header block that decoded without an HPACK error and
// has no field that refers to an entry the capture does not have: what
// it lacks, the sender did not send.
func (fs *frameState) whole() bool {
	if fs.hpackErr != "" {
		return false
	}
	for _, f := range fs.all {
		if _, unknown := unknownIndex(f.Name); unknown {
			return false
		}
		if _, unknown := unknownIndex(f.Value); unknown {
			return false
		}
	}
	return true
}

// informational reports a 1xx response, which a final response follows.
func informational(fields []hpack.HeaderField) bool {
	for _, f := range fields {
		if f.Name == ":status" {
			return len(f.Value) == 3 && f.Value[0] == '1'
		}
	}
	return false
}

func hpackError(err error) string {
	var ie hpack.InvalidIndexError
	if errors.As(err, &ie) {
		return fmt.Sprintf("reference to HPACK index %d, which is not in the table (capture started mid-connection?); the rest of the block is lost", int(ie))
	}
	return err.Error()
}

// render writes the PDU for one frame.
func (d *Decoder) render(c *conn, dir int, data []byte, off int, fh http2.FrameHeader, f http2.Frame, fs frameState) {
	w := d.w
	p := off + frameHeaderLen
	L := int(fh.Length)
	label := appendFrameLabel(d.labelBuf[:0], fh)
	if fh.Type == http2.FrameRSTStream || fh.Type == http2.FrameGoAway {
		if ec, ok := errCodeOf(f); ok {
			label = append(append(label, ' '), ec.String()...)
		}
	}
	summary := d.summaryBuf[:0]
	if fs.block {
		summary = appendBlockSummary(summary, fs.all, fs.trailers)
	}
	d.labelBuf, d.summaryBuf = label, summary
	d.addInfoBytes(label)
	if len(summary) > 0 {
		d.info = append(append(d.info, ": "...), summary...)
	}
	text := append(append(d.textBuf[:0], ": "...), label...)
	text = strconv.AppendInt(append(text, ", Length "...), int64(L), 10)
	if len(summary) > 0 {
		text = append(append(text, ": "...), summary...)
	}
	d.textBuf = text
	w.BeginBytes(Proto.Item, off, frameHeaderLen+L, tree.FromBytes, text, 0)
	d.header(off, fh)

	pad := 0
	padded := fh.Flags.Has(http2.FlagDataPadded) && (fh.Type == http2.FrameData || fh.Type == http2.FrameHeaders || fh.Type == http2.FramePushPromise)
	if padded && L > 0 && f != nil {
		pad = int(data[p])
	}
	q := p
	if padded && f != nil {
		w.Add(fPadLen, q, 1, tree.FromBytes, "", 0)
		q++
	}
	end := p + L - pad // end of the meaningful payload

	switch f := f.(type) {
	case nil:
		if fh.Type == http2.FrameSettings && L%6 == 0 {
			// Refused (a value out of range), but still readable.
			for i := 0; i < L; i += 6 {
				d.setting(p+i, http2.Setting{ID: http2.SettingID(binary.BigEndian.Uint16(data[p+i:])), Val: binary.BigEndian.Uint32(data[p+i+2:])})
			}
		} else if L > 0 {
			w.Add(fUnknown, p, L, tree.FromBytes, "", 0)
		}
	case *http2.DataFrame:
		w.Add(fData, q, len(f.Data()), tree.FromBytes, "", 0)
		if pad > 0 {
			w.Add(fDataPadding, end, pad, tree.FromBytes, "", 0)
		}
	case *http2.HeadersFrame:
		if f.HasPriority() {
			d.weight = f.Priority.Weight
			d.priority(q)
			q += 5
		}
		w.Add(fHeaderBlock, q, end-q, tree.FromBytes, "", 0)
		d.headers(c.half[dir], q, end-q, off, fs)
		if pad > 0 {
			w.Add(fHdrPadding, end, pad, tree.FromBytes, "", 0)
		}
	case *http2.PriorityFrame:
		d.weight = f.Weight
		d.priority(p)
	case *http2.RSTStreamFrame:
		w.Add(fRstError, p, 4, tree.FromBytes, "", 0)
		if f.ErrCode == http2.ErrCodeNo {
			w.Expert(xRstOK, fmt.Sprintf("RST_STREAM[%d] %v", fh.StreamID, f.ErrCode))
		} else {
			w.Expert(xRst, fmt.Sprintf("RST_STREAM[%d] %v", fh.StreamID, f.ErrCode))
		}
	case *http2.SettingsFrame:
		for i := 0; i < f.NumSettings(); i++ {
			d.setting(p+6*i, f.Setting(i))
		}
		if f.IsAck() && fs.acked != nil {
			parts := make([]string, len(fs.acked))
			for i, s := range fs.acked {
				parts[i] = fmt.Sprintf("%v=%d", s.ID, s.Val)
			}
			w.Add(fSettingsAcked, off, frameHeaderLen, tree.Str(strings.Join(parts, ", ")), "", tree.FlagGenerated)
			if fs.flow.adjusted > 0 {
				w.Add(fStreamsOpen, off, frameHeaderLen, tree.Int(int64(fs.flow.adjusted)), "", tree.FlagGenerated)
			}
		}
	case *http2.PushPromiseFrame:
		w.Add(fPushReserved, q, 4, tree.FromBytes, "", 0)
		w.Add(fPromisedID, q, 4, tree.FromBytes, "", 0)
		q += 4
		w.Add(fPushHeader, q, end-q, tree.FromBytes, "", 0)
		d.headers(c.half[dir], q, end-q, off, fs)
		if pad > 0 {
			w.Add(fPushPadding, end, pad, tree.FromBytes, "", 0)
		}
	case *http2.PingFrame:
		if f.IsAck() {
			w.Add(fPong, p, 8, tree.FromBytes, "", 0)
		} else {
			w.Add(fPing, p, 8, tree.FromBytes, "", 0)
		}
	case *http2.GoAwayFrame:
		w.Add(fGoawayReserved, p, 4, tree.FromBytes, "", 0)
		w.Add(fGoawayLast, p, 4, tree.FromBytes, "", 0)
		w.Add(fGoawayError, p+4, 4, tree.FromBytes, "", 0)
		if L > 8 {
			w.Add(fGoawayDebug, p+8, L-8, tree.FromBytes, "", 0)
		}
		msg := fmt.Sprintf("GOAWAY %v, last stream %d", f.ErrCode, f.LastStreamID)
		if dd := f.DebugData(); len(dd) > 0 {
			msg += ": " + strconv.Quote(string(dd))
		}
		if f.ErrCode == http2.ErrCodeNo {
			w.Expert(xGoawayOK, msg)
		} else {
			w.Expert(xGoaway, msg)
		}
	case *http2.WindowUpdateFrame:
		w.Add(fWUReserved, p, 4, tree.FromBytes, "", 0)
		w.Add(fWUIncr, p, 4, tree.FromBytes, "", 0)
	case *http2.ContinuationFrame:
		w.Add(fContHeader, p, L, tree.FromBytes, "", 0)
		d.headers(c.half[dir], p, L, off, fs)
	case *http2.UnknownFrame:
		if L > 0 {
			w.Add(fUnknown, p, L, tree.FromBytes, "", 0)
		}
	}

	if fs.flow.valid {
		who := "sender"
		if fh.Type == http2.FrameWindowUpdate {
			who = "receiver of this update"
		}
		w.Add(fConnWindow, off, frameHeaderLen, tree.Int(clamp32(fs.flow.conn)), "", tree.FlagGenerated)
		if fs.flow.hasStream {
			w.Add(fStreamWindow, off, frameHeaderLen, tree.Int(clamp32(fs.flow.stream)), " (send window of the "+who+")", tree.FlagGenerated)
		}
	}
	for _, x := range d.fx {
		w.Expert(x.id, x.msg)
	}
	w.End()
}

func clamp32(v int64) int64 { return max(min(v, 1<<31-1), -1<<31) }

func errCodeOf(f http2.Frame) (http2.ErrCode, bool) {
	switch f := f.(type) {
	case *http2.RSTStreamFrame:
		return f.ErrCode, true
	case *http2.GoAwayFrame:
		return f.ErrCode, true
	}
	return 0, false
}

// frameLabel is the Info-column name of a frame: TYPE[stream] for stream
// frames, TYPE (with ACK) for connection frames.
func frameLabel(fh http2.FrameHeader) string { return string(appendFrameLabel(nil, fh)) }

// appendFrameLabel appends frameLabel(fh) to b.
func appendFrameLabel(b []byte, fh http2.FrameHeader) []byte {
	b = append(b, fh.Type.String()...)
	switch fh.Type {
	case http2.FrameSettings, http2.FramePing:
		if fh.Flags.Has(http2.FlagSettingsAck) {
			b = append(b, " ACK"...)
		}
		return b
	case http2.FrameGoAway:
		return b
	case http2.FrameWindowUpdate:
		if fh.StreamID == 0 {
			return b
		}
	}
	return append(strconv.AppendUint(append(b, '['), uint64(fh.StreamID), 10), ']')
}

// addInfo appends one frame's summary, the concatenation of parts, to the
// Info column.
func (d *Decoder) addInfo(parts ...string) {
	if len(d.info) > 0 {
		d.info = append(d.info, ", "...)
	}
	for _, p := range parts {
		d.info = append(d.info, p...)
	}
}

// addInfoBytes is addInfo for a summary in a byte slice.
func (d *Decoder) addInfoBytes(b []byte) {
	if len(d.info) > 0 {
		d.info = append(d.info, ", "...)
	}
	d.info = append(d.info, b...)
}

func (d *Decoder) setting(o int, s http2.Setting) {
	text := append(append(append(d.textBuf[:0], " - "...), s.ID.String()...), " : "...)
	d.textBuf = strconv.AppendUint(text, uint64(s.Val), 10)
	d.w.BeginBytes(fSettings, o, 6, tree.FromBytes, d.textBuf, 0)
	d.w.Add(fSettingsID, o, 2, tree.FromBytes, "", 0)
	d.w.Add(settingField(s.ID), o+2, 4, tree.FromBytes, "", 0)
	d.w.End()
}

func (d *Decoder) priority(o int) {
	w := d.w
	w.Add(fExclusive, o, 4, tree.FromBytes, "", 0)
	w.Add(fStreamDep, o, 4, tree.FromBytes, "", 0)
	w.Add(fWeight, o+4, 1, tree.FromBytes, "", 0)
	w.Add(fWeightReal, o+4, 1, tree.Int(int64(d.weight)+1), "", tree.FlagGenerated)
}

func settingField(id http2.SettingID) schema.FieldID {
	switch id {
	case http2.SettingHeaderTableSize:
		return fSetTableSize
	case http2.SettingEnablePush:
		return fSetPush
	case http2.SettingMaxConcurrentStreams:
		return fSetMaxStreams
	case http2.SettingInitialWindowSize:
		return fSetInitWindow
	case http2.SettingMaxFrameSize:
		return fSetMaxFrame
	case http2.SettingMaxHeaderListSize:
		return fSetMaxHdrList
	case http2.SettingEnableConnectProtocol:
		return fSetConnect
	}
	return fSetUnknown
}

// blockSummary is the Info text of a decoded header block.
func blockSummary(fields []hpack.HeaderField, trailers bool) string {
	return string(appendBlockSummary(nil, fields, trailers))
}

// appendBlockSummary appends blockSummary(fields, trailers) to b.
func appendBlockSummary(b []byte, fields []hpack.HeaderField, trailers bool) []byte {
	var method, path, status string
	for _, f := range fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case ":status":
			status = f.Value
		}
	}
	switch {
	case method != "" || path != "":
		n := len(b)
		b = append(append(append(b, method...), ' '), path...)
		return append(b[:n], bytes.TrimSpace(b[n:])...)
	case status != "":
		return append(b, status...)
	case trailers:
		return append(b, "trailers"...)
	}
	return b
}

// headers writes the header fields that this frame's fragment completed
// and, in the frame that ends the block, what is known of the whole block.
func (d *Decoder) headers(h *half, o, n, frameOff int, fs frameState) {
	if !fs.inBlock {
		return
	}
	w := d.w
	if n <= 0 {
		o, n = frameOff, frameHeaderLen
	}
	w.Add(fHeaderCount, o, n, tree.Int(int64(len(fs.fields))), "", tree.FlagGenerated)
	if fs.block {
		w.Add(fHeaderListSz, o, n, tree.Int(int64(fs.listSz)), "", tree.FlagGenerated)
		if fs.frames > 1 {
			w.Add(fBlockFrames, o, n, tree.Int(int64(fs.frames)), "", tree.FlagGenerated)
		}
		if fs.trailers {
			w.Add(fTrailers, o, n, tree.Bool(true), "", tree.FlagGenerated)
		}
		if fs.capped {
			w.Expert(xLimit, fmt.Sprintf("header list of %d octets exceeds the decoder limit %d; the remaining fields are decoded for the table but not shown", fs.listSz, d.opts.MaxHeaderListSize))
		}
	}
	switch {
	case fs.hpackErr != "" && h.blocksLost:
		// Not the peer's error: header blocks lost with the frames
		// changed the table (a Go peer would close the connection with
		// COMPRESSION_ERROR, which the capture then shows).
		w.Expert(xTableLost, "HPACK: "+fs.hpackErr+"; frames of this direction were lost before (segments missing from the capture, cut by its snap length, or TCP reassembly off), so its table is no longer the peer's")
	case fs.hpackErr != "" && h.tableRefused:
		// Not the peer's error either: a decoder limit (a table larger
		// than goh2.max_table, a string longer than maxString) left the
		// table behind the peer's.
		w.Expert(xLimit, fmt.Sprintf("HPACK: %s; past a decoder limit (a table larger than %d octets, preference goh2.max_table, or a string longer than %d), the peer's table is not followed", fs.hpackErr, d.opts.MaxTableSize, h.maxString()))
	case fs.hpackErr != "":
		w.Expert(xHPACK, "HPACK: "+fs.hpackErr+" (RFC 9113 §4.3)")
	}
	noted := false
	for _, f := range fs.fields {
		name, value := f.Name, f.Value
		ni, nameUnknown := unknownIndex(name)
		vi, valueUnknown := unknownIndex(value)
		if nameUnknown {
			name = unknownLabel(ni)
		}
		if valueUnknown {
			value = unknownLabel(vi)
		}
		text := append(append(append(append(d.textBuf[:0], ": "...), name...), ": "...), value...)
		d.textBuf = text
		w.BeginBytes(fHeader, o, n, tree.FromBytes, text, 0)
		w.Add(fHeaderName, o, n, tree.Str(name), "", 0)
		w.Add(fHeaderValue, o, n, tree.Str(value), "", 0)
		if nameUnknown {
			w.Add(fUnknownIndex, o, n, tree.Int(int64(ni)), "", tree.FlagGenerated)
			// One note per frame's fields, on the first: a capture that
			// starts mid-connection has them in nearly every block, and a
			// note per field made the notes cost more time and memory
			// than the rest of the decoding of such a capture.
			if !noted {
				w.Expert(xUnknownIdx, "")
				noted = true
			}
		}
		if !nameUnknown && !h.blocksLost {
			// After frames were lost, a field may come from a table entry
			// that is no longer the peer's: its rules are not checked.
			d.headerChecks(f, &h.block.regular)
			if typed, ok := typedHeader(f.Name); ok && !valueUnknown {
				if typed == fStatus {
					if v, err := strconv.Atoi(value); err == nil {
						w.Add(fStatus, o, n, tree.Int(int64(v)), "", 0)
					}
				} else {
					w.Add(typed, o, n, tree.Str(value), "", 0)
				}
			}
		}
		w.End()
	}
}

// headerChecks applies the field rules a Go peer enforces (RFC 9113 §8.2
// and §8.3).
func (d *Decoder) headerChecks(f hpack.HeaderField, regular *bool) {
	w := d.w
	if f.IsPseudo() {
		if *regular {
			w.Expert(xHeaderName, fmt.Sprintf("pseudo-header %s after a regular header field (RFC 9113 §8.3)", f.Name))
		}
		return
	}
	*regular = true
	if strings.ToLower(f.Name) != f.Name {
		w.Expert(xHeaderName, fmt.Sprintf("header name %q has uppercase characters (RFC 9113 §8.2.1)", f.Name))
	} else if !httpguts.ValidHeaderFieldName(f.Name) {
		w.Expert(xHeaderName, fmt.Sprintf("header name %q has invalid characters (RFC 9113 §8.2.1)", f.Name))
	}
	if !httpguts.ValidHeaderFieldValue(f.Value) {
		w.Expert(xHeaderName, fmt.Sprintf("value of %s has invalid characters (RFC 9113 §8.2.1)", f.Name))
	}
}

func typedHeader(name string) (schema.FieldID, bool) {
	switch name {
	case ":method":
		return fMethod, true
	case ":path":
		return fPath, true
	case ":scheme":
		return fScheme, true
	case ":authority":
		return fAuthority, true
	case ":status":
		return fStatus, true
	case ":protocol":
		return fProtocolPH, true
	case "content-type":
		return fContentType, true
	case "user-agent":
		return fUserAgent, true
	}
	return 0, false
}

// Forget drops the state of the connection in belongs to, for instance
// after an internal error left it inconsistent.
func (d *Decoder) Forget(in Input) {
	delete(d.conns, in.connKey())
}
