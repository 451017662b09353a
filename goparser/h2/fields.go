package h2

import (
	"golang.org/x/net/http2"

	"github.com/gotcpdump/gotcpdump/goparser/schema"
)

// Proto is the goh2 protocol. Field names follow Wireshark's built-in
// http2 dissector wherever the meaning is the same, so that a filter
// moves between the two by changing its prefix.
var Proto = schema.NewProtocol("goh2", "HTTP/2 (Go x/net/http2)")

func frameTypeNames() map[uint64]string {
	m := make(map[uint64]string)
	for t := http2.FrameData; t <= http2.FrameContinuation; t++ {
		m[uint64(t)] = t.String()
	}
	return m
}

func errCodeNames() map[uint64]string {
	m := make(map[uint64]string)
	for c := http2.ErrCodeNo; c <= http2.ErrCodeHTTP11Required; c++ {
		m[uint64(c)] = c.String()
	}
	return m
}

func settingNames() map[uint64]string {
	m := make(map[uint64]string)
	for _, s := range []http2.SettingID{
		http2.SettingHeaderTableSize, http2.SettingEnablePush, http2.SettingMaxConcurrentStreams,
		http2.SettingInitialWindowSize, http2.SettingMaxFrameSize, http2.SettingMaxHeaderListSize,
		http2.SettingEnableConnectProtocol,
	} {
		m[uint64(s)] = s.String()
	}
	return m
}

func u32(abbrev, name string, mask uint64, desc string) schema.Field {
	return schema.Field{Abbrev: abbrev, Name: name, Type: schema.Uint32, Base: schema.BaseDec, Mask: mask, Desc: desc}
}

func str(abbrev, name string) schema.Field {
	return schema.Field{Abbrev: abbrev, Name: name, Type: schema.String}
}

func bytesField(abbrev, name string) schema.Field {
	return schema.Field{Abbrev: abbrev, Name: name, Type: schema.Bytes}
}

func flag8(abbrev, name string, mask uint64) schema.Field {
	return schema.Field{Abbrev: abbrev, Name: name, Type: schema.Bool, Bits: 8, Mask: mask}
}

