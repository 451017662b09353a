package h2

import (
	"github.com/gotcpdump/gotcpdump/goparser/internal/evict"

	"bytes"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gotcpdump/gotcpdump/goparser/gogrpc"
	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

const (
	frameHeaderLen     = 9
	initialWindow      = 65535 // RFC 9113 §6.9.2
	defaultMaxFrame    = 16384 // RFC 9113 §4.2
	defaultTableSize   = 4096  // RFC 7541 §4.2
	maxWindow          = 1<<31 - 1
	maxPendingSettings = 16
)

// Options bound the decoder's memory and work. The zero value of a field
// means its default (see DefaultOptions).
type Options struct {
	MaxConns          int    // connections tracked; the least recently used are evicted
	MaxStreams        int    // streams tracked per connection; the oldest are evicted
	MaxHeaderListSize uint32 // decoded header octets kept per header block
	MaxTableSize      uint32 // largest HPACK dynamic table a peer may set up
	MaxContinuation   int    // CONTINUATION frames per header block before an expert note
	MaxFrameLen       uint32 // largest frame reassembled; larger lengths desynchronise
}

// DefaultOptions returns the limits used when none are set.
func DefaultOptions() Options {
	return Options{
		MaxConns:          100000,
		MaxStreams:        10000,
		MaxHeaderListSize: 1 << 20,
		MaxTableSize:      1 << 22,
		MaxContinuation:   64,
		MaxFrameLen:       1<<24 - 1,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxConns > 0 {
		d.MaxConns = o.MaxConns
	}
	if o.MaxStreams > 0 {
		d.MaxStreams = o.MaxStreams
	}
	if o.MaxHeaderListSize > 0 {
		d.MaxHeaderListSize = o.MaxHeaderListSize
	}
	if o.MaxTableSize > 0 {
		d.MaxTableSize = o.MaxTableSize
	}
	if o.MaxContinuation > 0 {
		d.MaxContinuation = o.MaxContinuation
	}
	if o.MaxFrameLen > 0 && o.MaxFrameLen <= 1<<24-1 {
		d.MaxFrameLen = o.MaxFrameLen
	}
	return d
}

// conn is one TCP connection carrying HTTP/2.
type conn struct {
	lastUse   uint64
	senders   [2]string // endpoint key of the sender of each direction
	half      [2]*half
	streams   map[uint32]*stream
	sawStart  bool // the client preface was captured: windows and sizes are known
	clientDir int
	// grpcReqDir is 1 + the direction of the gRPC requests seen on this
	// connection (0: none yet).
	grpcReqDir int
	// unseenEnds: streams that ended, before the connection was known to
	// carry gRPC, with a response block that the capture cannot decode
	// whole and no request seen (calls begun before the capture): once
	// it is known to, they are counted as calls with no status.
	unseenEnds int
	idle       bool // in Decoder.idle, to be released
}

// half is the state of one direction: what its sender sent and what the
// sender has told its peer through SETTINGS.
type half struct {
	synced bool // frame boundaries are known
	primed bool // HPACK table holds stand-ins for entries never captured
	blocks int  // header blocks started
	skip   int  // while unsynced: octets until a candidate frame boundary
	rd     bytes.Reader
	fr     *http2.Framer // nil until a frame is read, and again while idle (conn.release)
	// frBlock mirrors the Framer's own state: its last frame header was a
	// HEADERS or CONTINUATION without END_HEADERS, so the next must be a
	// CONTINUATION. A Framer that holds it cannot be replaced by a new one.
	frBlock bool
	hdec    *hpack.Decoder
	fields  []hpack.HeaderField // fields emitted for the current block
	listSz  uint32
	capped  bool

	// wasSynced: the direction has been in step. Out of step again (a
	// segment missing from the capture, an oversized frame, a frame cut
	// with TCP reassembly off), it must find a boundary by itself: the
	// server's first frame alone is taken to follow the client's preface.
	wasSynced bool
	lostNoted bool // the loss of framing has its expert info
	cutOff    bool // out of step because TCP reassembly is off and a frame was cut
	restLost  bool // the cut frame's rest ended among octets the capture left out
	// asked: the last call asked TCP for this many more octets of the
	// frame askedFH (-1: of a frame header) than it had.
	asked   int
	askedFH http2.FrameHeader
	// nextSeq is the TCP sequence number of the octet expected next, when
	// seqKnown (see Input.Seq).
	nextSeq  uint32
	seqKnown bool
	// contLost: frames were lost since the last HEADERS, or the
	// direction's start was not seen (see Decoder.contLost).
	contLost bool
	// blocksLost: frames of this direction were lost (a gap, or a cut with
	// TCP reassembly off), header blocks among them perhaps: its HPACK
	// table may no longer be the peer's.
	blocksLost bool
	// tableRefused: past a decoder limit (its peer allowed it a larger
	// HPACK table than goh2.max_table, or a string was longer than
	// maxString), its table is not followed.
	tableRefused bool

	block struct {
		active  bool
		stream  uint32
		push    bool
		promise uint32
		frames  int
		failed  bool
		err     string
		regular bool    // a regular field was seen: pseudo-headers must not follow
		st      *stream // the stream whose HEADERS opened the block
	}
	dirIndex int // this direction's index in conn.half

	// Settings this sender advertised, applying to what its peer sends.
	pending      [][]http2.Setting // sent and not yet acknowledged
	maxFrame     uint32            // SETTINGS_MAX_FRAME_SIZE (peer's frames)
	maxFrameSeen bool              // a SETTINGS frame (or the preface) told us
	initWindow   int64             // SETTINGS_INITIAL_WINDOW_SIZE (peer's stream windows)

	connWindow int64 // this sender's connection send window

	o *Options
}

type stream struct {
	lastUse uint64
	window  [2]int64 // send window of each direction
	ended   [2]bool  // END_STREAM sent
	sawHdrs [2]bool

	// gRPC: set by a request whose content-type is application/grpc*, or
	// by the first DATA of a stream whose HEADERS were not captured.
	grpc        bool
	grpcChecked bool
	sawMethod   bool // a request header block was decoded
	hidden      bool // a POST whose content-type may be among fields lost with HPACK entries
	reqDir      int
	call        gogrpc.Call
	msgs        [2]grpcmsg.Reassembler
	msgsCut     [2]bool                 // a DATA frame of this direction was cut: its messages are out of step
	msgsLost    [2]bool                 // msgsCut was reported
	respPlain   bool                    // the response is not gRPC (a proxy's 503 text/plain): its body is no messages
	b64         [2]grpcmsg.Base64Stream // gRPC-Web-Text, per direction
	progress    gogrpc.Progress
}

// side is 0 for the request's direction dir, 1 for the response's: the
// index of a call's counts (gogrpc.Progress).
func (st *stream) side(dir int) int {
	if dir == st.reqDir {
		return 0
	}
	return 1
}

// framesLost records that frames of direction dir went undecoded, lost
// from the capture or cut by a segment's end with their headers: header
// blocks among them may have changed its HPACK table, SETTINGS the frame
// size its peer's frames are judged by, and DATA, WINDOW_UPDATE or
// SETTINGS the flow-control windows.
func (c *conn) framesLost(dir int) {
	h := c.half[dir]
	h.blocksLost = true
	h.contLost = true
	h.maxFrameSeen = false
	c.sawStart = false // windows no longer known
	// DATA frames among them: each stream's gRPC messages in this
	// direction would be read from the middle of one.
	for _, st := range c.streams {
		st.msgsCut[dir] = true
	}
}

// frameCut records what a frame of direction dir that is shown only in
// part (cut by a segment's end, TCP reassembly off or a snap length)
// leaves unknown.
func (c *conn) frameCut(dir int, fh http2.FrameHeader) {
	switch fh.Type {
	case http2.FrameHeaders, http2.FrameContinuation, http2.FramePushPromise:
		c.half[dir].blocksLost = true
	case http2.FrameSettings:
		c.half[dir].maxFrameSeen = false
		c.sawStart = false
	case http2.FrameWindowUpdate:
		c.sawStart = false
	case http2.FrameData:
		c.sawStart = false
		if st := c.streams[fh.StreamID]; st != nil {
			// Its gRPC messages would be read from the middle of one.
			st.msgsCut[dir] = true
		}
	}
}

func newHalf(o *Options) *half {
	// Until the connection's start is seen, a CONTINUATION may be of a
	// block that began before the capture.
	h := &half{maxFrame: defaultMaxFrame, initWindow: initialWindow, connWindow: initialWindow, contLost: true}
	h.o = o
	h.freshHPACK()
	return h
}

func (h *half) newFramer() {
	h.fr = http2.NewFramer(io.Discard, &h.rd)
	h.fr.SetReuseFrames()
	h.frBlock = false
}

// release drops what a connection with no open stream keeps only to go
// faster: each direction's Framer, whose read buffer stays as large as the
// largest frame it read (16 KiB and more for DATA), the header fields of
// its last block and the stream that block was on. A capture of many short
// connections kept them all until goh2.max_conns evicted them. They are
// made again by the next frame. The HPACK decoders stay: their dynamic
// tables are state the next header block needs.
func (c *conn) release() {
	if len(c.streams) > 0 {
		return
	}
	c.streams = nil // a map keeps the room of the most streams it held
	for _, h := range c.half {
		if !h.frBlock {
			h.fr = nil
		}
		if !h.block.active {
			h.fields = nil
			h.block.st = nil
		}
		h.rd.Reset(nil)
	}
}

// holds reports whether release would drop anything.
func (c *conn) holds() bool {
	return c.streams != nil || c.half[0].fr != nil || c.half[1].fr != nil || c.half[0].fields != nil || c.half[1].fields != nil
}

func (h *half) freshHPACK() {
	// A string longer than the header list limit must still be decoded,
	// or the table goes out of step with the peer's; but the decoder
	// buffers a string whole, and a block is not bounded (CONTINUATION
	// frames past goh2.max_continuation are still decoded), so strings
	// have a limit of their own.
	h.hdec = hpack.NewDecoder(defaultTableSize, h.emit)
	h.hdec.SetMaxStringLength(h.maxString())
	h.primed = false
}

// maxString is the longest HPACK string decoded: the header list limit,
// and at least 1 MiB (the list limit's default).
func (h *half) maxString() int { return int(max(h.o.MaxHeaderListSize, 1<<20)) }

func (h *half) emit(f hpack.HeaderField) {
	sz := f.Size()
	h.listSz += sz
	if h.listSz > h.o.MaxHeaderListSize {
		h.capped = true
		return
	}
	// A value may hold any octet but NUL, CR and LF: shown, and passed to
	// gogrpc and the Info column, as UTF-8 (tree.ValidUTF8).
	f.Name, f.Value = tree.ValidUTF8(f.Name), tree.ValidUTF8(f.Value)
	h.fields = append(h.fields, f)
}

// placeholderPrefix marks the stand-in dynamic-table entries that let a
// capture that starts mid-connection go on decoding. A NUL cannot appear
// in a valid header name, so no real field is mistaken for one.
const placeholderPrefix = "\x00?"

// primeMidstream fills the HPACK dynamic table with one stand-in entry per
// possible unseen entry (newest first, as HPACK indexes them). Later
// insertions push them to the old end just as they push the real unseen
// entries, so references keep resolving to the right stand-in. The
// entries are encoded into scratch, which the decoder may keep (see
// Decoder.frag).
func (h *half) primeMidstream(scratch *[]byte) {
	const n = defaultTableSize / 32 // the most entries a 4096-octet table holds
	fields := make([]hpack.HeaderField, 0, n)
	size := uint32(0)
	for i := n; i >= 1; i-- { // oldest first, so entry 1 ends up newest
		name := placeholderPrefix + strconv.Itoa(firstDynamicIndex-1+i)
		f := hpack.HeaderField{Name: name, Value: name}
		size += f.Size()
		fields = append(fields, f)
	}
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.SetMaxDynamicTableSizeLimit(defaultTableSize + size)
	enc.SetMaxDynamicTableSize(defaultTableSize + size)
	for _, f := range fields {
		_ = enc.WriteField(f)
	}
	h.hdec.SetAllowedMaxDynamicTableSize(defaultTableSize + size)
	h.hdec.SetEmitEnabled(false)
	*scratch = append((*scratch)[:0], buf.Bytes()...)
	_, _ = h.hdec.Write(*scratch)
	_ = h.hdec.Close()
	h.hdec.SetEmitEnabled(true)
	h.hdec.SetAllowedMaxDynamicTableSize(defaultTableSize)
	h.primed = true
}

// unknownIndex reports the capture-start table index a stand-in represents.
func unknownIndex(s string) (int, bool) {
	if len(s) <= len(placeholderPrefix) || s[:len(placeholderPrefix)] != placeholderPrefix {
		return 0, false
	}
	n, err := strconv.Atoi(s[len(placeholderPrefix):])
	return n, err == nil
}

// A capture that starts mid-connection can show stand-ins in every header
// block, so their labels are made once: formatting them per field cost a
// few percent more time per packet (a 500,000-packet h2load capture cut
// after its first 2,000 packets).
var unknownLabels = func() (labels [defaultTableSize / 32]string) {
	for i := range labels {
		labels[i] = fmt.Sprintf("unknown (index %d)", firstDynamicIndex+i)
	}
	return
}()

// firstDynamicIndex is HPACK's first dynamic table index (RFC 7541 §2.3.3).
const firstDynamicIndex = 62

// unknownLabel is the name or value shown for stand-in index n.
func unknownLabel(n int) string {
	if i := n - firstDynamicIndex; i >= 0 && i < len(unknownLabels) {
		return unknownLabels[i]
	}
	return fmt.Sprintf("unknown (index %d)", n)
}

func (c *conn) stream(id uint32, tick uint64, o *Options) (*stream, bool) {
	if st := c.streams[id]; st != nil {
		st.lastUse = tick
		return st, false
	}
	evicted := false
	if len(c.streams) >= o.MaxStreams {
		// The least recently used eighth goes at once: scanning for one
		// stream per new stream is quadratic in a flood of streams.
		ticks := make([]uint64, 0, len(c.streams))
		for _, st := range c.streams {
			ticks = append(ticks, st.lastUse)
		}
		cut := evict.Cutoff(ticks, len(ticks)/8)
		for sid, st := range c.streams {
			if st.lastUse <= cut {
				delete(c.streams, sid)
			}
		}
		evicted = true
	}
	st := &stream{lastUse: tick}
	if c.streams == nil {
		c.streams = make(map[uint32]*stream)
	}
	// A sender's stream window starts at the INITIAL_WINDOW_SIZE its peer
	// advertised.
	st.window[0] = c.half[1].initWindow
	st.window[1] = c.half[0].initWindow
	c.streams[id] = st
	return st, evicted
}
