/* The C interface of libgoparser.so, shared by the Go exports and the Lua
 * shim. Bump GOPARSER_ABI whenever a signature, an op or a result layout
 * changes: the shim refuses a library whose ABI differs from its own.
 * Pointers are not const because cgo exports cannot declare const; the
 * library never writes through args, key or data. */
#ifndef GOPARSER_H
#define GOPARSER_H

#include <stddef.h>
#include <stdint.h>

#define GOPARSER_ABI 12

/* gp_call operations. */
#define GP_OP_SCHEMA 0     /* no args: the fields and experts of every protocol */
#define GP_OP_H2 1         /* args: heuristic(0/1) [, no reassembly(0/1) [, seconds, nanoseconds [, frame, ordinal [, no later pass(0/1) [, octets missing after data (a snap length cut the packet) [, tree(0/1; default 1: 0 with no later pass leaves gRPC messages undecoded) [, has sequence number(0/1), TCP sequence number of data's first octet]]]]]]]; key: "src addr port\ndst addr port"; data: TCP payload */
#define GP_OP_H2_OPTIONS 2 /* args: max conns, max streams, max header list, max table, max CONTINUATION, max frame */
#define GP_OP_TCPTW 3      /* args: seconds, nanoseconds, frame (0: keep nothing), ordinal, src port, dst port [, items (default 1; 0: expert infos only) [, no later pass(0/1)]]; no key; data: whole frame */
#define GP_OP_TCPTW_OPTIONS 4 /* args: TIME_WAIT ms, port low, port high, max conns */
#define GP_OP_TCPTW_REPORT 5  /* args: json(0/1), timeline(0/1): the report as a string */
#define GP_OP_GRPC_CALLS 6    /* no args: the gRPC calls table as a string. Args [1]: from now on keep each call with the frame it ended in (until the process ends). Args [2]; key: a display filter; data: frame numbers separated by ',': the table of the kept calls that ended in those frames, titled with the filter */
#define GP_OP_FETCH 7         /* args: op (GP_OP_H2, GP_OP_TCPTW or GP_OP_GRPC_WEB), frame, ordinal [, items, as GP_OP_TCPTW's]: the result kept for them. For GP_OP_H2 and GP_OP_GRPC_WEB, data is the call's payload, and only a result decoded from the same octets is found (that ordinal's, or another of the frame's): a later pass may be handed other octets than the first (TCP segments out of order) */
#define GP_OP_GRPC_OPTIONS 8  /* args [max message, max decompressed, max ratio, max depth [, gRPC on HTTP/2 (0/1)]]; key: "descriptor set paths, ':'-separated\nPATH=REQ[,RESP];...\nPORT=PATH;...": gRPC types, ports, limits. Entries that are wrong are left out and the rest applied; the result is a string of the problems, one a line ("" for none) */
#define GP_OP_GRPC_WEB 9      /* args: 0 (reserved), seconds, nanoseconds [, frame, ordinal]; key: "src addr port\ndst addr port\ncontent type"; data: an HTTP/1.1 body of gRPC-Web. Result: {0, {items}, {experts}} */
/* GP_OP_TCPTW_BATCH: args [no later pass(0/1)]; data: frames that GP_OP_TCPTW would have
 * been given with items 0 and ordinal 1, whose results nobody would see
 * (see cshim/postdissector.c), in the order Wireshark dissected them. Each
 * is a GP_BATCH_HEADER-octet header (seconds: 8 octets, nanoseconds: 4,
 * frame: 4, src port: 2, dst port: 2, length: 4; little-endian) and that
 * many octets of frame. Their verdicts are kept as GP_OP_TCPTW keeps them;
 * the result is the number of frames. */
#define GP_OP_TCPTW_BATCH 10
#define GP_BATCH_HEADER 24

/* With a frame number above 0, GP_OP_H2, GP_OP_TCPTW and GP_OP_GRPC_WEB keep their result
 * (GP_OP_H2 only when it claims the data) under (op, frame, ordinal), so
 * that later passes over the same frame fetch it instead of decoding again
 * with state that has moved on (GP_OP_TCPTW keeps its verdict, and
 * GP_OP_FETCH renders it again). gp_reset forgets them.
 *
 * "No later pass" (GP_OP_H2, GP_OP_TCPTW, GP_OP_TCPTW_BATCH) says that
 * none will come: tshark makes one pass (cshim/tshark_args.c), or, for
 * GP_OP_H2, the frame's first dissection has a visible tree, which only
 * tshark's single pass makes (-V, pdml, json, and -T fields on 4.0);
 * Wireshark and tshark -2 dissect first with an invisible tree or none.
 * The result or verdict is then not kept, nor GP_OP_H2's gRPC fragment
 * links, which for a capture of millions of packets saves a copy of every
 * result (about 1.8 KiB a packet of gRPC, 25 octets of tcptw), and
 * GP_OP_FETCH for that frame, whatever the ordinal, is a GP_ERROR instead
 * of GP_NOT_FOUND. */

/* gp_call status codes. */
#define GP_OK 0
#define GP_NEED_BUFFER 1 /* result kept: *outlen octets; fetch with gp_take */
#define GP_ERROR 2       /* out holds a UTF-8 message of *outlen octets */
#define GP_NOT_FOUND 3   /* GP_OP_FETCH: nothing kept for that frame */

int gp_abi_version(void);
void gp_reset(void);
int gp_call(int op, int64_t *args, int nargs, char *key, size_t keylen,
            uint8_t *data, size_t datalen, uint8_t *out, size_t outcap, size_t *outlen);
int gp_take(uint8_t *out, size_t outcap, size_t *outlen);

#endif
