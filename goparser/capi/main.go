// Command capi builds libgoparser.so, the c-shared library that the Lua
// shim loads inside Wireshark. Every export recovers from panics and
// reports them as a status: a bug here must never take Wireshark down.
// Nothing here prints; results travel only through caller-owned buffers.
package main

/*
#include "goparser.h"
*/
import "C"

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gotcpdump/gotcpdump/goparser/gogrpc"
	"github.com/gotcpdump/gotcpdump/goparser/h2"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tcptw"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// Operations and statuses, as in goparser.h.
const (
	opSchema    = C.GP_OP_SCHEMA
	opH2        = C.GP_OP_H2
	opH2Options = C.GP_OP_H2_OPTIONS
	opTCPTW     = C.GP_OP_TCPTW
	opTWOptions = C.GP_OP_TCPTW_OPTIONS
	opTWReport  = C.GP_OP_TCPTW_REPORT
	opGRPCCalls = C.GP_OP_GRPC_CALLS
	opFetch     = C.GP_OP_FETCH
	opGRPCOpts  = C.GP_OP_GRPC_OPTIONS
	opGRPCWeb   = C.GP_OP_GRPC_WEB
	opTWBatch   = C.GP_OP_TCPTW_BATCH
	batchHeader = C.GP_BATCH_HEADER

	statusOK          = C.GP_OK
	statusNeedBuffer  = C.GP_NEED_BUFFER
	statusError       = C.GP_ERROR
	statusNotFound    = C.GP_NOT_FOUND
	abiVersion        = C.GOPARSER_ABI
	h2OptionArguments = 6
)

// state is everything the library keeps between calls. Wireshark calls
// dissectors from one thread, so no locking is needed.
var state struct {
	h2opts  h2.Options
	h2      *h2.Decoder
	schema  *pbschema.Registry
	gports  map[uint16]string
	glimits gogrpc.Limits
	twcfg   tcptw.Config
	tw      *tcptw.Dissector
	web     gogrpc.WebCalls
	enc     result.Encoder
	input   []byte
	pending []byte
	keys    map[string]string // interned keys; see keyString
	// kept holds results for later passes over a frame; see goparser.h.
	kept keptResults
	// links maps a frame that carried part of a gRPC message to the
	// frames where such messages completed. A later pass over the part
	// frame learns them (the first pass could not know the future).
	links map[uint32][]uint32
	// callFrames: the gRPC calls are kept with the frame they ended in,
	// for -z gogrpc,calls,FILTER (GP_OP_GRPC_CALLS with 1).
	callFrames bool
}

type keptKey struct {
	op    uint8
	frame uint32
	ord   uint16
}

// keepKey returns the key under which a result is kept, from the frame
// and ordinal arguments at a[i:].
func keepKey(op int, a []int64, i int) (keptKey, bool) {
	if len(a) < i+2 || a[i] <= 0 {
		return keptKey{}, false
	}
	return keptKey{uint8(op), uint32(a[i]), uint16(a[i+1])}, true
}

// h2Decode is the decoder entry point; tests replace it to check that
// panics are contained.
var h2Decode = func(d *h2.Decoder, in h2.Input, e *result.Encoder) h2.Status { return d.Decode(in, e) }

func init() { reset() }

func reset() {
	state.h2 = h2.New(state.h2opts)
	state.h2.SetSchema(state.schema)
	state.h2.SetGRPCPorts(state.gports)
	state.h2.SetGRPCLimits(state.glimits)
	state.h2.GRPCCalls().KeepFrames = state.callFrames
	state.web = gogrpc.WebCalls{Calls: state.h2.GRPCCalls(), Ports: state.gports}
	state.tw = tcptw.NewDissector(state.twcfg)
	state.pending = nil
	state.kept = keptResults{}
	state.links = make(map[uint32][]uint32)
	state.keys = make(map[string]string)
	state.input = nil // a tcptw batch's copy is megabytes
}

