package tcptw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net/http"
	"strings"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gotcpdump/gotcpdump/goparser/tree"
)

// reqTracker counts the requests a client sends on one connection:
// HTTP/1.x request lines and HTTP/2 HEADERS frames that open a stream.
// It looks at segments as they come, without reassembly: a request whose
// first line or first HEADERS frame is split across segments still counts,
// but its label may stay unknown.
type reqTracker struct {
	h2         bool
	skip       int // octets left of an HTTP/2 frame begun in an earlier segment
	lastStream uint32
	count      int
	label      string // first request: "GET /healthz" or the gRPC method
	ua         string
	connClose  bool // an HTTP/1.x request asked for Connection: close
	http10     bool // ... by being HTTP/1.0 without keep-alive
	tls        bool // the client's first segment began a TLS handshake: its requests cannot be seen
	// alertLast: over TLS, the client's last segment ended with an
	// alert record (tlsAlert), as its close_notify does, and the server
	// had sent none (srvAlert): the client began the close.
	alertLast bool
	srvAlert  bool
	// turns: over TLS, the client's turns to send, each after the
	// server sent something (srvSpoke), alerts left out: 2 or 3 for a
	// handshake and one request (TLS 1.3 sends the request with the
	// client's Finished), one more for each further request.
	turns    uint8
	srvSpoke bool
	// offersH2: the ClientHello offers HTTP/2 (ALPN "h2", tlsOffersH2),
	// whose SETTINGS acknowledgement takes a turn of its own.
	offersH2 bool
	// requested: over TLS, the client sent application data, as a
	// request is (tlsClientData); finished: it sent what looks like
	// TLS 1.3's Finished, which is not.
	requested, finished bool
	grpc                bool
	cache               *reqCache // the engine's; nil parses every request
}

// grpcLabel begins the label of a gRPC call; the report tells a pair's
// gRPC calls by it (grpcCalls).
const grpcLabel = "gRPC "

// reqInfo is what the tracker takes from an HTTP/1.x request.
type reqInfo struct {
	ok    bool // http.ReadRequest accepted the segment
	close bool
	// http10: close because the request is HTTP/1.0 without keep-alive
	// (ApacheBench's default), with no "Connection: close" to be seen.
	http10    bool
	label, ua string
}

// reqCache remembers what http.ReadRequest made of recent segments: the
// connections of a storm send the same request, byte for byte, and
// parsing it is most of the engine's work per connection. The whole
// segment is the key, so a hit gives exactly what parsing would.
type reqCache struct {
	m  map[string]reqInfo
	rd bytes.Reader
	br *bufio.Reader
	fh bytes.Reader // frameHeader's
}

const (
	reqCacheEntries = 256
	reqCacheMaxLen  = 2048 // longer segments (bodies) are parsed every time
)

func (c *reqCache) parse(p []byte) reqInfo {
	if c == nil {
		return readRequest(bufio.NewReader(bytes.NewReader(p)))
	}
	if info, ok := c.m[string(p)]; ok {
		return info
	}
	if c.br == nil {
		c.m = make(map[string]reqInfo)
		c.br = bufio.NewReader(&c.rd)
	}
	c.rd.Reset(p)
	c.br.Reset(&c.rd)
	info := readRequest(c.br)
	if len(p) <= reqCacheMaxLen {
		if len(c.m) >= reqCacheEntries {
			clear(c.m)
		}
		c.m[string(p)] = info
	}
	return info
}

// frameHeader reads the HTTP/2 frame header that p begins with (9
// octets at least) with x/net/http2. The engine's reader is reused: one
// allocated per frame would be most of the cost of a segment.
func (c *reqCache) frameHeader(p []byte) (http2.FrameHeader, error) {
	if c == nil {
		return http2.ReadFrameHeader(bytes.NewReader(p[:9]))
	}
	c.fh.Reset(p[:9])
	return http2.ReadFrameHeader(&c.fh)
}

func readRequest(br *bufio.Reader) reqInfo {
	req, err := http.ReadRequest(br)
	if err != nil {
		return reqInfo{}
	}
	http10 := req.Close && req.ProtoAtLeast(1, 0) && !req.ProtoAtLeast(1, 1) && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close")
	return reqInfo{ok: true, close: req.Close, http10: http10, label: req.Method + " " + req.RequestURI, ua: req.UserAgent()}
}

