package tcptw

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket/layers"

	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// Proto is the tcptw postdissector.
var Proto = schema.NewProtocol("tcptw", "TCP TIME_WAIT analysis")

func tf(abbrev, name string, t schema.FieldType, desc string) schema.Field {
	f := schema.Field{Abbrev: abbrev, Name: name, Type: t, Desc: desc}
	switch t {
	case schema.Uint32, schema.Int32:
		f.Base = schema.BaseDec
	}
	return f
}

var (
	fConn        = Proto.Field(tf("tcptw.conn", "Connection", schema.Uint32, "Connection number (a new one per SYN on a 4-tuple)"))
	fCloser      = Proto.Field(tf("tcptw.closer", "Closed by", schema.String, "client, server, both (simultaneous close) or rst"))
	fHolder      = Proto.Field(tf("tcptw.holder", "TIME_WAIT holder", schema.String, "Endpoint that holds (or will hold) TIME_WAIT"))
	fTWStart     = Proto.Field(tf("tcptw.tw_start", "TIME_WAIT since", schema.AbsTime, ""))
	fTWUntil     = Proto.Field(tf("tcptw.tw_until", "TIME_WAIT until", schema.AbsTime, "Expiry, as restarted by later segments"))
	fPopulation  = Proto.Field(tf("tcptw.population", "Holder's TIME_WAIT sockets", schema.Uint32, "Estimated TIME_WAIT sockets of the holder's host at this packet's time (one per holder after a simultaneous close)"))
	fTWEnter     = Proto.Field(tf("tcptw.tw_enter", "Enters TIME_WAIT", schema.Bool, ""))
	fTWRestart   = Proto.Field(tf("tcptw.tw_restart", "Restarts TIME_WAIT", schema.Bool, "A segment reached the TIME_WAIT socket and restarted its 60 s"))
	fAssassin    = Proto.Field(tf("tcptw.assassination", "Kills TIME_WAIT (RST)", schema.Bool, ""))
	fReuse       = Proto.Field(tf("tcptw.reuse", "4-tuple reuse", schema.Bool, "SYN on a 4-tuple still in TIME_WAIT"))
	fReuseSince  = Proto.Field(tf("tcptw.reuse.since", "Since TIME_WAIT began", schema.RelTime, ""))
	fReuseOK     = Proto.Field(tf("tcptw.reuse.accepted", "Accepted", schema.Bool, "Sequence number or timestamp newer (RFC 6191), or reuse by the holder (tcp_tw_reuse)"))
	fReuseHolder = Proto.Field(tf("tcptw.reuse.holder", "Holder", schema.String, ""))
	fSynRetry    = Proto.Field(tf("tcptw.syn_retry", "SYN retransmission", schema.Uint32, ""))
	fDuration    = Proto.Field(tf("tcptw.conn_duration", "Connection age", schema.RelTime, ""))
	fRequests    = Proto.Field(tf("tcptw.requests", "Requests", schema.Uint32, "HTTP/1.x request lines and HTTP/2 request HEADERS so far"))
	fFinToSyn    = Proto.Field(tf("tcptw.fin_to_syn", "Since this client's last close towards the server", schema.RelTime, ""))
	fPortsInUse  = Proto.Field(tf("tcptw.ports_in_use", "Client ports tied up towards this server", schema.Uint32, "Open connections plus TIME_WAIT sockets the client holds"))
	fPortRange   = Proto.Field(tf("tcptw.port_range", "Ephemeral ports", schema.Uint32, ""))
	fCopy        = Proto.Field(tf("tcptw.copy", "Second copy of a segment", schema.Bool, "The same segment again within 1 ms (captured on a second interface, as -i any does, or an identical RST): not counted"))

	xEnter     = Proto.Expert(schema.Expert{Abbrev: "tcptw.enter", Text: "Enters TIME_WAIT", Group: schema.GroupSequence, Severity: schema.Chat})
	xReuse     = Proto.Expert(schema.Expert{Abbrev: "tcptw.reuse.expert", Text: "SYN on a 4-tuple in TIME_WAIT", Group: schema.GroupSequence, Severity: schema.Warn})
	xSynRetry  = Proto.Expert(schema.Expert{Abbrev: "tcptw.syn_retry.expert", Text: "SYN retransmitted", Group: schema.GroupSequence, Severity: schema.Warn})
	xAssassin  = Proto.Expert(schema.Expert{Abbrev: "tcptw.assassination.expert", Text: "RST killed a TIME_WAIT socket", Group: schema.GroupSequence, Severity: schema.Warn})
	xPorts     = Proto.Expert(schema.Expert{Abbrev: "tcptw.ports.expert", Text: "Client's ephemeral ports running out", Group: schema.GroupSequence, Severity: schema.Warn})
	xEvicted   = Proto.Expert(schema.Expert{Abbrev: "tcptw.evicted", Text: "Open connections forgotten at the tracking limit", Group: schema.GroupProtocol, Severity: schema.Note})
	xCopy      = Proto.Expert(schema.Expert{Abbrev: "tcptw.copy.expert", Text: "Second copy of a segment", Group: schema.GroupSequence, Severity: schema.Note})
	xShortConn = Proto.Expert(schema.Expert{Abbrev: "tcptw.one_request", Text: "Connection closed after one request", Group: schema.GroupSequence, Severity: schema.Note})
)