//export gp_abi_version
func gp_abi_version() C.int { return abiVersion }

//export gp_reset
func gp_reset() {
	defer func() { _ = recover() }()
	reset()
}

//export gp_call
func gp_call(op C.int, args *C.int64_t, nargs C.int, key *C.char, keylen C.size_t,
	data *C.uint8_t, datalen C.size_t, out *C.uint8_t, outcap C.size_t, outlen *C.size_t) C.int {
	// Outside call's recover, so a null pointer must not make a slice.
	if key == nil {
		keylen = 0
	}
	if data == nil {
		datalen = 0
	}
	if out == nil {
		outcap = 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap))
	var a []int64
	if nargs > 0 && args != nil {
		a = unsafe.Slice((*int64)(unsafe.Pointer(args)), int(nargs))
	}
	// Copy the input so that no Go state ever refers to the caller's memory.
	state.input = append(state.input[:0], unsafe.Slice((*byte)(unsafe.Pointer(data)), int(datalen))...)
	k := keyString(unsafe.Slice((*byte)(unsafe.Pointer(key)), int(keylen)))
	n, st := call(int(op), a, k, state.input, dst)
	*outlen = C.size_t(n)
	if yieldEvery > 0 && time.Since(lastYield) >= yieldEvery {
		lastYield = time.Now()
		runtime.Gosched()
	}
	return C.int(st)
}

// maxKeys bounds the interned keys: a capture of many short connections
// starts the set again rather than grow it. Longer keys than maxKeyLen
// (two IPv6 endpoints take up to 91 octets; gRPC-Web's carry a content type
// from the capture) are not interned, which bounds the set's memory.
const (
	maxKeys   = 4096
	maxKeyLen = 128
)

// keyString returns the caller's key as a Go string. A key names a
// connection and comes back with each of its packets, so keys are
// interned: a key seen before costs no allocation (a map lookup by
// string(b) does not copy b), and decoders may keep it.
func keyString(b []byte) string {
	if len(b) == 0 || len(b) > maxKeyLen {
		return string(b)
	}
	if s, ok := state.keys[string(b)]; ok {
		return s
	}
	if len(state.keys) >= maxKeys {
		clear(state.keys)
	}
	s := string(b)
	state.keys[s] = s
	return s
}

// yieldEvery is how often gp_call yields its thread to the scheduler.
// Wireshark's thread spends most of its time in C between calls, and Go's
// runtime monitor (sysmon) takes the processor from a thread it finds in
// C once the processor has been on the same scheduling tick for 10 ms.
// Calls from C never advance that tick, so without yields the monitor
// took the processor nearly every time it looked, and it looked every
// 20 µs: about 1,800 wake-ups a second in tshark, and about 4% of its CPU
// time on the monitor's thread alone.
// A yield advances the tick, but hands the locked thread through another
// one and back (about 0.1 ms on a 2-core VM), so a call yields only when
// 8 ms, under the monitor's 10, have passed since the last yield. Zero
// turns the yields off (TestYieldsQuietMonitor compares).
var yieldEvery = 8 * time.Millisecond

var lastYield time.Time