// tlsHandshake reports whether p begins with a TLS handshake record, as
// the ClientHello that opens a TLS connection does: SSL 3.0 to TLS 1.3
// (whose ClientHello says TLS 1.0 or 1.2 in its record).
func tlsHandshake(p []byte) bool {
	if len(p) < 3 || layers.TLSType(p[0]) != layers.TLSHandshake {
		return false
	}
	v := layers.TLSVersion(binary.BigEndian.Uint16(p[1:3]))
	return v >= 0x0300 && v <= 0x0304
}

// tlsOffersH2 reports whether the ClientHello that p begins with offers
// HTTP/2 by ALPN, as far as p holds it: a ClientHello with a large key
// share (ML-KEM) may go on in the next segment, and ALPN usually comes
// before the key share.
func tlsOffersH2(p []byte) bool {
	s := cryptobyte.String(p)
	var msgType uint8
	var sessionID, suites, compression cryptobyte.String
	if !s.Skip(5) || !s.ReadUint8(&msgType) || msgType != uint8(layers.TLSHandshakeClientHello) ||
		!s.Skip(3+2+32) || !s.ReadUint8LengthPrefixed(&sessionID) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&compression) || !s.Skip(2) {
		return false
	}
	for !s.Empty() {
		var ext uint16
		var body cryptobyte.String
		if !s.ReadUint16(&ext) || !s.ReadUint16LengthPrefixed(&body) {
			return false // cut by the segment's end
		}
		if ext != uint16(layers.TLSExtALPN) {
			continue
		}
		var names cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&names) {
			return false
		}
		for !names.Empty() {
			var name cryptobyte.String
			if !names.ReadUint8LengthPrefixed(&name) {
				return false
			}
			if string(name) == "h2" {
				return true
			}
		}
		return false
	}
	return false
}

// tlsRetriedHello reports whether p holds a ClientHello, after a
// ChangeCipherSpec record or not, as a client's answer to a
// HelloRetryRequest does (TLS 1.3 sends the record for middleboxes).
func tlsRetriedHello(p []byte) bool {
	if len(p) >= 6 && layers.TLSType(p[0]) == layers.TLSChangeCipherSpec && p[1] == 3 {
		p = p[min(len(p), 5+int(binary.BigEndian.Uint16(p[3:5]))):]
	}
	return tlsHandshake(p) && len(p) > 5 && p[5] == byte(layers.TLSHandshakeClientHello)
}

// tlsAlert reports whether p ends with a TLS alert record, as a
// close_notify does, read from its first record on (last), and whether
// it holds nothing else (only): an alert up to TLS 1.2; in TLS 1.3,
// whose alerts are encrypted as application data, a record of 19
// octets, those of an alert (2), its inner content type (1) and a
// 16-octet AEAD tag, which an HTTP request, or a response's headers,
// do not fit in (a body of 2 octets sent on its own does: the engine
// takes a side's alert for data when the side sends more after it).
func tlsAlert(p []byte) (last, only bool) {
	only = true
	for len(p) >= 5 && p[0] >= byte(layers.TLSChangeCipherSpec) && p[0] <= byte(layers.TLSApplicationData) && p[1] == 3 {
		n := 5 + int(binary.BigEndian.Uint16(p[3:5]))
		if n > len(p) {
			return false, false
		}
		alert := layers.TLSType(p[0]) == layers.TLSAlert || (layers.TLSType(p[0]) == layers.TLSApplicationData && n == 5+19)
		if n == len(p) {
			return alert, only && alert
		}
		only = only && alert
		p = p[n:]
	}
	return false, false
}

// tlsClientData sets requested when p, a client's segment after its
// ClientHello, carries application data: a record of it other than an
// alert (tlsAlert's 19 octets) and other than TLS 1.3's Finished, its
// first, of 53 or 69 octets (SHA-256 or SHA-384 suites) behind a
// ChangeCipherSpec record, as clients send it for middleboxes. TLS 1.2
// sends its Finished as a handshake record. Octets that are not records
// (one that began in an earlier segment) are taken for data.
func (r *reqTracker) tlsClientData(p []byte) {
	ccs := false
	for len(p) > 0 {
		if len(p) < 5 || p[0] < byte(layers.TLSChangeCipherSpec) || p[0] > byte(layers.TLSApplicationData) || p[1] != 3 {
			r.requested = true
			return
		}
		n := int(binary.BigEndian.Uint16(p[3:5]))
		switch layers.TLSType(p[0]) {
		case layers.TLSChangeCipherSpec:
			ccs = true
		case layers.TLSApplicationData:
			switch {
			case ccs && !r.finished && (n == 53 || n == 69):
				r.finished = true
			case n == 19:
			default:
				r.requested = true
				return
			}
		}
		p = p[min(5+n, len(p)):]
	}
}