var (
	fMagic    = Proto.Field(str("goh2.magic", "Magic"))
	fStream   = Proto.Field(schema.Field{Abbrev: "goh2.stream", Name: "Stream", Type: schema.None})
	fLength   = Proto.Field(schema.Field{Abbrev: "goh2.length", Name: "Length", Type: schema.Uint24, Base: schema.BaseDec, Desc: "Length of the frame payload, the 9-octet frame header excluded"})
	fType     = Proto.Field(schema.Field{Abbrev: "goh2.type", Name: "Type", Type: schema.Uint8, Base: schema.BaseDec, Strings: frameTypeNames()})
	fFlags    = Proto.Field(schema.Field{Abbrev: "goh2.flags", Name: "Flags", Type: schema.Uint8, Base: schema.BaseHex})
	fEndStrm  = Proto.Field(flag8("goh2.flags.end_stream", "End Stream", uint64(http2.FlagDataEndStream)))
	fEndHdrs  = Proto.Field(flag8("goh2.flags.eh", "End Headers", uint64(http2.FlagHeadersEndHeaders)))
	fPadded   = Proto.Field(flag8("goh2.flags.padded", "Padded", uint64(http2.FlagDataPadded)))
	fPrioFlag = Proto.Field(flag8("goh2.flags.priority", "Priority", uint64(http2.FlagHeadersPriority)))
	fAckSet   = Proto.Field(flag8("goh2.flags.ack.settings", "ACK", uint64(http2.FlagSettingsAck)))
	fAckPing  = Proto.Field(flag8("goh2.flags.ack.ping", "ACK", uint64(http2.FlagPingAck)))
	fUnused   = Proto.Field(schema.Field{Abbrev: "goh2.flags.unused", Name: "Unused", Type: schema.Uint8, Base: schema.BaseHex, Desc: "Flag bits not defined for this frame type (ignored by receivers)"})
	fReserved = Proto.Field(schema.Field{Abbrev: "goh2.r", Name: "Reserved", Type: schema.Uint32, Base: schema.BaseHex, Mask: 0x80000000})
	fStreamID = Proto.Field(u32("goh2.streamid", "Stream Identifier", 0x7fffffff, ""))

	fPadLen     = Proto.Field(schema.Field{Abbrev: "goh2.padding", Name: "Pad Length", Type: schema.Uint8, Base: schema.BaseDec})
	fExclusive  = Proto.Field(schema.Field{Abbrev: "goh2.exclusive", Name: "Exclusive", Type: schema.Bool, Bits: 32, Mask: 0x80000000})
	fStreamDep  = Proto.Field(u32("goh2.stream_dependency", "Stream Dependency", 0x7fffffff, ""))
	fWeight     = Proto.Field(schema.Field{Abbrev: "goh2.headers.weight", Name: "Weight", Type: schema.Uint8, Base: schema.BaseDec})
	fWeightReal = Proto.Field(schema.Field{Abbrev: "goh2.headers.weight_real", Name: "Weight real", Type: schema.Uint16, Base: schema.BaseDec, Desc: "Weight plus one"})

	fData        = Proto.Field(bytesField("goh2.data.data", "Data"))
	fDataPadding = Proto.Field(bytesField("goh2.data.padding", "Padding"))

	fHeaderBlock   = Proto.Field(bytesField("goh2.headers", "Header Block Fragment"))
	fHdrPadding    = Proto.Field(bytesField("goh2.headers.padding", "Padding"))
	fHeader        = Proto.Field(schema.Field{Abbrev: "goh2.header", Name: "Header", Type: schema.None})
	fHeaderName    = Proto.Field(str("goh2.header.name", "Name"))
	fHeaderValue   = Proto.Field(str("goh2.header.value", "Value"))
	fHeaderCount   = Proto.Field(u32("goh2.header.count", "Header Count", 0, "Header fields in the decoded header block"))
	fHeaderListSz  = Proto.Field(u32("goh2.header.list_size", "Header List Size", 0, "Sum of name, value and 32 octets per field (RFC 9113 §6.5.2)"))
	fUnknownIndex  = Proto.Field(u32("goh2.header.unknown_index", "Unknown dynamic table index", 0, "HPACK dynamic-table index (at capture start) of an entry that was never seen"))
	fBlockFrames   = Proto.Field(u32("goh2.header.block_frames", "Frames in header block", 0, "HEADERS or PUSH_PROMISE plus CONTINUATION frames"))
	fMethod        = Proto.Field(str("goh2.method", ":method"))
	fPath          = Proto.Field(str("goh2.path", ":path"))
	fScheme        = Proto.Field(str("goh2.scheme", ":scheme"))
	fAuthority     = Proto.Field(str("goh2.authority", ":authority"))
	fStatus        = Proto.Field(schema.Field{Abbrev: "goh2.status", Name: ":status", Type: schema.Uint16, Base: schema.BaseDec})
	fProtocolPH    = Proto.Field(str("goh2.protocol", ":protocol"))
	fContentType   = Proto.Field(str("goh2.content_type", "content-type"))
	fUserAgent     = Proto.Field(str("goh2.user_agent", "user-agent"))
	fTrailers      = Proto.Field(schema.Field{Abbrev: "goh2.trailers", Name: "Trailers", Type: schema.Bool, Desc: "Header block after the stream's first one"})
	fRstError      = Proto.Field(schema.Field{Abbrev: "goh2.rst_stream.error", Name: "Error", Type: schema.Uint32, Base: schema.BaseDec, Strings: errCodeNames()})
	fSettings      = Proto.Field(schema.Field{Abbrev: "goh2.settings", Name: "Settings", Type: schema.None})
	fSettingsID    = Proto.Field(schema.Field{Abbrev: "goh2.settings.id", Name: "Settings Identifier", Type: schema.Uint16, Base: schema.BaseDec, Strings: settingNames()})
	fSetTableSize  = Proto.Field(u32("goh2.settings.header_table_size", "Header table size", 0, ""))
	fSetPush       = Proto.Field(u32("goh2.settings.enable_push", "Enable PUSH", 0, ""))
	fSetMaxStreams = Proto.Field(u32("goh2.settings.max_concurrent_streams", "Max concurrent streams", 0, ""))
	fSetInitWindow = Proto.Field(u32("goh2.settings.initial_window_size", "Initial Window Size", 0, ""))
	fSetMaxFrame   = Proto.Field(u32("goh2.settings.max_frame_size", "Max frame size", 0, ""))
	fSetMaxHdrList = Proto.Field(u32("goh2.settings.max_header_list_size", "Max header list size", 0, ""))
	fSetConnect    = Proto.Field(u32("goh2.settings.extended_connect", "Extended CONNECT", 0, ""))
	fSetUnknown    = Proto.Field(u32("goh2.settings.unknown", "Unknown Settings", 0, ""))

	fPushReserved = Proto.Field(schema.Field{Abbrev: "goh2.push_promise.r", Name: "Reserved", Type: schema.Uint32, Base: schema.BaseHex, Mask: 0x80000000})
	fPromisedID   = Proto.Field(u32("goh2.push_promise.promised_stream_id", "Promised-Stream-ID", 0x7fffffff, ""))
	fPushHeader   = Proto.Field(bytesField("goh2.push_promise.header", "Header Block Fragment"))
	fPushPadding  = Proto.Field(bytesField("goh2.push_promise.padding", "Padding"))

	fPing = Proto.Field(bytesField("goh2.ping", "Ping"))
	fPong = Proto.Field(bytesField("goh2.pong", "Pong"))

	fGoawayReserved = Proto.Field(schema.Field{Abbrev: "goh2.goaway.r", Name: "Reserved", Type: schema.Uint32, Base: schema.BaseHex, Mask: 0x80000000})
	fGoawayLast     = Proto.Field(u32("goh2.goaway.last_stream_id", "Last-Stream-ID", 0x7fffffff, ""))
	fGoawayError    = Proto.Field(schema.Field{Abbrev: "goh2.goaway.error", Name: "Error", Type: schema.Uint32, Base: schema.BaseDec, Strings: errCodeNames()})
	fGoawayDebug    = Proto.Field(bytesField("goh2.goaway.addata", "Additional Debug Data"))

	fWUReserved = Proto.Field(schema.Field{Abbrev: "goh2.window_update.r", Name: "Reserved", Type: schema.Uint32, Base: schema.BaseHex, Mask: 0x80000000})
	fWUIncr     = Proto.Field(u32("goh2.window_update.window_size_increment", "Window Size Increment", 0x7fffffff, ""))

	fContHeader = Proto.Field(bytesField("goh2.continuation.header", "Header Block Fragment"))
	fUnknown    = Proto.Field(bytesField("goh2.unknown", "Unknown"))

	fConnWindow    = Proto.Field(schema.Field{Abbrev: "goh2.flow.conn_window", Name: "Connection window", Type: schema.Int32, Base: schema.BaseDec, Desc: "Connection-level send window of the flow-controlled sender after this frame"})
	fStreamWindow  = Proto.Field(schema.Field{Abbrev: "goh2.flow.stream_window", Name: "Stream window", Type: schema.Int32, Base: schema.BaseDec, Desc: "Stream-level send window of the flow-controlled sender after this frame"})
	fSettingsAcked = Proto.Field(str("goh2.settings.acked", "Acknowledged settings"))
	fStreamsOpen   = Proto.Field(u32("goh2.flow.open_streams", "Windows adjusted on open streams", 0, "Open streams whose window moved by a newly acknowledged SETTINGS_INITIAL_WINDOW_SIZE"))
	fNotSynced     = Proto.Field(bytesField("goh2.unsynced", "Bytes outside any captured frame"))

	xProtocol   = Proto.Expert(schema.Expert{Abbrev: "goh2.protocol_error", Text: "HTTP/2 protocol error", Group: schema.GroupProtocol, Severity: schema.Error})
	xFrameSize  = Proto.Expert(schema.Expert{Abbrev: "goh2.frame_size_error", Text: "HTTP/2 frame size error", Group: schema.GroupMalformed, Severity: schema.Error})
	xHPACK      = Proto.Expert(schema.Expert{Abbrev: "goh2.compression_error", Text: "HPACK decoding error", Group: schema.GroupMalformed, Severity: schema.Error})
	xUnknownIdx = Proto.Expert(schema.Expert{Abbrev: "goh2.hpack.unknown_index", Text: "Header fields refer to dynamic table entries that were never captured (the capture began mid-connection, or lost frames that added them)", Group: schema.GroupUndecoded, Severity: schema.Note})
	xHeaderName = Proto.Expert(schema.Expert{Abbrev: "goh2.header.invalid", Text: "Malformed header field", Group: schema.GroupProtocol, Severity: schema.Error})
	xBlocked    = Proto.Expert(schema.Expert{Abbrev: "goh2.flow.blocked", Text: "Sender's flow-control window is exhausted", Group: schema.GroupSequence, Severity: schema.Warn})
	xFlowError  = Proto.Expert(schema.Expert{Abbrev: "goh2.flow.error", Text: "Flow-control violation", Group: schema.GroupProtocol, Severity: schema.Error})
	xRst        = Proto.Expert(schema.Expert{Abbrev: "goh2.rst_stream.error_code", Text: "Stream reset", Group: schema.GroupResponse, Severity: schema.Warn})
	xGoaway     = Proto.Expert(schema.Expert{Abbrev: "goh2.goaway.error_code", Text: "Connection closing with an error", Group: schema.GroupResponse, Severity: schema.Warn})
	xGoawayOK   = Proto.Expert(schema.Expert{Abbrev: "goh2.goaway.graceful", Text: "Graceful connection shutdown", Group: schema.GroupSequence, Severity: schema.Chat})
	xRstOK      = Proto.Expert(schema.Expert{Abbrev: "goh2.rst_stream.no_error", Text: "Stream closed with NO_ERROR", Group: schema.GroupSequence, Severity: schema.Chat})
	xUnsynced   = Proto.Expert(schema.Expert{Abbrev: "goh2.unsynced", Text: "Bytes before the first complete frame", Group: schema.GroupUndecoded, Severity: schema.Note})
	xTableLost  = Proto.Expert(schema.Expert{Abbrev: "goh2.hpack.table_lost", Text: "HPACK decoding failed after frames of this direction were lost: its table is no longer the peer's", Group: schema.GroupSequence, Severity: schema.Warn})
	xOutOfOrder = Proto.Expert(schema.Expert{Abbrev: "goh2.out_of_order", Text: "Octets from before the ones expected next (a TCP segment out of order or retransmitted): not decoded", Group: schema.GroupSequence, Severity: schema.Note})
	xLost       = Proto.Expert(schema.Expert{Abbrev: "goh2.framing_lost", Text: "HTTP/2 framing lost: bytes where a frame header was due are not one (a TCP segment missing from the capture?)", Group: schema.GroupSequence, Severity: schema.Warn})
	// Raised by the Lua side when a call into Go reports an error, and
	// by the library when a decoded packet's result cannot be encoded.
	XInternal = Proto.Expert(schema.Expert{Abbrev: "goh2.internal_error", Text: "The Go decoder failed on this packet", Group: schema.GroupMalformed, Severity: schema.Error})
	xLimit    = Proto.Expert(schema.Expert{Abbrev: "goh2.limit", Text: "Decoder limit reached", Group: schema.GroupProtocol, Severity: schema.Warn})
)
