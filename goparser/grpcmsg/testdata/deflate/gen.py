#!/usr/bin/env python3
# Writes the deflate test vectors with Python's zlib (CPython's binding of
# zlib 1.2.13 here), run once: python3 gen.py. The gRPC C core (grpcio) and
# grpc-java compress "deflate" messages in the zlib format (RFC 1950:
# deflateInit2 with windowBits 15, a 0x78 header and an Adler-32 trailer);
# raw RFC 1951 streams (windowBits -15) are what some other peers send.
import zlib

# A google.protobuf.BytesValue of 204,800 octets (field 1, length 80 c0 0c);
# the test builds the same bytes.
plain = b'\x0a\x80\xc0\x0c' + bytes(range(256)) * 800


def deflate(data, wbits, level=zlib.Z_DEFAULT_COMPRESSION):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, 8, zlib.Z_DEFAULT_STRATEGY)
    return c.compress(data) + c.flush()


open('zlib.bin', 'wb').write(deflate(plain, 15))       # what grpcio sends
open('zlib_best.bin', 'wb').write(deflate(plain, 15, 9))  # header 78 da
open('zlib_fast.bin', 'wb').write(deflate(plain, 15, 1))  # header 78 01
open('raw.bin', 'wb').write(deflate(plain, -15))
# 8 MiB of zeros: a bomb past the 4 MiB default cap, in both formats.
zeros = bytes(8 << 20)
open('zlib_bomb.bin', 'wb').write(deflate(zeros, 15, 9))
open('raw_bomb.bin', 'wb').write(deflate(zeros, -15, 9))