var methods = []string{"GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

// clientPayload reads a segment of the client's. alert: over TLS, p ends
// with an alert record (tlsAlert); the engine reads it for both sides.
func (r *reqTracker) clientPayload(p []byte, alert bool) {
	if len(p) == 0 {
		return
	}
	if r.tls {
		r.alertLast = !r.srvAlert && alert
		// A second ClientHello, after the server's HelloRetryRequest,
		// is the handshake's first turn again.
		if r.srvSpoke && !alert && !tlsRetriedHello(p) && r.turns < 255 {
			r.turns++
		}
		r.srvSpoke = false
		if !r.requested {
			r.tlsClientData(p)
		}
		return
	}
	if !r.h2 && r.count == 0 && tlsHandshake(p) {
		r.tls, r.turns, r.offersH2 = true, 1, tlsOffersH2(p)
		return
	}
	if !r.h2 && r.count == 0 && bytes.HasPrefix(p, []byte(http2.ClientPreface)) {
		r.h2 = true
		p = p[len(http2.ClientPreface):]
	}
	if r.h2 {
		r.h2Frames(p)
		return
	}
	for _, m := range methods {
		if bytes.HasPrefix(p, []byte(m)) {
			r.http1(p)
			return
		}
	}
}

func (r *reqTracker) http1(p []byte) {
	line, _, _ := bytes.Cut(p, []byte("\r\n"))
	if !bytes.Contains(line, []byte(" HTTP/1.")) {
		return
	}
	r.count++
	if info := r.cache.parse(p); info.ok {
		if info.close {
			r.connClose = true
			r.http10 = info.http10
		}
		if r.count == 1 {
			r.label = tree.ValidUTF8(info.label)
			r.ua = tree.ValidUTF8(info.ua)
		}
		return
	}
	if r.count == 1 { // headers continue in a later segment
		f := strings.Fields(string(line))
		if len(f) >= 2 {
			r.label = tree.ValidUTF8(f[0] + " " + f[1])
		}
	}
}

func (r *reqTracker) h2Frames(p []byte) {
	if r.skip >= len(p) {
		r.skip -= len(p)
		return
	}
	p = p[r.skip:]
	r.skip = 0
	for len(p) >= 9 {
		fh, err := r.cache.frameHeader(p)
		if err != nil {
			return
		}
		end := 9 + int(fh.Length)
		if fh.Type == http2.FrameHeaders && fh.StreamID > r.lastStream {
			r.lastStream = fh.StreamID
			r.count++
			if r.count == 1 && end <= len(p) && fh.Flags.Has(http2.FlagHeadersEndHeaders) {
				r.firstHeaders(fh, p[9:end])
			}
		}
		if end > len(p) {
			r.skip = end - len(p)
			return
		}
		p = p[end:]
	}
}

// firstHeaders decodes the first request's header block. It is the first
// block of the connection, so a fresh HPACK decoder reads it exactly.
func (r *reqTracker) firstHeaders(fh http2.FrameHeader, payload []byte) {
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(payload) < 1 || int(payload[0]) >= len(payload) {
			return
		}
		payload = payload[1 : len(payload)-int(payload[0])]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(payload) < 5 {
			return
		}
		payload = payload[5:]
	}
	var method, path string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case "user-agent":
			r.ua = tree.ValidUTF8(f.Value)
		case "content-type":
			r.grpc = strings.HasPrefix(f.Value, "application/grpc")
		}
	})
	dec.SetMaxStringLength(16 << 10)
	if _, err := dec.Write(payload); err != nil {
		return
	}
	if r.grpc {
		r.label = tree.ValidUTF8(grpcLabel + path)
	} else {
		r.label = tree.ValidUTF8(strings.TrimSpace(method + " " + path))
	}
}

// responseSaysClose reports whether a server segment begins an HTTP/1.x
// response whose header (as far as the segment holds it) has
// "Connection: close": the server will close after it.
func responseSaysClose(p []byte) bool {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) {
		return false
	}
	if i := bytes.Index(p, []byte("\r\n\r\n")); i >= 0 {
		p = p[:i]
	}
	for len(p) > 0 {
		var line []byte
		line, p, _ = bytes.Cut(p, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(name), []byte("Connection")) {
			continue
		}
		for _, tok := range bytes.Split(value, []byte(",")) {
			if bytes.EqualFold(bytes.TrimSpace(tok), []byte("close")) {
				return true
			}
		}
	}
	return false
}
