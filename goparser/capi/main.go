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
	"fmt"
	"strings"
	"unsafe"

	"github.com/gotcpdump/gotcpdump/goparser/h2"
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
)

// state is everything the library keeps between calls. Wireshark calls
// dissectors from one thread, so no locking is needed.
var state struct {
	h2opts  h2.Options
	h2      *h2.Decoder
	enc     result.Encoder
	input   []byte
	pending []byte
}

func init() { reset() }

func reset() {
	state.h2 = h2.New(state.h2opts)
	state.pending = nil
}

//export gp_abi_version
func gp_abi_version() C.int { return C.GOPARSER_ABI }

//export gp_reset
func gp_reset() {
	defer func() { _ = recover() }()
	reset()
}

//export gp_call
func gp_call(op C.int, args *C.int64_t, nargs C.int, key *C.char, keylen C.size_t,
	data *C.uint8_t, datalen C.size_t, out *C.uint8_t, outcap C.size_t, outlen *C.size_t) (status C.int) {
	dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap))
	defer func() {
		if r := recover(); r != nil {
			status = fail(dst, outlen, fmt.Sprintf("goparser: internal error (op %d): %v", int(op), r))
		}
	}()
	var a []int64
	if nargs > 0 {
		a = unsafe.Slice((*int64)(unsafe.Pointer(args)), int(nargs))
	}
	// Copy the input so that no Go state ever refers to the caller's memory.
	state.input = append(state.input[:0], unsafe.Slice((*byte)(unsafe.Pointer(data)), int(datalen))...)
	k := C.GoStringN(key, C.int(keylen))

	e := &state.enc
	e.Reset()
	switch int(op) {
	case C.GP_OP_SCHEMA:
		schema.Encode(e)
	case C.GP_OP_H2:
		if len(a) < 1 {
			return fail(dst, outlen, "goparser: h2 needs 1 argument")
		}
		src, dstEP, _ := strings.Cut(k, "\n")
		decodeH2(e, h2.Input{Src: src, Dst: dstEP, Data: state.input, Heuristic: a[0] != 0})
	case C.GP_OP_H2_OPTIONS:
		if len(a) < 6 {
			return fail(dst, outlen, "goparser: h2 options need 6 arguments")
		}
		state.h2opts = h2.Options{
			MaxConns: int(a[0]), MaxStreams: int(a[1]), MaxHeaderListSize: uint32(a[2]),
			MaxTableSize: uint32(a[3]), MaxContinuation: int(a[4]), MaxFrameLen: uint32(a[5]),
		}
		state.h2 = h2.New(state.h2opts)
		e.Bool(true)
	default:
		return fail(dst, outlen, fmt.Sprintf("goparser: unknown op %d", int(op)))
	}
	b, err := e.Bytes()
	if err != nil {
		return fail(dst, outlen, "goparser: "+err.Error())
	}
	*outlen = C.size_t(len(b))
	if len(b) > len(dst) {
		state.pending = append(state.pending[:0], b...)
		return C.GP_NEED_BUFFER
	}
	copy(dst, b)
	return C.GP_OK
}

func decodeH2(e *result.Encoder, in h2.Input) {
	defer func() {
		if r := recover(); r != nil {
			// Drop the connection whose state may now be inconsistent, then
			// let the outer handler report the error.
			state.h2.Forget(in)
			panic(r)
		}
	}()
	state.h2.Decode(in, e)
}

//export gp_take
func gp_take(out *C.uint8_t, outcap C.size_t, outlen *C.size_t) (status C.int) {
	dst := unsafe.Slice((*byte)(unsafe.Pointer(out)), int(outcap))
	defer func() {
		if r := recover(); r != nil {
			status = fail(dst, outlen, fmt.Sprint("goparser: internal error: ", r))
		}
	}()
	*outlen = C.size_t(len(state.pending))
	if len(state.pending) > len(dst) {
		return C.GP_NEED_BUFFER
	}
	copy(dst, state.pending)
	state.pending = state.pending[:0]
	return C.GP_OK
}

func fail(dst []byte, outlen *C.size_t, msg string) C.int {
	n := copy(dst, msg)
	*outlen = C.size_t(n)
	return C.GP_ERROR
}

func main() {}
