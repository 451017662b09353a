package grpcmsg

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// ErrBomb is returned when a message inflates past the cap.
var ErrBomb = errors.New("grpcmsg: decompressed size exceeds the limit")

// ErrEncoding is returned for grpc-encoding values that are not decoded.
var ErrEncoding = errors.New("grpcmsg: unsupported grpc-encoding")

// Inflaters are reused: a new gzip or flate reader allocates tens of
// kilobytes of tables, which cost more than inflating a small message.
var (
	gzipReaders  sync.Pool // *gzip.Reader
	flateReaders sync.Pool // io.ReadCloser that is a flate.Resetter
	zlibReaders  sync.Pool // io.ReadCloser that is a zlib.Resetter
)

// IsZlib tells whether data starts with a zlib header (RFC 1950): method 8
// (deflate), a window of at most 32 KiB, a check value that makes the two
// octets a multiple of 31, and no preset dictionary (gRPC has none).
//
// gRPC's "deflate" is the zlib format where it is implemented on zlib:
// the C core (grpcio, and the other languages wrapping it) calls
// deflateInit2 with windowBits 15, and grpc-java uses
// java.util.zip.Deflater, both writing 0x78 and an Adler-32 trailer.
// grpc-go has no deflate codec; other peers may send raw deflate (RFC 1951).
// A raw stream cannot be taken for zlib: the low nibble 8 would make its
// first block a non-final stored one with a padding bit set, and encoders
// pad with zeros.
func IsZlib(data []byte) bool {
	return len(data) >= 2 && data[0]&0x0f == 8 && data[0]>>4 <= 7 && data[1]&0x20 == 0 &&
		(uint16(data[0])<<8|uint16(data[1]))%31 == 0
}

// Sniff names the grpc-encoding that data's magic number belongs to:
// gzip (RFC 1952), zstd (RFC 8878), snappy's framing format, or deflate
// in the zlib format (RFC 1950, as the gRPC C core and Java send it);
// "" for none. It is for messages whose grpc-encoding header was not
// captured; raw deflate has no magic number.
func Sniff(data []byte) string {
	switch {
	case IsZlib(data):
		return "deflate"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b, 8}):
		return "gzip"
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd"
	case bytes.HasPrefix(data, []byte("\xff\x06\x00\x00sNaPpY")):
		return "snappy"
	}
	return ""
}

// Decompress inflates a compressed message by its grpc-encoding, reading
// at most max octets: a larger result is refused as a decompression bomb.
func Decompress(encoding string, data []byte, max int) ([]byte, error) {
	var r io.Reader
	switch encoding {
	case "gzip":
		zr, _ := gzipReaders.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(data))
		} else {
			err = zr.Reset(bytes.NewReader(data))
		}
		if err != nil {
			return nil, err
		}
		defer gzipReaders.Put(zr)
		r = zr
	case "deflate":
		if IsZlib(data) {
			zr, _ := zlibReaders.Get().(io.ReadCloser)
			var err error
			if zr == nil {
				zr, err = zlib.NewReader(bytes.NewReader(data))
			} else {
				err = zr.(zlib.Resetter).Reset(bytes.NewReader(data), nil)
			}
			if err != nil {
				return nil, err
			}
			defer zlibReaders.Put(zr)
			r = zr
			break
		}
		// No zlib header: raw deflate.
		fr, _ := flateReaders.Get().(io.ReadCloser)
		if fr == nil {
			fr = flate.NewReader(bytes.NewReader(data))
		} else if err := fr.(flate.Resetter).Reset(bytes.NewReader(data), nil); err != nil {
			return nil, err
		}
		defer flateReaders.Put(fr)
		r = fr
	case "snappy":
		// grpc-go's snappy codec streams the framing format.
		r = snappy.NewReader(bytes.NewReader(data))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderMaxMemory(uint64(max)+1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, fmt.Errorf("%w %q", ErrEncoding, encoding)
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if len(out) > max {
		return nil, ErrBomb
	}
	return out, err
}
