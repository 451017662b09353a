package gogrpc

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/gotcpdump/gotcpdump/goparser/schema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// Status is how a call ended, as its client sees it.
type Status struct {
	Code    codes.Code
	Message string
	Details string // grpc-status-details-bin, base64
	// From says how Code was found when the server sent no grpc-status
	// the client takes ("" when it did): an HTTP status, a reset.
	From string
	// NotGRPC: the response is not gRPC (no gRPC content-type), so its
	// body holds no messages.
	NotGRPC bool
}

// ReadStatus reads how a block of the response ends the call, as grpc-go's
// client (1.85, internal/transport, operateHeaders) reads it: end is its
// END_STREAM, whole that no field of the block was lost with HPACK entries
// from before the capture. ok is false when the block leaves the call
// open, or when what decides it was lost.
//   - A response whose first block (the one with a :status) has no gRPC
//     content-type is not gRPC: its HTTP status gives the code (gRPC's
//     http-grpc-status-mapping.md; UNKNOWN for others, 200 too), a
//     malformed one INTERNAL. With a gRPC content-type the HTTP status
//     does not count.
//   - Only a block that ends the stream carries the status (or, for
//     gRPC-Web, the response headers of a trailers-only answer): a
//     grpc-status that is not a 32-bit number is UNKNOWN, as are
//     trailers without one; grpc-status-details-bin whose code is not
//     grpc-status's, or that is not base64, is INTERNAL.
func ReadStatus(fields func(name string) (string, bool), end, whole bool) (s Status, ok bool) {
	s.Message, _ = fields("grpc-message")
	s.Message = decodeMessage(s.Message)
	s.Details, _ = fields("grpc-status-details-bin")
	if hs, initial := fields(":status"); initial && whole {
		ct, hasCT := fields("content-type")
		if grpc, _ := IsGRPC(ct); !grpc {
			n, err := strconv.Atoi(hs)
			switch {
			case err != nil:
				return Status{Code: codes.Internal, From: fmt.Sprintf("malformed :status %q", hs), NotGRPC: true}, true
			case n >= 100 && n < 200:
				return s, false // a final response follows
			}
			code, known := httpCodes[n]
			if !known {
				code = codes.Unknown
			}
			from := fmt.Sprintf("HTTP status %d %s, no content-type", n, http.StatusText(n))
			if hasCT {
				from = fmt.Sprintf("HTTP status %d %s, content-type %q", n, http.StatusText(n), ct)
			}
			return Status{Code: code, From: from, NotGRPC: true}, true
		}
	}
	if !end {
		// Response headers: grpc-go ignores a grpc-status there. A
		// gRPC-Web server answers trailers-only in its headers, and
		// then ends the body (an empty DATA with END_STREAM).
		ct, _ := fields("content-type")
		if _, has := fields("grpc-status"); !has || !isWeb(ct) {
			return s, false
		}
	}
	v, has := fields("grpc-status")
	if !has {
		if whole {
			return Status{Code: codes.Unknown, From: "trailers without grpc-status"}, true
		}
		return s, false
	}
	// As grpc-go: a signed 32-bit number, taken as unsigned.
	code, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return Status{Code: codes.Unknown, From: fmt.Sprintf("malformed grpc-status %q", v)}, true
	}
	s.Code = codes.Code(uint32(code))
	if s.Details != "" {
		raw, err := decodeBin(s.Details)
		var st spb.Status
		switch {
		case err != nil:
			return Status{Code: codes.Internal, From: "malformed grpc-status-details-bin: " + err.Error()}, true
		case proto.Unmarshal(raw, &st) == nil && codes.Code(uint32(st.Code)) != s.Code:
			s.From = fmt.Sprintf("grpc-status-details-bin says %v, grpc-status %v", codes.Code(uint32(st.Code)), s.Code)
			s.Code = codes.Internal
		}
	}
	return s, true
}

