package grpcmsg

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// ErrBase64 is returned for gRPC-Web-Text that is not base64.
var ErrBase64 = errors.New("grpcmsg: invalid base64 in gRPC-Web-Text")

// Base64Stream decodes one direction of a gRPC-Web-Text body
// (application/grpc-web-text), which arrives in chunks that need not end
// on a 4-character boundary. A sender may also encode each of its writes
// separately, so padding can occur inside the stream: every quartet is
// decoded on its own terms.
type Base64Stream struct {
	rest [4]byte
	n    int
	err  error
}

// Decode appends the octets decoded from chunk to dst. After an error the
// stream stays failed: nothing after it can be aligned again.
func (s *Base64Stream) Decode(dst, chunk []byte) ([]byte, error) {
	if s.err != nil {
		return dst, s.err
	}
	if bytes.ContainsAny(chunk, "\r\n") {
		// Line breaks are not part of the text (encoding/base64 skips
		// them too); dropped here, they cannot split a quartet.
		chunk = bytes.ReplaceAll(bytes.ReplaceAll(chunk, []byte("\r"), nil), []byte("\n"), nil)
	}
	for len(chunk) > 0 {
		if s.n > 0 || len(chunk) < 4 {
			k := copy(s.rest[s.n:], chunk)
			s.n += k
			chunk = chunk[k:]
			if s.n < 4 {
				break
			}
			if dst, s.err = decodeQuartets(dst, s.rest[:]); s.err != nil {
				return dst, s.err
			}
			s.n = 0
			continue
		}
		// Whole quartets up to and including the first padded one decode
		// in one go; what follows starts a new run.
		end := len(chunk) &^ 3
		if i := bytes.IndexByte(chunk[:end], '='); i >= 0 {
			end = (i | 3) + 1
		}
		if dst, s.err = decodeQuartets(dst, chunk[:end]); s.err != nil {
			return dst, s.err
		}
		chunk = chunk[end:]
	}
	return dst, nil
}

func decodeQuartets(dst, q []byte) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(q))
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	k, err := base64.StdEncoding.Decode(dst[start:], q)
	if err != nil {
		return dst[:start], ErrBase64
	}
	return dst[:start+k], nil
}