const (
	// Expert texts are constant per kind (or per holder, for tcptw.enter):
	// -z expert and Wireshark's Expert Information group items by text,
	// so a number in it would make a group per value. The numbers are in
	// the fields.
	textReuseAccepted = "SYN on a 4-tuple in TIME_WAIT: accepted (sequence number or timestamp newer, RFC 6191, or tcp_tw_reuse)"
	textReuseRefused  = "SYN on a 4-tuple in TIME_WAIT: refused (sequence number and timestamp not newer, RFC 6191)"
	textPorts         = "80% or more of the client's ephemeral ports tied up towards this server (tcptw.ports_in_use of tcptw.port_range)"
	textOneRequest    = "Connection closed after one request: a connection per request leaves a TIME_WAIT socket per request at the side that closes first (tcptw.holder)"
)

// Dissector feeds the engine from Wireshark's postdissector, one frame at
// a time, and writes the packet's items.
type Dissector struct {
	Engine  *Engine
	dec     *tcpdecode.Decoder
	seg     tcpdecode.Segment // the frame's, reused
	link    layers.LinkType
	xs      []tree.ExpertRecord
	scratch []byte // text being built; the encoder copies it at once
	kept    []byte // Frame's verdict, kept form

	// The TCP ports that Wireshark saw, to recognise the frame's segment.
	srcPort, dstPort uint16
}

// NewDissector returns a Dissector over a new Engine.
func NewDissector(cfg Config) *Dissector {
	return &Dissector{Engine: New(cfg), dec: tcpdecode.New(), link: layers.LinkTypeEthernet}
}

// linkTypes are tried in turn: Wireshark's Lua API does not tell a
// postdissector the frame's encapsulation, so the one whose decoding
// yields the ports Wireshark saw wins, and is tried first next time.
var linkTypes = []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeLinuxSLL, layers.LinkTypeLinuxSLL2,
	layers.LinkTypeNull, layers.LinkTypeLoop, layers.LinkTypeRaw}

// Frame decodes one frame whose TCP ports Wireshark reported as srcPort
// and dstPort, and appends {status, {item…}, {expert…}}. The ports tell
// the frame's encapsulation, and cost Lua less to pass than the address
// strings, which would cost more than the rest of the call. Without items
// (Wireshark's tree neither shows nor filters on tcptw's fields), the
// items are only the expert infos (tree.Writer.ExpertsOnly).
//
// It returns the frame's verdict in the form that Render takes on later
// passes, in a buffer that the next call reuses.
func (d *Dissector) Frame(ts time.Time, srcPort, dstPort uint16, frame []byte, e *result.Encoder, items bool) []byte {
	v := d.track(ts, srcPort, dstPort, frame)
	if v == nil {
		notMine(e)
	} else {
		d.write(v, e, items)
	}
	return d.kept
}

// Track is Frame for a frame whose result nobody reads: it only moves the
// engine on and returns the verdict to keep.
func (d *Dissector) Track(ts time.Time, srcPort, dstPort uint16, frame []byte) []byte {
	d.track(ts, srcPort, dstPort, frame)
	return d.kept
}

