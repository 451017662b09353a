package gogrpc

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// WebBody is one HTTP/1.1 message body of a gRPC-Web call, whole:
// Wireshark's http dissector reassembles and de-chunks it before handing
// it to the media type's dissector.
type WebBody struct {
	Conn        string // the connection, the same from both ends
	Src         string // the sending endpoint
	Path        string // the request target when known (may be a URL); "" otherwise
	ContentType string
	Body        []byte
	Time        time.Time
}

// WebCalls follows gRPC-Web calls over HTTP/1.1 from the bodies alone, so
// that the result never depends on whether Wireshark built a tree (which
// decides whether http's own fields can be read). A body is a response
// when it holds the trailers frame or comes from the server of its
// connection, whose client is the endpoint that sent the first body
// without trailers. Clients do not pipeline gRPC-Web calls, so a response
// answers the last request of its connection. The zero value is ready.
type WebCalls struct {
	// Calls, when set, receives the calls that end (so that HTTP/2 and
	// HTTP/1.1 calls share one table).
	Calls *Stats
	conns map[string]*webConn
	text  []byte
}

type webConn struct {
	client string
	open   *webCall
}

type webCall struct {
	call     Call
	progress Progress
}

// maxWebConns bounds the connections followed.
const maxWebConns = 10000

// Decode writes the messages and the status in one body.
func (wc *WebCalls) Decode(w tree.Writer, in WebBody, reg *pbschema.Registry, lim Limits) {
	if wc.conns == nil {
		wc.conns = map[string]*webConn{}
	}
	_, text := IsGRPC(in.ContentType)
	body := in.Body
	if text {
		var s grpcmsg.Base64Stream
		var err error
		if wc.text, err = s.Decode(wc.text[:0], body); err != nil {
			w.Expert(XWebText, err.Error())
			return
		}
		body = wc.text
	}
	r := grpcmsg.Reassembler{Max: lim.WithDefaults().MaxMessage}
	msgs := r.Feed(body)
	hasTrailers := false
	for _, m := range msgs {
		hasTrailers = hasTrailers || m.Trailer
	}
	cn := wc.conns[in.Conn]
	if cn == nil {
		if len(wc.conns) >= maxWebConns {
			clear(wc.conns)
		}
		cn = &webConn{}
		wc.conns[in.Conn] = cn
	}
	if cn.client == "" && !hasTrailers {
		cn.client = in.Src
	}
	request := !hasTrailers && cn.client == in.Src
	c := cn.open
	if request {
		c = &webCall{call: Call{Path: targetPath(in.Path)}, progress: Progress{Start: in.Time}}
		c.call.Text[0] = text
		cn.open = c
	} else {
		if c == nil {
			c = &webCall{call: Call{Path: targetPath(in.Path)}} // the request was not captured
		}
		cn.open = nil
		c.call.Text[1] = text
	}
	side := 1
	if request {
		side = 0
	}
	// Items must not depend on the target, which the caller knows only
	// when Wireshark builds a tree: the caller shows it.
	shown := c.call
	shown.PathShown = true
	for _, m := range msgs {
		if text {
			m.Encoded, m.Off, m.N = true, 0, len(in.Body)
		}
		if m.Trailer {
			get := WebTrailers(m.Data)
			if WriteStatus(w, m.Off, m.N, shown, get, func(w tree.Writer) {
				WriteSummary(w, m.Off, m.N, &c.progress, in.Time)
			}) && !c.progress.Ended {
				c.progress.Ended = true
				code, _ := get("grpc-status")
				var n int
				fmt.Sscan(code, &n)
				if !c.progress.Start.IsZero() && wc.Calls != nil {
					wc.Calls.Add(c.call.Path, codes.Code(n), in.Time.Sub(c.progress.Start))
				}
			}
			continue
		}
		c.progress.Messages[side]++
		c.progress.Bytes[side] += int64(m.Length)
		WriteMessage(w, 0, m, shown, request, reg, lim)
	}
}

// targetPath turns a request target, which may be an absolute URL (a
// proxy request, or Wireshark's http.response_for.uri), into the path.
func targetPath(t string) string {
	if i := strings.Index(t, "://"); i >= 0 {
		rest := t[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return t
}
