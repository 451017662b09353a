package main

// The C side of BenchmarkBoundary and TestYieldsQuietMonitor: gp_call made
// from a C thread that Go did not start, as Wireshark's main thread makes
// it through the shim. Nothing in the library calls it.

/*
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "goparser.h"

enum { GPB_STREAM, GPB_PORT, GPB_PORT_ARG };

// gpb_patch renumbers part of a call for each round of the loop, so that
// every round is a new HTTP/2 stream or a new TCP connection.
typedef struct {
	int off;  // into the data; for GPB_PORT_ARG, the argument's index
	int kind; // GPB_STREAM: 1 + 2 * round, 32 bits; GPB_PORT: 32768 + round % 28000, 16 bits; GPB_PORT_ARG: the same port as an argument
} gpb_patch;

typedef struct {
	int op;
	int64_t args[8];
	int nargs;
	int frame_arg; // index of the frame number argument (set to the call's number), or -1
	int sec_arg;   // index of the seconds argument (advanced a second every 100 rounds), or -1
	char *key;
	size_t keylen;
	uint8_t *data;
	size_t datalen;
	gpb_patch patch[4];
	int npatch;
} gpb_call;

typedef struct {
	gpb_call *calls;
	int ncalls;
	long n;
	uint8_t *out;
	size_t outcap;
	long spin_ns; // time spent in C after each call, as Wireshark spends it between calls
	int status;   // the first status other than GP_OK and GP_NOT_FOUND
} gpb_job;

static long gpb_now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *gpb_run(void *p) {
	gpb_job *j = p;
	size_t outlen;
	int64_t sec0[64];
	for (int c = 0; c < j->ncalls && c < 64; c++)
		sec0[c] = j->calls[c].sec_arg >= 0 ? j->calls[c].args[j->calls[c].sec_arg] : 0;
	for (long i = 0; i < j->n; i++) {
		int ci = (int)(i % j->ncalls);
		gpb_call *c = &j->calls[ci];
		long round = i / j->ncalls;
		uint32_t sid = (uint32_t)(1 + 2 * round) & 0x7fffffff;
		unsigned port = 32768 + (unsigned)(round % 28000);
		for (int k = 0; k < c->npatch; k++) {
			gpb_patch *pt = &c->patch[k];
			uint8_t *q = c->data + pt->off;
			switch (pt->kind) {
			case GPB_STREAM:
				q[0] = sid >> 24, q[1] = sid >> 16, q[2] = sid >> 8, q[3] = sid;
				break;
			case GPB_PORT:
				q[0] = port >> 8, q[1] = port;
				break;
			case GPB_PORT_ARG:
				c->args[pt->off] = port;
				break;
			}
		}
		if (c->frame_arg >= 0)
			c->args[c->frame_arg] = i + 1;
		if (c->sec_arg >= 0 && ci < 64)
			c->args[c->sec_arg] = sec0[ci] + round / 100;
		int st = gp_call(c->op, c->args, c->nargs, c->key, c->keylen, c->data, c->datalen, j->out, j->outcap, &outlen);
		if (st == GP_NEED_BUFFER)
			st = gp_take(j->out, j->outcap, &outlen);
		if (st != GP_OK && st != GP_NOT_FOUND && j->status == 0)
			j->status = st;
		if (j->spin_ns > 0)
			for (long until = gpb_now_ns() + j->spin_ns; gpb_now_ns() < until;)
				;
	}
	return NULL;
}

static int gpb_loop(gpb_job *j) {
	pthread_t t;
	if (pthread_create(&t, NULL, gpb_run, j) != 0)
		return -1;
	pthread_join(t, NULL);
	return j->status;
}
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"
)

// benchPatch and benchCall describe the calls of benchLoop (see gpb_patch
// and gpb_call above).
type benchPatch struct {
	off  int
	kind int
}

const (
	patchStream  = C.GPB_STREAM
	patchPort    = C.GPB_PORT
	patchPortArg = C.GPB_PORT_ARG
)

type benchCall struct {
	op       int
	args     []int64
	frameArg int
	secArg   int
	key      string
	data     []byte
	patches  []benchPatch
}

// benchLoop makes n gp_calls, taking the calls in turn, from a new C
// thread, with the data, key and result buffer in C memory as the shim
// has them.
func benchLoop(calls []benchCall, n int) error { return spinLoop(calls, n, 0) }

// spinLoop is benchLoop with spin of busy C work after each call.
func spinLoop(calls []benchCall, n int, spin time.Duration) error {
	if len(calls) == 0 || len(calls) > 64 {
		return fmt.Errorf("spinLoop: %d calls", len(calls))
	}
	cc := (*[64]C.gpb_call)(C.calloc(C.size_t(len(calls)), C.size_t(unsafe.Sizeof(C.gpb_call{}))))
	defer C.free(unsafe.Pointer(cc))
	for i, c := range calls {
		if len(c.args) > 8 || len(c.patches) > 4 {
			return fmt.Errorf("spinLoop: call %d: too many arguments or patches", i)
		}
		x := &cc[i]
		x.op = C.int(c.op)
		for k, a := range c.args {
			x.args[k] = C.int64_t(a)
		}
		x.nargs = C.int(len(c.args))
		x.frame_arg, x.sec_arg = C.int(c.frameArg), C.int(c.secArg)
		x.key, x.keylen = C.CString(c.key), C.size_t(len(c.key))
		defer C.free(unsafe.Pointer(x.key))
		x.data, x.datalen = (*C.uint8_t)(C.CBytes(c.data)), C.size_t(len(c.data))
		defer C.free(unsafe.Pointer(x.data))
		for k, p := range c.patches {
			x.patch[k] = C.gpb_patch{off: C.int(p.off), kind: C.int(p.kind)}
		}
		x.npatch = C.int(len(c.patches))
	}
	const outcap = 1 << 20
	j := (*C.gpb_job)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gpb_job{}))))
	defer C.free(unsafe.Pointer(j))
	j.calls, j.ncalls, j.n = &cc[0], C.int(len(calls)), C.long(n)
	j.spin_ns = C.long(spin.Nanoseconds())
	j.out, j.outcap = (*C.uint8_t)(C.malloc(outcap)), outcap
	defer C.free(unsafe.Pointer(j.out))
	if st := C.gpb_loop(j); st != 0 {
		return fmt.Errorf("spinLoop: status %d", int(st))
	}
	return nil
}

// rawCall is gp_call with the caller's pointers as they come, null ones
// included (TestNullPointers).
func rawCall(op int, args unsafe.Pointer, nargs int, key unsafe.Pointer, keylen int, data unsafe.Pointer, datalen int, out []byte) (n, status int) {
	var outlen C.size_t
	var o *C.uint8_t
	if len(out) > 0 {
		o = (*C.uint8_t)(unsafe.Pointer(&out[0]))
	}
	st := gp_call(C.int(op), (*C.int64_t)(args), C.int(nargs), (*C.char)(key), C.size_t(keylen),
		(*C.uint8_t)(data), C.size_t(datalen), o, C.size_t(len(out)), &outlen)
	return int(outlen), int(st)
}
