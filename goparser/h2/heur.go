package h2

import (
	"bytes"

	"golang.org/x/net/http2"
)

var clientPreface = []byte(http2.ClientPreface)

// definedFlags lists the flag bits RFC 9113 defines for each frame type.
var definedFlags = [...]http2.Flags{
	http2.FrameData:         http2.FlagDataEndStream | http2.FlagDataPadded,
	http2.FrameHeaders:      http2.FlagHeadersEndStream | http2.FlagHeadersEndHeaders | http2.FlagHeadersPadded | http2.FlagHeadersPriority,
	http2.FramePriority:     0,
	http2.FrameRSTStream:    0,
	http2.FrameSettings:     http2.FlagSettingsAck,
	http2.FramePushPromise:  http2.FlagPushPromiseEndHeaders | http2.FlagPushPromisePadded,
	http2.FramePing:         http2.FlagPingAck,
	http2.FrameGoAway:       0,
	http2.FrameWindowUpdate: 0,
	http2.FrameContinuation: http2.FlagContinuationEndHeaders,
}

func knownType(t http2.FrameType) bool { return int(t) < len(definedFlags) }

// plausibleHeader reports whether fh could start a frame that a conforming
// peer sends. strict also rejects undefined flag bits and the reserved bit,
// for deciding whether unknown traffic is HTTP/2 at all.
func plausibleHeader(fh http2.FrameHeader, reservedBit bool, strict bool, maxLen uint32) bool {
	if fh.Length > maxLen {
		return false
	}
	if !knownType(fh.Type) {
		return false // extension frames are legal, but cannot show alignment
	}
	if strict && (reservedBit || fh.Flags&^definedFlags[fh.Type] != 0) {
		return false
	}
	switch fh.Type {
	case http2.FrameSettings:
		return fh.StreamID == 0 && fh.Length%6 == 0 && (!fh.Flags.Has(http2.FlagSettingsAck) || fh.Length == 0)
	case http2.FramePing:
		return fh.StreamID == 0 && fh.Length == 8
	case http2.FrameGoAway:
		return fh.StreamID == 0 && fh.Length >= 8
	case http2.FrameWindowUpdate:
		return fh.Length == 4
	case http2.FrameRSTStream:
		return fh.StreamID != 0 && fh.Length == 4
	case http2.FramePriority:
		return fh.StreamID != 0 && fh.Length == 5
	default: // DATA, HEADERS, PUSH_PROMISE, CONTINUATION
		return fh.StreamID != 0
	}
}

// headerReader decodes frame headers with x/net/http2, which reads them
// from an io.Reader: one reused reader, where a new one for every frame
// header (and every octet that resynchronising tries) would allocate.
type headerReader struct{ r bytes.Reader }

// read decodes the 9-octet frame header at b[0:9]. It also returns the
// reserved bit, which FrameHeader drops.
func (hr *headerReader) read(b []byte) (http2.FrameHeader, bool, bool) {
	if len(b) < frameHeaderLen {
		return http2.FrameHeader{}, false, false
	}
	hr.r.Reset(b[:frameHeaderLen])
	fh, err := http2.ReadFrameHeader(&hr.r)
	if err != nil {
		return http2.FrameHeader{}, false, false
	}
	return fh, b[5]&0x80 != 0, true
}

// frameRun checks that b starts with a run of plausible frame headers,
// each complete frame chaining exactly onto the next. Strictly (to decide
// that unknown traffic is HTTP/2) it wants two complete frames, or one
// that is not DATA or CONTINUATION and ends the payload or is followed by
// a plausible header; short binary records full of zeros otherwise read
// as empty DATA frames. Leniently (to align a direction of a connection
// already known to be HTTP/2) one plausible header is enough.
func frameRun(hr *headerReader, b []byte, strict bool, maxLen uint32) bool {
	complete := 0
	telling := false // a frame other than DATA and CONTINUATION
	for off := 0; off < len(b); {
		fh, r, ok := hr.read(b[off:])
		if !ok { // fewer than 9 octets left: the next header continues later
			return complete >= 2 || (complete > 0 && !strict)
		}
		if !plausibleHeader(fh, r, strict, maxLen) {
			return false
		}
		if strict && off == 0 && fh.Type == http2.FrameContinuation {
			return false // a continuation needs the HEADERS before it
		}
		if fh.Type != http2.FrameData && fh.Type != http2.FrameContinuation {
			telling = true
		}
		end := off + frameHeaderLen + int(fh.Length)
		if end > len(b) {
			// A frame that continues in later segments.
			if !strict {
				return true
			}
			return complete >= 2 || (complete == 1 && telling)
		}
		complete++
		off = end
	}
	if !strict {
		return complete > 0
	}
	return complete >= 2 || telling
}

// strictMaxLen bounds frame lengths in the heuristic. Peers may raise
// SETTINGS_MAX_FRAME_SIZE, but frames over 1 MiB are rare and random bytes
// mostly read as huge lengths.
const strictMaxLen = 1 << 20

// LooksLikeHTTP2 is the heuristic for unclaimed TCP payloads: the client
// connection preface, or a run of valid frame headers. It does not claim
// HTTP/1.x, TLS, SSH or random bytes, whose first octets read as frame
// lengths of megabytes or as invalid type, flag and stream combinations.
func LooksLikeHTTP2(b []byte) bool {
	if len(b) >= len(clientPreface) {
		if bytes.HasPrefix(b, clientPreface) {
			return true
		}
	} else if len(b) >= 16 && bytes.HasPrefix(clientPreface, b) {
		return true
	}
	var hr headerReader
	return frameRun(&hr, b, true, strictMaxLen)
}
