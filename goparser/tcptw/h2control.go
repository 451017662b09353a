package tcptw

import (
	"bytes"

	"golang.org/x/net/http2"

	"github.com/gotcpdump/gotcpdump/goparser/tcpdecode"
)

// How long a connection was idle when it was closed (conn.idleAtFIN)
// counts from its last data. On HTTP/2 the frames that manage the
// connection are not data: servers send them when they close an idle
// connection, and clients to check on an idle one. Go's net/http server
// sends GOAWAY when its IdleTimeout fires and closes 1 s later; grpc-go's
// MaxConnectionIdle sends GOAWAY and PING, and a second GOAWAY once the
// PING is acknowledged; a client with health checks (x/net/http2's
// ReadIdleTimeout, gRPC keepalive) pings while idle and the server acks.
// Counted as data, they made an idle-timeout close look like a close
// right after the response, a server without keep-alive.
//
// connControl says which frames manage the connection: on stream 0,
//   - GOAWAY, sent to close;
//   - PING and its ACK: liveness checks, which the servers' idle timers
//     ignore (Go's restarts only when the last stream ends, grpc-go's
//     counts streams);
//   - SETTINGS and its ACK: the connection's setup, no request;
//   - WINDOW_UPDATE: credit for DATA already received, which follows
//     that DATA.
//
// Everything else is data: the frames of streams (WINDOW_UPDATE and
// RST_STREAM included: a stream is active until its RST_STREAM),
// PUSH_PROMISE, and types this list does not know, such as
// PRIORITY_UPDATE, which announces a request on stream 0. The lengths
// are checked as RFC 9113 gives them, so that octets misread as a frame
// header are unlikely to pass.
func connControl(fh http2.FrameHeader) bool {
	if fh.StreamID != 0 {
		return false
	}
	switch fh.Type {
	case http2.FrameGoAway:
		return fh.Length >= 8
	case http2.FramePing:
		return fh.Length == 8
	case http2.FrameSettings:
		return fh.Length%6 == 0
	case http2.FrameWindowUpdate:
		return fh.Length == 4
	}
	return false
}

// h2Control reports whether segment s of direction d carries nothing but
// connection-management frames (connControl) of a connection known to be
// HTTP/2, and if so whether one of them is a GOAWAY (conn.goaway). start
// says that s is the first segment with payload of its direction and
// begins right after the SYN: the first frame (after the client's
// preface) begins there.
//
// There is no reassembly: it follows where each direction's next frame
// begins (conn.h2At) by sequence number. A segment that begins inside a
// frame, ends inside one or holds a frame header it does not have all of
// (a header split across segments, or beyond the captured octets) counts
// as data; so does a retransmission. After a header it could not read,
// or octets the capture lacks, the direction is no longer followed and
// all its segments count as data.
//
// The server's frames are followed from its first segment even before
// the client's preface says that the connection is HTTP/2: a gRPC
// server sends SETTINGS as it accepts, before the preface arrives.
func (e *Engine) h2Control(c *conn, d int, s *tcpdecode.Segment, start bool) (ctl, goaway bool) {
	p := s.Payload
	if !c.h2Sync[d] {
		switch {
		case !start:
			return false, false
		case d == 0:
			// reqTracker has seen this segment: it begins with the
			// preface if the connection is HTTP/2.
			if !c.req.h2 || !bytes.HasPrefix(p, []byte(http2.ClientPreface)) {
				return false, false
			}
			c.h2At[0] = s.Seq + uint32(len(http2.ClientPreface))
		case c.req.h2 || c.bytes[0] == 0:
			c.h2At[1] = s.Seq
		default:
			return false, false
		}
		c.h2Sync[d] = true
	} else if d == 1 && !c.req.h2 && c.bytes[0] > 0 {
		// The client spoke first, and not HTTP/2.
		c.h2Sync[1] = false
		return false, false
	}
	n := int64(s.PayloadLen)
	off := int64(int32(c.h2At[d] - s.Seq))
	switch {
	case off < 0:
		// Octets before this segment are missing from the capture.
		c.h2Sync[d] = false
		return false, false
	case off >= n:
		// Inside a frame, or an old retransmission.
		return false, false
	}
	ctl = off == 0 // else it begins with the end of a frame
	for off < n {
		if off+9 > int64(len(p)) {
			c.h2Sync[d] = false
			return false, false
		}
		fh, err := e.reqs.frameHeader(p[off:])
		if err != nil {
			c.h2Sync[d] = false
			return false, false
		}
		ctl = ctl && connControl(fh)
		goaway = goaway || fh.Type == http2.FrameGoAway
		off += 9 + int64(fh.Length)
	}
	c.h2At[d] = s.Seq + uint32(off)
	// A frame that goes on in the next segment is not known whole.
	ctl = ctl && off == n && c.req.h2
	return ctl, ctl && goaway
}
