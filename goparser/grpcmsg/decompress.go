package grpcmsg

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
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
)

// Sniff names the grpc-encoding that data's magic number belongs to:
// gzip (RFC 1952), zstd (RFC 8878) or snappy's framing format; "" for
// none. It is for messages whose grpc-encoding header was not captured;
// deflate has no magic number.
func Sniff(data []byte) string {
	switch {
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