// call runs one operation and writes its result into dst. It returns the
// result's length and a status; with statusNeedBuffer the result waits in
// state.pending for gp_take.
func call(op int, a []int64, key string, data []byte, dst []byte) (n int, status int) {
	defer func() {
		if r := recover(); r != nil {
			n, status = fail(dst, fmt.Sprintf("goparser: internal error (op %d): %v", op, r))
		}
	}()
	e := &state.enc
	e.Reset()
	var keep keptKey
	kept := false
	switch op {
	case opSchema:
		schema.Encode(e)
	case opH2:
		if len(a) < 1 {
			return fail(dst, "goparser: h2 needs 1 argument")
		}
		src, dstEP, _ := strings.Cut(key, "\n")
		in := h2.Input{Src: src, Dst: dstEP, Data: data, Heuristic: a[0] != 0}
		if len(a) > 1 {
			in.NoReassembly = a[1] != 0
		}
		if len(a) > 3 {
			in.Time = time.Unix(a[2], a[3])
		}
		if len(a) > 4 && a[4] > 0 && a[4] <= math.MaxUint32 {
			in.Frame = uint32(a[4])
		}
		noLaterPass := len(a) > 6 && a[6] != 0
		if len(a) > 7 && a[7] > 0 {
			in.Missing = int(min(a[7], math.MaxInt32))
		}
		// Items nobody will see are not worth making.
		in.NoTree = noLaterPass && len(a) > 8 && a[8] == 0
		if len(a) > 10 && a[9] != 0 {
			in.Seq, in.HasSeq = uint32(a[10]), true
		}
		state.h2.GRPCCalls().Frame = in.Frame
		st := decodeH2(e, in)
		if _, err := e.Bytes(); err != nil && st != h2.StatusNotMine {
			// The decoder's state has taken these octets (HPACK tables
			// among it): failing here would have Wireshark offer them
			// again, to goh2's heuristics too, and decode them twice.
			// They are taken, with what went wrong and no items.
			undecodable(e, err)
		}
		if st != h2.StatusNotMine {
			keep, kept = keepKey(op, a, 4)
			if kept && noLaterPass {
				state.kept.skip(keep)
				kept = false
			}
		}
		if noLaterPass {
			break // the links are for later passes too
		}
		for _, l := range state.h2.Links() {
			if ls := state.links[l.Part]; len(ls) == 0 || ls[len(ls)-1] != l.In {
				state.links[l.Part] = append(ls, l.In)
			}
		}
	case opH2Options:
		if len(a) < h2OptionArguments {
			return fail(dst, "goparser: h2 options need 6 arguments")
		}
		state.h2opts = h2.Options{
			MaxConns: int(a[0]), MaxStreams: int(a[1]), MaxHeaderListSize: uint32(a[2]),
			MaxTableSize: uint32(a[3]), MaxContinuation: int(a[4]), MaxFrameLen: uint32(a[5]),
		}
		state.h2 = h2.New(state.h2opts)
		state.h2.SetSchema(state.schema)
		state.h2.SetGRPCPorts(state.gports)
		state.h2.SetGRPCLimits(state.glimits)
		state.h2.GRPCCalls().KeepFrames = state.callFrames
		state.web = gogrpc.WebCalls{Calls: state.h2.GRPCCalls(), Ports: state.gports}
		e.Bool(true)
	case opTCPTW:
		if len(a) < 6 {
			return fail(dst, "goparser: tcptw needs 6 arguments")
		}
		items := len(a) < 7 || a[6] != 0
		v := state.tw.Frame(time.Unix(a[0], a[1]), uint16(a[4]), uint16(a[5]), data, e, items)
		// The verdict is kept, not the result: later passes render it.
		if k, ok := keepKey(op, a, 2); ok {
			keepVerdict(k, v, len(a) > 7 && a[7] != 0)
		}
	case opTWBatch:
		n, err := tcptwBatch(data, len(a) > 0 && a[0] != 0)
		if err != nil {
			return fail(dst, "goparser: "+err.Error())
		}
		e.Int(int64(n))
	case opFetch:
		if len(a) < 3 {
			return fail(dst, "goparser: fetch needs 3 arguments")
		}
		k, _ := keepKey(int(a[0]), a, 1)
		var b []byte
		var ok bool
		if fingerprinted(k.op) {
			var found keptKey
			var kept bool
			b, found, kept = state.kept.getPayload(k, data)
			if ok = b != nil; ok {
				k = found
			} else if kept {
				// The first pass decoded other octets here: its items
				// would not fit these (see fingerprint).
				return 0, statusNotFound
			}
		} else {
			b, ok = state.kept.get(k)
		}
		if !ok {
			if state.kept.skipped(k) {
				return fail(dst, fmt.Sprintf("goparser: the result of frame %d was not kept: no later pass "+
					"was to come (tshark without -2, or a first pass that printed its tree); dissect the "+
					"capture again, with tshark -2 or in Wireshark", k.frame))
			}
			return 0, statusNotFound
		}
		if k.op == opTCPTW {
			if err := state.tw.Render(b, e, len(a) < 4 || a[3] != 0); err != nil {
				return fail(dst, "goparser: "+err.Error())
			}
			break
		}
		if ls := state.links[k.frame]; k.op == opH2 && k.ord == 1 && len(ls) > 0 {
			b = withLinks(e, b, ls)
		}
		return deliver(b, dst)
	case opTWOptions:
		if len(a) < 4 {
			return fail(dst, "goparser: tcptw options need 4 arguments")
		}
		state.twcfg = tcptw.Config{TimeWait: time.Duration(a[0]) * time.Millisecond, PortLo: uint16(a[1]), PortHi: uint16(a[2]), MaxConns: int(a[3])}
		state.tw = tcptw.NewDissector(state.twcfg)
		e.Bool(true)
	case opGRPCOpts:
		// A bad entry of a preference is dropped, not the preferences:
		// everything else is applied, and the result is the problems,
		// one a line ("" for none), for the caller to report.
		sets, rest, _ := strings.Cut(key, "\n")
		types, portSpec, _ := strings.Cut(rest, "\n")
		var problems []string
		ports, err := parsePorts(portSpec)
		problems = append(problems, lines(err)...)
		var reg *pbschema.Registry
		if strings.TrimSpace(sets) != "" || strings.TrimSpace(types) != "" {
			var paths []string
			for _, p := range strings.Split(sets, ":") {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
			reg, err = pbschema.Load(paths)
			for _, l := range lines(err) {
				problems = append(problems, "gogrpc.descriptor_sets: "+l+"; its types are not used")
			}
			for _, l := range lines(reg.SetMethodTypes(types)) {
				problems = append(problems, "gogrpc.method_types: "+l+"; entry ignored")
			}
			if reg.Empty() {
				reg = nil
			}
		}
		var lim gogrpc.Limits
		if len(a) >= 4 {
			lim = gogrpc.Limits{MaxMessage: int(a[0]), MaxDecompressed: int(a[1]), MaxRatio: int(a[2]), MaxDepth: int(a[3])}
			if lim.MaxDepth == 0 {
				lim.MaxDepth = -1 // the preference's 0: no nesting, not the default
			}
		}
		state.schema, state.gports, state.glimits = reg, ports, lim
		state.h2.SetSchema(reg)
		state.h2.SetGRPCPorts(ports)
		state.h2.SetGRPCLimits(lim)
		state.h2.SetGRPC(len(a) < 5 || a[4] != 0)
		state.web.Ports = ports
		e.String(strings.Join(problems, "\n"))
	case opGRPCWeb:
		if len(a) < 3 {
			return fail(dst, "goparser: grpc-web needs 3 arguments")
		}
		// a[0] is unused: the library tells requests from responses itself.
		parts := strings.SplitN(key, "\n", 3)
		if len(parts) < 3 {
			return fail(dst, "goparser: grpc-web key: want src, dst and content type")
		}
		in := gogrpc.WebBody{Conn: connKey(parts[0], parts[1]), Src: parts[0], Dst: parts[1], ContentType: parts[2],
			Body: data, Time: time.Unix(a[1], a[2])}
		var experts []tree.ExpertRecord
		state.web.Calls.Frame = 0
		if len(a) > 3 && a[3] > 0 && a[3] <= math.MaxUint32 {
			state.web.Calls.Frame = uint32(a[3])
		}
		e.BeginArray()
		e.Int(0)
		e.BeginArray()
		state.web.Decode(tree.Writer{E: e, X: &experts}, in, state.schema, state.glimits)
		e.End()
		tree.EncodeExperts(e, experts)
		e.End()
		keep, kept = keepKey(op, a, 3)
	case opGRPCCalls:
		calls := state.h2.GRPCCalls()
		switch {
		case len(a) > 0 && a[0] == 1:
			// From now on, keep each call with its last frame.
			state.callFrames, calls.KeepFrames = true, true
			e.Bool(true)
		case len(a) > 0 && a[0] == 2:
			frames, err := parseFrames(data)
			if err != nil {
				return fail(dst, "goparser: "+err.Error())
			}
			t := calls.Of(frames)
			t.Filter = key
			var b strings.Builder
			t.WriteText(&b)
			e.String(b.String())
		default:
			var b strings.Builder
			calls.WriteText(&b)
			e.String(b.String())
		}
	case opTWReport:
		var b strings.Builder
		rep := state.tw.Engine.Report(len(a) > 1 && a[1] != 0)
		if len(a) > 0 && a[0] != 0 {
			enc := json.NewEncoder(&b)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				return fail(dst, "goparser: "+err.Error())
			}
		} else {
			rep.WriteText(&b)
		}
		e.String(b.String())
	default:
		return fail(dst, fmt.Sprintf("goparser: unknown op %d", op))
	}
	b, err := e.Bytes()
	if err != nil {
		return fail(dst, "goparser: "+err.Error())
	}
	if kept {
		if fingerprinted(keep.op) {
			taken := data
			if keep.op == opH2 {
				taken = data[:min(max(state.h2.Consumed(), 0), len(data))]
			}
			state.kept.putPayload(keep, taken, b)
		} else {
			state.kept.put(keep, b)
		}
	}
	return deliver(b, dst)
}

