package gogrpc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gotcpdump/gotcpdump/goparser/grpcmsg"
	"github.com/gotcpdump/gotcpdump/goparser/pbschema"
	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// WebBody is one HTTP/1.1 message body of a gRPC-Web call, whole:
// Wireshark's http dissector reassembles and de-chunks it before handing
// it to the media type's dissector.
type WebBody struct {
	Conn        string // the connection, the same from both ends
	Src, Dst    string // the endpoints, "address port"
	ContentType string
	Body        []byte
	Time        time.Time
}

// WebCalls follows gRPC-Web calls over HTTP/1.1 from the bodies alone.
// The request line is http's: a Lua dissector could read it only through
// field extractors, which make Wireshark build every packet's tree and
// cost far more than all the rest. So the method comes from Ports (the
// gogrpc.ports preference), as for HTTP/2 streams whose HEADERS were not
// captured. A body is a response when it holds the trailers frame or comes
// from the server of its connection, whose client is the endpoint that
// sent the first body without trailers. Clients do not pipeline gRPC-Web
// calls, so a response answers the last request of its connection. The
// zero value is ready.
type WebCalls struct {
	// Calls, when set, receives the calls that end (so that HTTP/2 and
	// HTTP/1.1 calls share one table).
	Calls *Stats
	// Ports maps a server port to the method of its calls.
	Ports map[uint16]string
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
	inflated := 0
	lim.Inflated = &inflated
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
	server := in.Src
	if request {
		server = in.Dst
	}
	c := cn.open
	if request || c == nil {
		c = &webCall{call: Call{Path: wc.Ports[endpointPort(server)]}}
		if request {
			c.progress.Start = in.Time
			cn.open = c
		}
	}
	side := 1
	if request {
		side = 0
	} else {
		cn.open = nil
	}
	c.call.Text[side] = text
	notShown := 0
	for _, m := range msgs {
		if text {
			m.Encoded, m.Off, m.N = true, 0, len(in.Body)
		}
		if m.Trailer {
			s, _ := ReadStatus(WebTrailers(m.Data), true, true)
			WriteStatus(w, m.Off, m.N, c.call, s, reg, func(w tree.Writer) {
				WriteSummary(w, m.Off, m.N, &c.progress, in.Time)
			})
			if !c.progress.Ended {
				c.progress.Ended = true
				if !c.progress.Start.IsZero() && wc.Calls != nil {
					wc.Calls.Add(c.call.Path, s.Code, in.Time.Sub(c.progress.Start))
				}
			}
			continue
		}
		c.progress.Messages[side]++
		c.progress.Bytes[side] += int64(m.Length)
		if w.E != nil && w.E.Len() >= MaxItemsPerPacket {
			notShown++
			continue
		}
		WriteMessage(w, 0, m, c.call, request, reg, lim)
	}
	if notShown > 0 {
		WriteProblem(w, 0, len(in.Body), c.call, XNotShown,
			fmt.Sprintf("%d more gRPC-Web messages of this body not shown: its items reached %d octets", notShown, MaxItemsPerPacket))
	}
}

// endpointPort reads the port of an "address port" endpoint.
func endpointPort(ep string) uint16 {
	i := strings.LastIndexByte(ep, ' ')
	n, err := strconv.ParseUint(ep[i+1:], 10, 16)
	if err != nil {
		return 0
	}
	return uint16(n)
}
