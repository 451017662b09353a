package grpcmsg

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// deflatePlain is what testdata/deflate/gen.py compressed: a
// google.protobuf.BytesValue holding 800 times the octets 0 to 255.
func deflatePlain() []byte {
	b := []byte{0x0a, 0x80, 0xc0, 0x0c}
	for i := 0; i < 800; i++ {
		for c := 0; c < 256; c++ {
			b = append(b, byte(c))
		}
	}
	return b
}

func readDeflate(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "deflate", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeflateZlibAndRaw: grpc-encoding deflate inflates the zlib format
// that the gRPC C core and grpc-java send (made by zlib itself, see
// testdata/deflate/gen.py, at three levels: headers 78 9c, 78 da, 78 01)
// and raw deflate, within the same caps: bombs of either format are
// refused, and a zlib stream whose Adler-32 is wrong is an error.
func TestDeflateZlibAndRaw(t *testing.T) {
	plain := deflatePlain()
	for _, name := range []string{"zlib.bin", "zlib_best.bin", "zlib_fast.bin", "raw.bin"} {
		data := readDeflate(t, name)
		for i := 0; i < 2; i++ { // the second time with a pooled reader
			out, err := Decompress("deflate", data, 4<<20)
			if err != nil || !bytes.Equal(out, plain) {
				t.Fatalf("%s: %d octets, %v; want %d octets", name, len(out), err, len(plain))
			}
		}
		if _, err := Decompress("deflate", data, len(plain)-1); !errors.Is(err, ErrBomb) {
			t.Errorf("%s under a cap one octet short: %v, want ErrBomb", name, err)
		}
		if out, err := Decompress("deflate", data, len(plain)); err != nil || len(out) != len(plain) {
			t.Errorf("%s under a cap of its exact length: %d octets, %v", name, len(out), err)
		}
	}
	for _, name := range []string{"zlib_bomb.bin", "raw_bomb.bin"} {
		if _, err := Decompress("deflate", readDeflate(t, name), 4<<20); !errors.Is(err, ErrBomb) {
			t.Errorf("%s: %v, want ErrBomb", name, err)
		}
	}
	bad := append([]byte(nil), readDeflate(t, "zlib.bin")...)
	bad[len(bad)-1] ^= 1
	if _, err := Decompress("deflate", bad, 4<<20); !errors.Is(err, zlib.ErrChecksum) {
		t.Errorf("zlib stream with a wrong Adler-32: %v, want %v", err, zlib.ErrChecksum)
	}
}

// TestDeflateGrpcio: the two compressed messages of a grpcio 1.x call with
// grpc.Compression.Deflate, as captured (a request and its response).
func TestDeflateGrpcio(t *testing.T) {
	for _, c := range []struct{ hex, want string }{
		{"789ce372a8a2100000f2831ecb", "\n@" + string(bytes.Repeat([]byte("z"), 64))},
		{"789ce3b2494c4a261b0100cd78173f", "\n<" + string(bytes.Repeat([]byte("abc"), 20))},
	} {
		data, _ := hex.DecodeString(c.hex)
		out, err := Decompress("deflate", data, 4<<20)
		if err != nil || string(out) != c.want {
			t.Errorf("%s: %q, %v; want %q", c.hex, out, err, c.want)
		}
	}
}

// TestIsZlib: zlib's headers at every level are recognized; raw deflate's
// first octets, a preset dictionary, another method or a window over 32 KiB
// are not.
func TestIsZlib(t *testing.T) {
	for _, c := range []struct {
		hex  string
		want bool
	}{
		{"789c", true}, {"78da", true}, {"7801", true}, {"785e", true},
		{"480d", true},    // an 8 KiB window (windowBits 13)
		{"78bb", false},   // FDICT: a preset dictionary
		{"789d", false},   // check value wrong
		{"7902", false},   // method 9
		{"88", false},     // cut
		{"edcf", false},   // raw.bin's first octets: a dynamic Huffman block
		{"881c", false},   // a window of 64 KiB (CINFO 8)
		{"0001ff", false}, // a stored block
	} {
		b, _ := hex.DecodeString(c.hex)
		if got := IsZlib(b); got != c.want {
			t.Errorf("IsZlib(%s) = %v, want %v", c.hex, got, c.want)
		}
	}
}