// tcptwBatch runs GP_OP_TCPTW without items over the frames of a
// GP_OP_TCPTW_BATCH and keeps their verdicts, unless noLaterPass. It
// returns how many it ran.
func tcptwBatch(data []byte, noLaterPass bool) (int, error) {
	n := 0
	for len(data) > 0 {
		if len(data) < batchHeader {
			return n, errors.New("tcptw batch: truncated header")
		}
		sec := int64(binary.LittleEndian.Uint64(data))
		nsec := int64(binary.LittleEndian.Uint32(data[8:]))
		frame := binary.LittleEndian.Uint32(data[12:])
		sport, dport := binary.LittleEndian.Uint16(data[16:]), binary.LittleEndian.Uint16(data[18:])
		size := binary.LittleEndian.Uint32(data[20:])
		if uint64(size) > uint64(len(data)-batchHeader) {
			return n, errors.New("tcptw batch: truncated frame")
		}
		batchFrame(time.Unix(sec, nsec), frame, sport, dport, data[batchHeader:batchHeader+int(size)], noLaterPass)
		data = data[batchHeader+int(size):]
		n++
	}
	return n, nil
}

// batchFrame runs one frame of a batch. A panic loses that frame's
// verdict only, as it would have lost its result alone.
func batchFrame(ts time.Time, frame uint32, sport, dport uint16, b []byte, noLaterPass bool) {
	defer func() { _ = recover() }()
	v := state.tw.Track(ts, sport, dport, b)
	if frame > 0 {
		keepVerdict(keptKey{opTCPTW, frame, 1}, v, noLaterPass)
	}
}