// track runs the engine over the frame and leaves its kept form in d.kept;
// the verdict is nil for a frame that is not a segment the engine decodes.
func (d *Dissector) track(ts time.Time, srcPort, dstPort uint16, frame []byte) *Verdict {
	d.srcPort, d.dstPort = srcPort, dstPort
	if ok, short := d.segment(frame, &d.seg); !ok {
		if short {
			d.Engine.ShortFrame()
		}
		d.kept = append(d.kept[:0], keptNotMine)
		return nil
	}
	v := d.Engine.Segment(ts, &d.seg)
	d.kept = appendVerdict(d.kept[:0], v)
	return v
}

// Render appends the result of a frame from the verdict that Frame
// returned for it, as Frame appended it.
func (d *Dissector) Render(kept []byte, e *result.Encoder, items bool) error {
	if len(kept) == 1 && kept[0] == keptNotMine {
		notMine(e)
		return nil
	}
	var v Verdict
	var r Reuse
	if err := readVerdict(kept, &v, &r); err != nil {
		return err
	}
	d.write(&v, e, items)
	return nil
}

// notMine appends the result of a frame that is not a segment the engine
// decodes.
func notMine(e *result.Encoder) {
	e.BeginArray()
	e.Int(1)
	e.BeginArray()
	e.End()
	e.BeginArray()
	e.End()
	e.End()
}

func (d *Dissector) write(v *Verdict, e *result.Encoder, items bool) {
	e.BeginArray()
	e.Int(0)
	e.BeginArray()
	d.xs = d.xs[:0]
	d.render(v, tree.Writer{E: e, X: &d.xs, ExpertsOnly: !items})
	e.End()
	tree.EncodeExperts(e, d.xs)
	e.End()
}

// segment decodes the frame's segment; short: it is not one because the
// snap length cut its TCP header (tcpdecode.ErrShort), whose ports are
// the ones Wireshark saw.
func (d *Dissector) segment(frame []byte, s *tcpdecode.Segment) (ok, short bool) {
	try := func(lt layers.LinkType) (bool, bool) {
		err := d.dec.Decode(lt, frame, s)
		ports := s.Src.Port() == d.srcPort && s.Dst.Port() == d.dstPort
		return err == nil && ports, errors.Is(err, tcpdecode.ErrShort) && ports
	}
	if ok, short = try(d.link); ok || short {
		return ok, short
	}
	for _, lt := range linkTypes {
		if lt == d.link {
			continue
		}
		if ok, short = try(lt); ok || short {
			d.link = lt
			return ok, short
		}
	}
	return false, false
}

// text returns the scratch text as a string without copying it: only for
// passing to the encoder, which copies it before the scratch changes.
func (d *Dissector) text() string { return unsafe.String(unsafe.SliceData(d.scratch), len(d.scratch)) }

// oneRequestClose: the packet puts a socket into TIME_WAIT, and its
// connection is known to have carried exactly one request (seen from the
// handshake; none seen says nothing about HTTP keep-alive).
func oneRequestClose(v *Verdict) bool { return v.TWStarted && v.Requests == 1 && v.RolesKnown }