// isWeb reports a gRPC-Web content-type.
func isWeb(ct string) bool {
	ct = strings.ToLower(strings.TrimSpace(ct))
	return strings.HasPrefix(ct, "application/grpc-web")
}

// decodeBin decodes a -bin header's value: base64, padded or not.
func decodeBin(v string) ([]byte, error) {
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
}

// httpCodes maps HTTP statuses to the codes a gRPC client reports for them
// (gRPC's doc/http-grpc-status-mapping.md; grpc-go's HTTPStatusConvTab).
var httpCodes = map[int]codes.Code{
	http.StatusBadRequest:         codes.Internal,
	http.StatusUnauthorized:       codes.Unauthenticated,
	http.StatusForbidden:          codes.PermissionDenied,
	http.StatusNotFound:           codes.Unimplemented,
	http.StatusTooManyRequests:    codes.Unavailable,
	http.StatusBadGateway:         codes.Unavailable,
	http.StatusServiceUnavailable: codes.Unavailable,
	http.StatusGatewayTimeout:     codes.Unavailable,
}

// ResetStatus is how an RST_STREAM ends a call for grpc-go's client: the
// error code's status (its http2ErrConvTab), and DEADLINE_EXCEEDED for a
// CANCEL once the call's grpc-timeout has run out, as the client's own
// deadline then caused it. elapsed is from the request HEADERS; the
// header was written a little before they were captured, and rounded up,
// so a little less than the timeout counts.
func ResetStatus(code http2.ErrCode, timeout, elapsed time.Duration) Status {
	s := Status{Code: codes.Internal, From: "RST_STREAM " + code.String()}
	switch code {
	case http2.ErrCodeRefusedStream:
		s.Code = codes.Unavailable
	case http2.ErrCodeCancel:
		s.Code = codes.Canceled
		if timeout > 0 && elapsed >= timeout-min(deadlineSlack, timeout/10) {
			s.Code = codes.DeadlineExceeded
			s.From += " at its grpc-timeout"
		}
	case http2.ErrCodeFlowControl, http2.ErrCodeEnhanceYourCalm:
		s.Code = codes.ResourceExhausted
	case http2.ErrCodeInadequateSecurity:
		s.Code = codes.PermissionDenied
	default:
		if code > http2.ErrCodeHTTP11Required {
			s.Code = codes.Unknown // not in grpc-go's table
		}
	}
	return s
}

// deadlineSlack is how much earlier than its grpc-timeout a reset may come
// and still be the deadline's.
const deadlineSlack = 2 * time.Millisecond

// EndedWithoutTrailers is how grpc-go's client ends a call whose server
// ended the stream with DATA, sending no trailers.
var EndedWithoutTrailers = Status{Code: codes.Internal, From: "stream ended without trailers"}

// decodeMessage undoes grpc-message's percent-encoding as grpc-go does:
// a % not followed by two hex digits stays as it is. Octets that are
// not UTF-8, which other implementations encode, are shown as U+FFFD
// (tree.ValidUTF8).
func decodeMessage(m string) string {
	i := 0
	for i < len(m) && m[i] != '%' {
		i++
	}
	if i == len(m) {
		return tree.ValidUTF8(m)
	}
	b := []byte(m[:i])
	for ; i < len(m); i++ {
		if m[i] == '%' && i+2 < len(m) {
			if v, err := strconv.ParseUint(m[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, m[i])
	}
	return tree.ValidUTF8(string(b))
}

// WriteProblem writes an expert info about a call's messages under an
// item of the call's own (a packet's gogrpc items are top-level, and an
// expert info needs one to attach to).
func WriteProblem(w tree.Writer, off, n int, call Call, x schema.ExpertID, msg string) {
	var label [128]byte
	w.BeginBytes(Proto.Item, off, n, tree.FromBytes, append(call.appendLabel(label[:0]), " messages"...), 0)
	w.Add(fPath, off, n, tree.Str(call.Path), "", tree.FlagGenerated)
	w.Expert(x, msg)
	w.End()
}