// keepVerdict keeps a tcptw verdict for later passes, or, when none is
// to come, records that it was not kept, so that a fetch for it is an
// error.
func keepVerdict(k keptKey, v []byte, noLaterPass bool) {
	if noLaterPass {
		state.kept.skip(k)
	} else {
		state.kept.put(k, v)
	}
}

// connKey names a connection the same from both ends.
func connKey(a, b string) string {
	if a < b {
		return a + "|" + b
	}
	return b + "|" + a
}

// withLinks returns an H2 result with one more top-level element: the
// frames where gRPC messages that this frame carried part of completed.
func withLinks(e *result.Encoder, kept []byte, links []uint32) []byte {
	e.Reset()
	e.BeginArray()
	for _, l := range links {
		e.Int(int64(l))
	}
	e.End()
	tail, err := e.Bytes()
	if err != nil || len(kept) < 5 || result.Tag(kept[0]) != result.TagArray {
		return kept
	}
	b := append(append(make([]byte, 0, len(kept)+len(tail)), kept...), tail...)
	binary.LittleEndian.PutUint32(b[1:5], binary.LittleEndian.Uint32(b[1:5])+1)
	return b
}

// parsePorts reads "PORT=PATH;PORT=PATH" (PATH may be empty: gRPC, method
// unknown). An entry that is not PORT=PATH is left out and named in the
// error, one line each; the map holds the others.
func parsePorts(spec string) (map[uint16]string, error) {
	m := map[uint16]string{}
	var errs []error
	for _, entry := range strings.Split(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, path, _ := strings.Cut(entry, "=")
		n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
		if err != nil || n == 0 {
			errs = append(errs, fmt.Errorf("gogrpc.ports: %q is not PORT=/pkg.Service/Method; entry ignored", entry))
			continue
		}
		m[uint16(n)] = strings.TrimSpace(path)
	}
	return m, errors.Join(errs...)
}