func (d *Dissector) render(v *Verdict, w tree.Writer) {
	const gen = tree.FlagGenerated
	const tm = gen | tree.FlagTime
	// ": closed by CLOSER, TIME_WAIT at HOLDER", either part alone, or
	// nothing. Every packet has this text: it is built without allocating,
	// and not at all for expert infos alone.
	d.scratch = d.scratch[:0]
	if v.Copy {
		w.Begin(Proto.Item, 0, 0, tree.FromBytes, ": second copy of a segment, not counted", gen)
		if v.Conn != 0 {
			w.Add(fConn, 0, 0, tree.Uint(v.Conn), "", gen)
		}
		w.Add(fCopy, 0, 0, tree.Bool(true), "", gen)
		w.Expert(xCopy, "the same segment again within 1 ms, not counted: a second copy (-i any captures each packet twice on a host with veth and bridges) or an identical RST (a host answers in-flight segments so)")
		w.End()
		return
	}
	if !w.ExpertsOnly {
		if v.Closer != CloserNone {
			d.scratch = append(append(d.scratch, ": closed by "...), v.Closer.String()...)
		}
		if v.Holder.IsValid() {
			if len(d.scratch) == 0 {
				d.scratch = append(d.scratch, ": "...)
			} else {
				d.scratch = append(d.scratch, ", "...)
			}
			d.scratch = v.Holder.AppendTo(append(d.scratch, "TIME_WAIT at "...))
		}
	}
	w.Begin(Proto.Item, 0, 0, tree.FromBytes, d.text(), gen)
	if v.Evicted > 0 {
		// Under the protocol item, which every frame has: an expert info
		// needs an item to be shown and to reach -e _ws.expert.
		w.Expert(xEvicted, fmt.Sprintf("%d open connections, the least recently active, forgotten: more than tcptw.max_conns (%d) tracked", v.Evicted, d.Engine.cfg.MaxConns))
	}
	w.Add(fConn, 0, 0, tree.Uint(v.Conn), "", gen)
	if v.Closer != CloserNone {
		w.Add(fCloser, 0, 0, tree.Str(v.Closer.String()), "", gen)
	}
	if v.Holder.IsValid() && !w.ExpertsOnly {
		d.scratch = v.Holder.AppendTo(d.scratch[:0])
		w.Add(fHolder, 0, 0, tree.Str(d.text()), "", gen)
		if v.Holder2.IsValid() {
			d.scratch = v.Holder2.AppendTo(d.scratch[:0])
			w.Add(fHolder, 0, 0, tree.Str(d.text()), "", gen)
		}
		if v.Population >= 0 {
			w.Add(fPopulation, 0, 0, tree.Int(int64(v.Population)), "", gen)
			if v.Holder2.IsValid() {
				// In the holders' order: each holder's host's count.
				w.Add(fPopulation, 0, 0, tree.Int(int64(v.Population2)), "", gen)
			}
		}
	}
	if !v.TWStart.IsZero() {
		w.Add(fTWStart, 0, 0, tree.Time(v.TWStart), "", tm)
		w.Add(fTWUntil, 0, 0, tree.Time(v.TWUntil), "", tm)
	}
	if v.TWStarted {
		w.Add(fTWEnter, 0, 0, tree.Bool(true), "", gen)
		// The text names the host only, so that -z expert groups the
		// sockets by holder; the time and the count are fields.
		w.Expert(xEnter, v.Holder.Addr().String()+" enters TIME_WAIT")
	}
	if v.TWRestarted {
		w.Add(fTWRestart, 0, 0, tree.Bool(true), "", gen)
	}
	if v.Assassinated {
		w.Add(fAssassin, 0, 0, tree.Bool(true), "", gen)
		w.Expert(xAssassin, "an in-window RST ended the TIME_WAIT socket (TIME_WAIT assassination, tcp_rfc1337=0)")
	}
	if r := v.Reuse; r != nil {
		w.Begin(fReuse, 0, 0, tree.Bool(true), "", gen)
		w.Add(fReuseSince, 0, 0, tree.Duration(r.Since), "", tm)
		w.Add(fReuseOK, 0, 0, tree.Bool(r.Accepted), "", gen)
		w.Add(fReuseHolder, 0, 0, tree.Str(r.Holder.String()), "", gen)
		if r.Accepted {
			w.Expert(xReuse, textReuseAccepted)
		} else {
			w.Expert(xReuse, textReuseRefused)
		}
		w.End()
	}
	if v.SynRetry > 0 {
		w.Add(fSynRetry, 0, 0, tree.Int(int64(v.SynRetry)), "", gen)
		w.Expert(xSynRetry, "SYN retransmitted (tcptw.syn_retry counts them)")
	}
	if v.Duration > 0 {
		w.Add(fDuration, 0, 0, tree.Duration(v.Duration), "", tm)
	}
	w.Add(fRequests, 0, 0, tree.Int(int64(v.Requests)), "", gen)
	if oneRequestClose(v) {
		w.Expert(xShortConn, textOneRequest)
	}
	if v.FinToSyn >= 0 {
		w.Add(fFinToSyn, 0, 0, tree.Duration(v.FinToSyn), "", tm)
	}
	if v.PortRange > 0 {
		w.Add(fPortsInUse, 0, 0, tree.Int(int64(v.PortsInUse)), "", gen)
		w.Add(fPortRange, 0, 0, tree.Int(int64(v.PortRange)), "", gen)
		if v.PortsInUse*10 >= v.PortRange*8 {
			w.Expert(xPorts, textPorts)
		}
	}
	w.End()
}
