package grpcmsg

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// ErrBomb is returned when a message inflates past the cap.
var ErrBomb = errors.New("grpcmsg: decompressed size exceeds the limit")

// ErrEncoding is returned for grpc-encoding values that are not decoded.
var ErrEncoding = errors.New("grpcmsg: unsupported grpc-encoding")

// Decompress inflates a compressed message by its grpc-encoding, reading
// at most max octets: a larger result is refused as a decompression bomb.
func Decompress(encoding string, data []byte, max int) ([]byte, error) {
	var r io.Reader
	switch encoding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	case "deflate":
		fr := flate.NewReader(bytes.NewReader(data))
		defer fr.Close()
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