// parseFrames reads frame numbers separated by commas.
func parseFrames(data []byte) (map[uint32]bool, error) {
	frames := map[uint32]bool{}
	for _, f := range strings.Split(string(data), ",") {
		if f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("gRPC calls: frame %q: %w", f, err)
		}
		frames[uint32(n)] = true
	}
	return frames, nil
}

// lines splits an error (one of errors.Join's) into its lines.
func lines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// deliver copies a result into dst, or keeps it for gp_take when dst is
// too small.
func deliver(b, dst []byte) (int, int) {
	if len(b) > len(dst) {
		state.pending = append(state.pending[:0], b...)
		return len(b), statusNeedBuffer
	}
	return copy(dst, b), statusOK
}

// undecodable replaces a GP_OP_H2 result that could not be encoded with
// one that takes the octets the decoder took, with the error.
func undecodable(e *result.Encoder, err error) {
	e.Reset()
	e.BeginArray()
	e.Int(int64(h2.StatusOK))
	e.Int(int64(state.h2.Consumed()))
	e.Int(int64(state.h2.Need()))
	e.BeginArray()
	e.End()
	e.Nil()
	tree.EncodeExperts(e, []tree.ExpertRecord{{ID: h2.XInternal, Msg: "goparser: " + err.Error() + "; this packet's frames are decoded but not shown"}})
	e.End()
}

func decodeH2(e *result.Encoder, in h2.Input) h2.Status {
	defer func() {
		if r := recover(); r != nil {
			// Drop the connection whose state may now be inconsistent, then
			// let call report the error.
			state.h2.Forget(in)
			panic(r)
		}
	}()
	return h2Decode(state.h2, in, e)
}

//export gp_take
func gp_take(out *C.uint8_t, outcap C.size_t, outlen *C.size_t) C.int {
	if out == nil {
		outcap = 0
	}
	dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap))
	n, st := take(dst)
	*outlen = C.size_t(n)
	return C.int(st)
}

func take(dst []byte) (n int, status int) {
	defer func() {
		if r := recover(); r != nil {
			n, status = fail(dst, fmt.Sprint("goparser: internal error: ", r))
		}
	}()
	if len(state.pending) > len(dst) {
		return len(state.pending), statusNeedBuffer
	}
	n = copy(dst, state.pending)
	state.pending = state.pending[:0]
	return n, statusOK
}

func fail(dst []byte, msg string) (int, int) {
	return copy(dst, msg), statusError
}

func main() {}
