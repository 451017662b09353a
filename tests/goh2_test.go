package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestTwoPassEqualsOnePass: Wireshark dissects packets again on later
// passes; goh2 must show exactly what it showed on the first.
func TestTwoPassEqualsOnePass(t *testing.T) {
	t.Parallel()
	for _, c := range h2Captures {
		t.Run(c.file, func(t *testing.T) {
			// gogrpc too, with the test services' schema: the typed
			// fields' order once came from a map.
			args := []string{"-r", pcap(c.file), "-O", "goh2,gogrpc", "-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb")}
			one := tshark(t, pluginEnv, args...)
			two := withoutFragmentLinks(tshark(t, pluginEnv, append([]string{"-2"}, args...)...))
			if !strings.Contains(one, "HTTP/2 (Go x/net/http2)") {
				t.Fatal("no goh2 tree in the output")
			}
			if one != two {
				t.Fatalf("tshark -2 differs from single pass:\n%s", firstDiff(one, two))
			}
			// Wireshark's own http dissector changes the Info column of
			// HTTP/1.1 segments on a second pass: of the gRPC-Web capture,
			// only the HTTP/2 port is compared here.
			fields := []string{"-r", pcap(c.file), "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info", "-e", "goh2.flow.conn_window", "-e", "goh2.header.value"}
			if c.file == "grpc_web.pcap" {
				fields = append(fields, "-Y", "tcp.port == 18447")
			}
			f1 := tshark(t, pluginEnv, fields...)
			f2 := tshark(t, pluginEnv, append([]string{"-2"}, fields...)...)
			if f1 != f2 {
				t.Fatalf("tshark -2 -T fields differs:\n%s", firstDiff(f1, f2))
			}
		})
	}
}

// fetchScript fetches, at the end of a tshark run, what goh2 kept of the
// first and the last frame it claimed, as a later pass would: with the
// frame's TCP payload, from which a kept result must have been decoded
// (both frames' are one segment each, taken whole).
const fetchScript = `
local first, last
local payloads = {}
local tcp_payload = Field.new("tcp.payload")
local tap = Listener.new("frame", "goh2")
function tap.packet(pinfo)
    first = first or pinfo.number
    last = pinfo.number
    local p = tcp_payload()
    payloads[pinfo.number] = p and p.range:raw() or ""
end
function tap.draw()
    local c = package.loaded["gotcpdump.common"]
    for _, f in ipairs({ first, last }) do
        local ok, msg = c.shim.run(c.OP_FETCH, payloads[f], "", c.OP_H2, f, 1)
        print("fetch " .. tostring(ok) .. " " .. tostring(msg))
    end
end
`

// TestResultsKeptForLaterPasses: goh2 keeps each frame's result when a
// later pass may come (Wireshark, tshark -2 and any first pass without a
// visible tree) and not when tshark prints the tree in its only pass, or,
// on 4.0 and 4.4, whose command line says that it makes one pass
// (cshim/tshark_args.c); a fetch for a result not kept is an error, which
// the dissector would show, and not a silent "not ours". The last frame
// shows that the shim puts the tree's visibility back after reading it.
func TestResultsKeptForLaterPasses(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "fetch.lua")
	if err := os.WriteFile(script, []byte(fetchScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const kept, notKept = "fetch true nil", "fetch nil goparser: the result of frame"
	minor := skipUnlessArgsRead(t)
	// Without the command line: tshark 4.0 prints -T fields from a
	// visible tree, 4.4 from an invisible one, which may be a first pass
	// of two.
	ignoredFields := notKept
	if minor == 4 {
		ignoredFields = kept
	}
	ignoreArgs := append([]string{"GOTCPDUMP_IGNORE_ARGS=1"}, pluginEnv...)
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{pluginEnv, []string{"-V"}, notKept},
		{pluginEnv, []string{"-T", "fields", "-e", "frame.number"}, notKept},
		{pluginEnv, []string{"-T", "json"}, notKept},
		{pluginEnv, []string{"-2", "-V"}, kept},
		{pluginEnv, []string{"-2", "-T", "fields", "-e", "frame.number"}, kept},
		{pluginEnv, []string{"-2"}, kept},
		{pluginEnv, nil, notKept},
		{pluginEnv, []string{"-q"}, notKept},
		{pluginEnv, []string{"-Y", "goh2"}, notKept},
		{ignoreArgs, nil, kept},
		{ignoreArgs, []string{"-q"}, kept},
		{ignoreArgs, []string{"-Y", "goh2"}, kept},
		{ignoreArgs, []string{"-T", "fields", "-e", "frame.number"}, ignoredFields},
	} {
		out := tshark(t, c.env, append([]string{"-X", "lua_script:" + script, "-r", pcap("h2c_go.pcap")}, c.args...)...)
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "fetch ") {
				got = append(got, line)
			}
		}
		if len(got) != 2 || !strings.HasPrefix(got[0], c.want) || !strings.HasPrefix(got[1], c.want) {
			t.Errorf("tshark %s: %q, want two lines beginning %q", strings.Join(c.args, " "), got, c.want)
		}
	}
}

// failedScript reports an internal error on every frame as the Lua
// dissectors do when Go recovered from a panic or a fetch failed.
const failedScript = `
local p = Proto("zzfailed", "common.failed test")
function p.dissector(tvb, pinfo, tree)
    local c = package.loaded["gotcpdump.common"]
    c.failed(c.protos.goh2, tvb, tree, nil, "boom in frame " .. pinfo.number)
end
register_postdissector(p)
`

// TestFailedShowsInTree: an internal error that a Lua dissector reports
// (common.failed) shows in the packet's tree, under an item of the
// protocol, and not only in the expert tap: an expert info put on the
// tree a dissector is given is on no item, and tshark -V showed nothing.
func TestFailedShowsInTree(t *testing.T) {
	t.Parallel()
	script := filepath.Join(t.TempDir(), "failed.lua")
	if err := os.WriteFile(script, []byte(failedScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tshark(t, pluginEnv, "-X", "lua_script:"+script, "-r", pcap("h2c_go.pcap"), "-c", "1", "-V")
	want := regexp.MustCompile(`(?m)^HTTP/2 \(Go x/net/http2\)\n    \[Expert Info \(Error/Malformed\): boom in frame 1\]\n        \[boom in frame 1\]`)
	if !want.MatchString(out) {
		t.Errorf("tshark -V does not show the error under a goh2 item:\n%s", out)
	}
	if got := tshark(t, pluginEnv, "-X", "lua_script:"+script, "-r", pcap("h2c_go.pcap"), "-c", "1", "-Y", "goh2.internal_error", "-T", "fields", "-e", "frame.number"); got != "1\n" {
		t.Errorf("-Y goh2.internal_error: %q, want frame 1", got)
	}
}

// TestWithoutATree: tshark -x and -q -z expert dissect with no tree, and
// the shim then adds no items; a display filter makes an invisible tree,
// where the shim adds only the items that something reads. The expert
// infos (some inside items) and the data sources (decompressed and
// reassembled messages) must be the same either way, and the expert
// infos those of a visible tree (-T fields).
func TestWithoutATree(t *testing.T) {
	t.Parallel()
	frameNumber := regexp.MustCompile(`(?m)^[0-9]+\n`)
	for _, c := range h2Captures {
		t.Run(c.file, func(t *testing.T) {
			for _, args := range [][]string{{"-q", "-z", "expert"}, {"-x"}} {
				none := tshark(t, pluginEnv, append([]string{"-r", pcap(c.file)}, args...)...)
				tree := tshark(t, pluginEnv, append([]string{"-r", pcap(c.file), "-Y", "frame"}, args...)...)
				if none != tree {
					t.Errorf("tshark %s without a tree differs from with an invisible one:\n%s", strings.Join(args, " "), firstDiff(none, tree))
				}
				if args[0] != "-q" {
					continue
				}
				// gogrpc's are filed under it (grpc_python.pcap has only a
				// call's status; curl and x/net's h2c handler in
				// h2c_upgrade.pcap give goh2 nothing to note).
				if !strings.Contains(none, "GOH2") && !strings.Contains(none, "GOGRPC") && c.file != "h2c_upgrade.pcap" {
					t.Errorf("no goh2 or gogrpc expert info without a tree:\n%s", none)
				}
				visible := frameNumber.ReplaceAllString(tshark(t, pluginEnv, "-r", pcap(c.file), "-T", "fields", "-e", "frame.number", "-z", "expert"), "")
				if none != visible {
					t.Errorf("expert infos without a tree differ from those of a visible one:\n%s", firstDiff(none, visible))
				}
			}
			// A filter on a field whose parent (goh2.header) nothing
			// reads: the frames it keeps, with only the No. column,
			// against those whose fields name the header.
			var want []string
			for _, line := range strings.Split(tshark(t, pluginEnv, "-r", pcap(c.file), "-T", "fields", "-e", "frame.number", "-e", "goh2.header.name"), "\n") {
				num, names, _ := strings.Cut(line, "\t")
				if slices.Contains(strings.Split(names, ","), ":path") {
					want = append(want, num)
				}
			}
			got := strings.Fields(tshark(t, pluginEnv, "-r", pcap(c.file), "-Y", `goh2.header.name == ":path"`, "-o", `gui.column.format:"No.","%m"`))
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("-Y goh2.header.name == \":path\" kept frames %v, the fields name it in %v", got, want)
			}
		})
	}
}

// firstDiff shows the first line where two outputs differ, a's as
// "first" and b's as "second" (the caller's message says which is which).
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return "line " + itoa(i+1) + ":\n  first:  " + la[i] + "\n  second: " + lb[i]
		}
	}
	return "lengths differ"
}

func itoa(i int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(i)) }

func fmtInt(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(digits[i%10]) + s
	}
	return s
}

// TestWhatAnAnalystSees checks the Info column, expert infos and decoded
// features on the Go h2c capture, whose traffic the generator scripted.
func TestWhatAnAnalystSees(t *testing.T) {
	t.Parallel()
	info := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2", "-T", "fields", "-e", "_ws.col.Info")
	for _, want := range []string{
		"Magic, SETTINGS, WINDOW_UPDATE",
		"HEADERS[1]: GET /hello",
		"HEADERS[3]: POST /echo",
		"RST_STREAM[17] CANCEL",
		"RST_STREAM[19] INTERNAL_ERROR",
		"GOAWAY NO_ERROR",
		"SETTINGS ACK",
		"PING ACK",
		"HEADERS[1]: 200",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("Info column never shows %q", want)
		}
	}
	// The 40 KiB request header spans HEADERS and CONTINUATION; the block
	// summary appears where it ends.
	if !regexp.MustCompile(`CONTINUATION\[\d+\]: GET /large-header`).MatchString(info) {
		t.Error("no CONTINUATION ending the /large-header block")
	}

	experts := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2", "-T", "fields", "-e", "_ws.expert.message", "-e", "_ws.expert.severity")
	for _, want := range []string{"RST_STREAM[17] CANCEL", "RST_STREAM[19] INTERNAL_ERROR", "GOAWAY NO_ERROR, last stream"} {
		if !strings.Contains(experts, want) {
			t.Errorf("no expert info %q", want)
		}
	}
	// Go peers produced this traffic: no protocol error may be reported.
	if out := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2.protocol_error || goh2.frame_size_error || goh2.compression_error || goh2.flow.error || goh2.header.invalid"); strings.TrimSpace(out) != "" {
		t.Errorf("protocol errors reported on valid traffic:\n%s", out)
	}
	// The generator set 16 KiB stream windows and uploads 128 KiB on
	// stream 21: its DATA frames fill the window, and goh2 says the sender
	// is blocked, while no DATA ever exceeds a window.
	blocked := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2.flow.blocked", "-T", "fields", "-e", "_ws.expert.message")
	if !strings.Contains(blocked, "stream 21 window exhausted") {
		t.Errorf("no blocked sender on stream 21:\n%s", blocked)
	}
	win := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2.streamid == 21 && goh2.type == 0", "-T", "fields", "-e", "goh2.flow.stream_window")
	if !regexp.MustCompile(`(?m)^0$`).MatchString(win) {
		t.Errorf("stream 21's window never reaches 0:\n%s", win)
	}
	trailers := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-Y", "goh2.trailers", "-T", "fields", "-e", "goh2.header.name")
	if !strings.Contains(trailers, "x-checksum") || !strings.Contains(trailers, "x-upload-sum") {
		t.Errorf("trailers not recognised:\n%s", trailers)
	}
}

func TestNghttp2Features(t *testing.T) {
	t.Parallel()
	out := tshark(t, pluginEnv, "-r", pcap("nghttp2_push_padding.pcap"), "-Y", "goh2", "-T", "fields",
		"-e", "goh2.push_promise.promised_stream_id", "-e", "goh2.padding", "-e", "goh2.stream_dependency", "-e", "goh2.headers.weight")
	if !strings.Contains(out, "2") {
		t.Error("no promised stream 2")
	}
	padded := tshark(t, pluginEnv, "-r", pcap("nghttp2_push_padding.pcap"), "-Y", "goh2.flags.padded == 1", "-T", "fields", "-e", "goh2.padding")
	if len(strings.Fields(strings.ReplaceAll(padded, ",", " "))) < 21 {
		t.Errorf("expected at least 21 padded frames, got:\n%s", padded)
	}
	prio := tshark(t, pluginEnv, "-r", pcap("nghttp2_push_padding.pcap"), "-Y", "goh2.type == 2")
	if strings.Count(prio, "\n") < 2 {
		t.Error("no PRIORITY frames")
	}
}

// countFrames counts the HTTP/2 frames that proto (goh2 or http2)
// decodes in file, with extra arguments such as Decode As.
func countFrames(t *testing.T, env []string, file, proto string, extra ...string) int {
	out := tshark(t, env, append([]string{"-r", file, "-Y", proto, "-T", "fields", "-e", proto + ".type"}, extra...)...)
	return len(strings.FieldsFunc(out, func(r rune) bool { return r == ',' || r == '\n' }))
}

// builtinHTTP2Frames lists the numbers of the frames that Wireshark's own
// http2 dissector decodes, with extra arguments such as Decode As.
func builtinHTTP2Frames(t *testing.T, file string, extra ...string) []string {
	return strings.Fields(tshark(t, plainEnv, append([]string{"-r", pcap(file), "-Y", "http2", "-T", "fields", "-e", "frame.number"}, extra...)...))
}

func TestMidConnectionCapture(t *testing.T) {
	t.Parallel()
	// The heuristic finds the connection without Decode As, in every
	// packet where the built-in http2 (told the port) finds HTTP/2 but
	// the first: a lone DATA frame, which alone cannot tell HTTP/2 from
	// other binary protocols, so it is left alone.
	want := builtinHTTP2Frames(t, "h2c_go_midstream.pcap", "-d", "tcp.port==18080,http2")
	got := strings.Fields(tshark(t, pluginEnv, "-r", pcap("h2c_go_midstream.pcap"), "-Y", "goh2", "-T", "fields", "-e", "frame.number"))
	if len(want) < 10 || strings.Join(got, " ") != strings.Join(want[1:], " ") {
		t.Errorf("heuristics claimed frames %v; the built-in http2 decodes %v", got, want)
	}
	first := tshark(t, plainEnv, "-r", pcap("h2c_go_midstream.pcap"), "-d", "tcp.port==18080,http2", "-Y", "frame.number == "+want[0], "-T", "fields", "-e", "http2.type")
	if strings.TrimSpace(first) != "0" {
		t.Errorf("the first HTTP/2 packet holds frame types %q, want one DATA frame", strings.TrimSpace(first))
	}
	out := tshark(t, pluginEnv, "-r", pcap("h2c_go_midstream.pcap"), "-Y", "goh2.hpack.unknown_index", "-T", "fields", "-e", "goh2.header.name", "-e", "_ws.expert.message")
	if !strings.Contains(out, "unknown (index ") || !strings.Contains(out, "never captured") {
		t.Fatalf("no unknown-index notes:\n%s", out)
	}
	// Static and literal fields still decode next to the unknown ones.
	names := tshark(t, pluginEnv, "-r", pcap("h2c_go_midstream.pcap"), "-Y", "goh2.header", "-T", "fields", "-e", "goh2.header.name")
	for _, want := range []string{":status", ":method", ":path", "content-length"} {
		if !strings.Contains(names, want) {
			t.Errorf("%s not decoded mid-connection", want)
		}
	}
	if out := tshark(t, pluginEnv, "-r", pcap("h2c_go_midstream.pcap"), "-Y", "goh2.compression_error"); strings.TrimSpace(out) != "" {
		t.Errorf("decoding stopped with HPACK errors:\n%s", out)
	}
}

func TestFieldsListed(t *testing.T) {
	t.Parallel()
	out := tshark(t, pluginEnv, "-G", "fields")
	for _, f := range []string{"goh2.streamid", "goh2.type", "goh2.flags", "goh2.length", "goh2.header.name", "goh2.header.value",
		"goh2.settings.id", "goh2.method", "goh2.path", "goh2.status", "goh2.authority", "goh2.content_type",
		"goh2.rst_stream.error", "goh2.goaway.error", "goh2.goaway.last_stream_id", "goh2.push_promise.promised_stream_id",
		"goh2.window_update.window_size_increment", "goh2.flow.conn_window", "goh2.flow.stream_window"} {
		if !strings.Contains(out, "\t"+f+"\t") {
			t.Errorf("tshark -G fields lacks %s", f)
		}
	}
	// Where a field means what the built-in's does, it has the same name.
	builtin := tshark(t, plainEnv, "-G", "fields")
	same := 0
	for _, line := range strings.Split(out, "\n") {
		cols := strings.Split(line, "\t")
		if len(cols) > 2 && strings.HasPrefix(cols[2], "goh2.") && !strings.HasPrefix(cols[2], "goh2.flow.") {
			if strings.Contains(builtin, "\thttp2."+strings.TrimPrefix(cols[2], "goh2.")+"\t") {
				same++
			}
		}
	}
	if same < 40 {
		t.Errorf("only %d goh2 fields share a name with http2 fields", same)
	}
}

// TestDetection: heuristics find h2c without Decode As; they can be
// switched off, and then the port preference and Decode As still work.
func TestDetection(t *testing.T) {
	t.Parallel()
	count := func(args ...string) int {
		out := tshark(t, pluginEnv, append([]string{"-r", pcap("h2c_go.pcap"), "-Y", "goh2"}, args...)...)
		return strings.Count(out, "\n")
	}
	all := count()
	if want := len(builtinHTTP2Frames(t, "h2c_go.pcap", "-d", "tcp.port==18080,http2")); all != want || all < 50 {
		t.Fatalf("heuristics found %d goh2 packets; the built-in http2 with Decode As finds %d", all, want)
	}
	if n := count("--disable-heuristic", "goh2_tcp"); n != 0 {
		t.Fatalf("%d packets decoded with the heuristics off", n)
	}
	if n := count("--disable-heuristic", "goh2_tcp", "-o", "goh2.ports:18080"); n != all {
		t.Fatalf("port preference: %d packets, want %d", n, all)
	}
	if n := count("--disable-heuristic", "goh2_tcp", "-d", "tcp.port==18080,goh2"); n != all {
		t.Fatalf("Decode As: %d packets, want %d", n, all)
	}
}

// TestTLSALPN: decrypted TLS with ALPN h2 goes to goh2, or to the built-in
// http2 when the preference says so.
func TestTLSALPN(t *testing.T) {
	t.Parallel()
	want := len(builtinHTTP2Frames(t, "grpc_tls_keylog.pcapng"))
	ours := tshark(t, pluginEnv, "-r", pcap("grpc_tls_keylog.pcapng"), "-Y", "goh2")
	if n := strings.Count(ours, "\n"); n != want || n < 10 {
		t.Fatalf("goh2 decoded %d packets of the TLS capture; Wireshark alone finds HTTP/2 in %d", n, want)
	}
	builtin := tshark(t, pluginEnv, "-r", pcap("grpc_tls_keylog.pcapng"), "-o", "goh2.tls_alpn:FALSE", "--disable-heuristic", "goh2_tls", "-Y", "http2 && !goh2")
	if n := strings.Count(builtin, "\n"); n != want {
		t.Fatalf("built-in http2 decoded %d packets with the preference off, want %d", n, want)
	}
}

// TestDisabledGoh2: with goh2 disabled (--disable-protocol goh2, or
// unticking it under Analyze > Enabled Protocols) decrypted TLS with ALPN
// h2 goes to the built-in http2, as without the plugin, and not to data,
// and so do the ports of goh2.ports that built-in dissectors had; enabled,
// they go to goh2.
func TestDisabledGoh2(t *testing.T) {
	t.Parallel()
	file := pcap("grpc_tls_keylog.pcapng")
	off := []string{"--disable-protocol", "goh2"}
	fields := []string{"-r", file, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "http2.streamid", "-e", "http2.type", "-e", "grpc.message_length"}
	want := tshark(t, plainEnv, fields...)
	if n := strings.Count(want, "HTTP2"); n < 10 {
		t.Fatalf("Wireshark alone finds HTTP/2 in %d packets", n)
	}
	if got := tshark(t, pluginEnv, append(fields, off...)...); got != want {
		t.Errorf("goh2 disabled, the capture is not shown as by Wireshark alone:\n%s", firstDiff(want, got))
	}
	if got := tshark(t, pluginEnv, append([]string{"-r", file, "-Y", "goh2 || data"}, off...)...); strings.TrimSpace(got) != "" {
		t.Errorf("goh2 disabled, packets with goh2 or data:\n%s", got)
	}
	on := strings.Fields(tshark(t, pluginEnv, "-r", file, "-Y", "goh2 && !http2", "-T", "fields", "-e", "frame.number"))
	if len(on) != len(builtinHTTP2Frames(t, "grpc_tls_keylog.pcapng")) {
		t.Errorf("goh2 enabled, it decodes packets %v", on)
	}

	// A port of goh2.ports that a built-in dissector had goes back to it:
	// here http's, which hands a prior-knowledge preface to http2.
	http := []string{"-r", pcap("h2c_go.pcap"), "-o", "http.tcp.port:18080", "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "http2.streamid", "-e", "http2.type"}
	ports := append([]string{"-o", "goh2.ports:18080", "--disable-heuristic", "goh2_tcp"}, http...)
	want = tshark(t, plainEnv, http...)
	if n := strings.Count(want, "HTTP2"); n < 50 {
		t.Fatalf("Wireshark alone with http on 18080 finds HTTP/2 in %d packets", n)
	}
	if got := tshark(t, pluginEnv, append(ports, off...)...); got != want {
		t.Errorf("goh2 disabled, its port is not shown as by Wireshark alone:\n%s", firstDiff(want, got))
	}
	if got := tshark(t, pluginEnv, ports...); strings.Count(got, "GOH2") != strings.Count(want, "HTTP2") {
		t.Errorf("goh2 enabled, its port goes to goh2 in %d packets, want %d", strings.Count(got, "GOH2"), strings.Count(want, "HTTP2"))
	}

	// HTTP/2 after an HTTP/1.1 Upgrade: http hands it to goh2, or to
	// http2 with goh2 disabled.
	upgrade := []string{"-r", pcap("h2c_upgrade.pcap"), "-d", "tcp.port==18099,http", "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "http2.streamid", "-e", "http2.type"}
	want = tshark(t, plainEnv, upgrade...)
	if n := strings.Count(want, "HTTP2"); n < 5 {
		t.Fatalf("Wireshark alone finds HTTP/2 after the Upgrade in %d packets", n)
	}
	if got := tshark(t, pluginEnv, append(upgrade, off...)...); got != want {
		t.Errorf("goh2 disabled, the upgraded connection is not shown as by Wireshark alone:\n%s", firstDiff(want, got))
	}
	if got := tshark(t, pluginEnv, upgrade...); strings.Count(got, "GOH2") != strings.Count(want, "HTTP2") || !strings.Contains(got, "\tHTTP\t") {
		t.Errorf("goh2 enabled, the upgraded connection goes to goh2 in %d packets, want %d:\n%s", strings.Count(got, "GOH2"), strings.Count(want, "HTTP2"), got)
	}
}

// TestLostSegmentsCapture: h2c_loss.pcap lacks five of the server's
// segments, each holding a frame boundary (testpcaps/generate.sh), so
// Wireshark's TCP hands on the next segment as if the stream went on, in
// the middle of a frame. goh2 must lose the frames the gaps carried, not
// its framing: one framing_lost warning at each gap, no frame read from
// the inside of another (no frame size or protocol errors, no unknown
// types), and decoding resumed after the last gap; and likewise with TCP
// reassembly off.
func TestLostSegmentsCapture(t *testing.T) {
	t.Parallel()
	gaps := strings.Fields(tshark(t, plainEnv, "-r", pcap("h2c_loss.pcap"),
		"-Y", "tcp.analysis.lost_segment && tcp.srcport == 18082", "-T", "fields", "-e", "frame.number"))
	if len(gaps) != 5 {
		t.Fatalf("Wireshark finds segments missing before frames %v, want 5 gaps", gaps)
	}
	lost := strings.Fields(tshark(t, pluginEnv, "-r", pcap("h2c_loss.pcap"),
		"-Y", "goh2.framing_lost", "-T", "fields", "-e", "frame.number"))
	if strings.Join(lost, " ") != strings.Join(gaps, " ") {
		t.Errorf("goh2.framing_lost in frames %v; segments are missing before frames %v", lost, gaps)
	}
	if bad := tshark(t, pluginEnv, "-r", pcap("h2c_loss.pcap"), "-Y", "goh2.frame_size_error || goh2.protocol_error || goh2.type > 9",
		"-T", "fields", "-e", "frame.number", "-e", "goh2.type", "-e", "goh2.length"); strings.TrimSpace(bad) != "" {
		t.Errorf("frames read from inside other frames:\n%s", bad)
	}
	count := func(env []string, proto string, args ...string) int {
		return countFrames(t, env, pcap("h2c_loss.pcap"), proto, args...)
	}
	ours, builtin := count(pluginEnv, "goh2"), count(plainEnv, "http2", "-d", "tcp.port==18082,http2")
	if ours < builtin {
		t.Errorf("goh2 decodes %d frames, Wireshark's http2 %d", ours, builtin)
	}
	// With TCP reassembly off, frames that span segments are cut as well:
	// the rest of each must not be read as frames either.
	off := []string{"-o", "tcp.desegment_tcp_streams:FALSE"}
	if bad := tshark(t, pluginEnv, append([]string{"-r", pcap("h2c_loss.pcap"), "-Y", "goh2.frame_size_error || goh2.protocol_error || goh2.type > 9",
		"-T", "fields", "-e", "frame.number"}, off...)...); strings.TrimSpace(bad) != "" {
		t.Errorf("reassembly off: frames read from inside other frames in packets %s", strings.Fields(bad))
	}
	if ours, builtin := count(pluginEnv, "goh2", off...), count(plainEnv, "http2", append(off, "-d", "tcp.port==18082,http2")...); ours < builtin {
		t.Errorf("reassembly off: goh2 decodes %d frames, Wireshark's http2 %d", ours, builtin)
	}
	// Later passes show what the first found.
	fields := []string{"-T", "fields", "-e", "frame.number", "-e", "goh2.type", "-e", "goh2.length", "-e", "goh2.unsynced", "-e", "_ws.expert.message"}
	one := tshark(t, pluginEnv, append([]string{"-r", pcap("h2c_loss.pcap")}, fields...)...)
	two := tshark(t, pluginEnv, append([]string{"-2", "-r", pcap("h2c_loss.pcap")}, fields...)...)
	if one != two {
		t.Error("tshark -2 shows the capture otherwise than one pass")
	}
	// The server's frames after the last gap: decoding resumed.
	after := strings.Fields(tshark(t, pluginEnv, "-r", pcap("h2c_loss.pcap"),
		"-Y", "goh2.type == 0 && tcp.srcport == 18082 && frame.number > "+gaps[len(gaps)-1], "-T", "fields", "-e", "frame.number"))
	if len(after) == 0 {
		t.Error("no DATA frame of the server decoded after the last gap")
	}
}

// TestHeuristicsLeaveOtherTrafficAlone: HTTP/1.1, TLS, SSH and random
// bytes are not claimed.
func TestHeuristicsLeaveOtherTrafficAlone(t *testing.T) {
	t.Parallel()
	file := pcap("not_h2_mix.pcap")
	if _, err := os.Stat(file); err != nil {
		t.Fatal(err)
	}
	phs := tshark(t, plainEnv, "-r", file, "-q", "-z", "io,phs")
	for _, p := range []string{"http", "tls", "data"} {
		if !strings.Contains(phs, " "+p+" ") {
			t.Errorf("the capture lacks %s traffic:\n%s", p, phs)
		}
	}
	if out := tshark(t, pluginEnv, "-r", file, "-Y", "goh2"); strings.TrimSpace(out) != "" {
		t.Fatalf("goh2 claimed other traffic:\n%s", out)
	}
}

// TestGeneratedItemsShowAsSuch: the shim marks the items Go computes (not
// on the wire) as generated, which tshark shows in brackets; the flag is
// written into Wireshark's field_info, whose layout the shim checks first
// (it sets no flag on a layout it does not know).
func TestGeneratedItemsShowAsSuch(t *testing.T) {
	t.Parallel()
	out := tshark(t, pluginEnv, "-r", pcap("h2c_go.pcap"), "-O", "goh2")
	generated := regexp.MustCompile(`(?m)^\s+\[Header Count: \d+\]$`).FindAllString(out, -1)
	all := regexp.MustCompile(`(?m)^\s+\[?Header Count: `).FindAllString(out, -1)
	if len(generated) == 0 || len(generated) != len(all) {
		t.Fatalf("%d of %d Header Count items are shown as generated ([...])", len(generated), len(all))
	}
	wire := regexp.MustCompile(`(?m)^\s+[.01 ]+ = Stream Identifier: \d+$`).FindAllString(out, -1)
	if len(wire) == 0 {
		t.Fatal("no Stream Identifier shown as an item from the wire")
	}
}

// TestGoh2LuaFallback: on Wireshark 4.0 and 4.4 the shim makes goh2's call
// and applies its result from C (shim.stream); the Lua path serves other
// versions. Both show the same trees, columns, expert infos and second
// passes, except that call durations are exact only from C: Lua's
// pinfo.abs_ts is a double, which loses up to a few hundred nanoseconds
// of a date.
func TestGoh2LuaFallback(t *testing.T) {
	t.Parallel()
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_DISSECTOR=1")
	durations := regexp.MustCompile(`(Call duration: )[0-9.]+`)
	for _, c := range append(append([]capture(nil), h2Captures...), capture{"not_h2_mix.pcap", nil}) {
		t.Run(c.file, func(t *testing.T) {
			for _, args := range [][]string{
				{"-V"},
				{"-2", "-V"},
				{"-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"},
				{"-q", "-z", "expert"},
			} {
				args = append([]string{"-r", pcap(c.file)}, args...)
				want := durations.ReplaceAllString(tshark(t, pluginEnv, args...), "${1}…")
				if got := durations.ReplaceAllString(tshark(t, luaEnv, args...), "${1}…"); got != want {
					t.Errorf("tshark %s: the Lua path differs from the C one:\n%s", strings.Join(args, " "), firstDiff(want, got))
				}
			}
		})
	}
	// Which path ran: from C a duration is the exact difference of two
	// frames' times (the capture has nanoseconds).
	exact := func(env []string) (int, int) {
		rows := fieldRows(t, env, pcap("grpc_h2c_gzip.pcap"), nil, "", "frame.time_epoch", "tcp.stream", "gogrpc.call.duration")
		var ok, off int
		for _, num := range sortedKeys(rows) {
			r := rows[num]
			for _, d := range r[2] {
				end, dur := nanos(t, r[0][0]), nanos(t, d)
				found := false
				for _, q := range rows {
					if len(q[1]) > 0 && q[1][0] == r[1][0] && nanos(t, q[0][0])+dur == end {
						found = true
					}
				}
				if found {
					ok++
				} else {
					off++
				}
			}
		}
		return ok, off
	}
	if ok, off := exact(pluginEnv); ok == 0 || off != 0 {
		t.Errorf("from C: %d call durations are exact differences of frame times, %d are not", ok, off)
	}
	if ok, off := exact(luaEnv); off == 0 {
		t.Errorf("GOTCPDUMP_LUA_DISSECTOR=1: all %d call durations exact, as from C: did the Lua path run?", ok)
	}
}

// TestGoh2ConversationInC: once goh2's heuristic claims a connection (in
// Lua), the shim dissects its later payloads from C (shim.conversation);
// GOTCPDUMP_LUA_CONVERSATION=1 leaves them to goh2's Lua dissector, which
// calls the same shim.stream. Both show the same trees, columns, expert
// infos, fields and second passes. Two things differ, both wslua's:
// every call of a Lua dissector adds a hidden _ws.lua.fake item, and a
// Lua dissector stays in the frame's protocols when it only asked TCP for
// more data, and once for each of its calls in the frame. From C goh2 is
// listed once, and not on a segment of a PDU, as Wireshark's http2 is.
func TestGoh2ConversationInC(t *testing.T) {
	t.Parallel()
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_CONVERSATION=1")
	// The protocols' lines, pdml's header (it has the time), and the
	// _ws.lua.fake items, with the wrapper pdml puts them in.
	layers := regexp.MustCompile(`(?m)^.*(Protocols in frame|"frame\.protocols"|^<pdml ).*\n`)
	fake := regexp.MustCompile(`(?m)^ *<proto name="fake-field-wrapper">\n( *<field name="_ws\.lua\.fake"[^\n]*\n)+ *</proto>\n|^.*_ws\.lua\.fake.*\n`)
	strip := func(out string) string {
		return layers.ReplaceAllString(fake.ReplaceAllString(out, ""), "")
	}
	unindent := func(out string) string {
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			// (past its width, io,phs shows the depth as "...")
			lines[i] = strings.Join(strings.Fields(strings.TrimLeft(l, " .")), " ")
		}
		return strings.Join(lines, "\n")
	}
	caps := append(append([]capture(nil), h2Captures...), capture{"h2c_loss.pcap", nil}, capture{"not_h2_mix.pcap", nil})
	for _, c := range caps {
		t.Run(c.file, func(t *testing.T) {
			for _, args := range [][]string{
				{"-V"},
				{"-2", "-V"},
				{"-T", "pdml"},
				{"-2", "-T", "pdml"},
				{"-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info", "-e", "goh2.type", "-e", "gogrpc.path"},
				{"-2", "-T", "fields", "-e", "frame.number", "-e", "gogrpc.reassembled_in", "-e", "_ws.expert.message"},
				{"-q", "-z", "expert"},
				// Invisible trees: a filter, and a tap that counts protocols.
				{"-2", "-Y", "gogrpc", "-T", "fields", "-e", "frame.number"},
				{"-2", "-q", "-z", "io,phs"},
			} {
				args = append([]string{"-r", pcap(c.file)}, args...)
				rawLua, rawC := tshark(t, luaEnv, args...), tshark(t, pluginEnv, args...)
				want, got := strip(rawLua), strip(rawC)
				if args[len(args)-1] == "io,phs" {
					// From Lua _ws.lua.fake is a level of its own, which
					// indents the protocols under it.
					want, got = unindent(want), unindent(got)
				}
				if got != want {
					t.Errorf("tshark %s: from C differs from Lua:\n%s", strings.Join(args, " "), firstDiff(want, got))
				}
				// Which path ran: the Lua heuristic's calls add _ws.lua.fake
				// either way, the Lua dissector's only from Lua. (In
				// decrypted TLS the heuristic makes every call; after an
				// HTTP/1.1 Upgrade, http makes goh2's Lua dissector the
				// connection's.)
				if args[len(args)-1] != "pdml" || c.file == "not_h2_mix.pcap" || c.file == "grpc_tls_keylog.pcapng" || c.file == "h2c_upgrade.pcap" {
					continue
				}
				fromC := strings.Count(rawC, `"_ws.lua.fake"`)
				fromLua := strings.Count(rawLua, `"_ws.lua.fake"`)
				if fromC >= fromLua {
					t.Errorf("tshark %s: %d _ws.lua.fake items from C, %d from Lua: did C dissect the conversations?", strings.Join(args, " "), fromC, fromLua)
				}
			}
		})
	}
	// goh2 once in a frame's protocols, and not on the segments that only
	// wait for the rest of a PDU.
	// (A payload with no goh2 item is such a segment: goh2 shows bytes it
	// cannot decode too.)
	rows := fieldRows(t, pluginEnv, pcap("h2c_loss.pcap"), nil, "", "frame.protocols", "tcp.len", "goh2")
	segments := 0
	for _, num := range sortedKeys(rows) {
		protos, payload, items := rows[num][0], rows[num][1], rows[num][2]
		if len(protos) == 0 {
			continue
		}
		if strings.Contains(protos[0], "goh2:goh2") {
			t.Errorf("frame %s: protocols %s", num, protos[0])
		}
		if len(payload) > 0 && payload[0] != "0" && len(items) == 0 {
			segments++
			if strings.Contains(protos[0], "goh2") {
				t.Errorf("frame %s, a segment of a PDU: protocols %s", num, protos[0])
			}
		}
	}
	if segments == 0 {
		t.Error("h2c_loss.pcap: no segment that only waits for the rest of a PDU")
	}
}

// nanos reads seconds with up to 9 decimals ("1700000000.123456789") as
// nanoseconds, exactly.
func nanos(t *testing.T, s string) int64 {
	t.Helper()
	sec, frac, _ := strings.Cut(s, ".")
	frac = (frac + "000000000")[:9]
	a, err1 := strconv.ParseInt(sec, 10, 64)
	b, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("not a time in seconds: %q", s)
	}
	return a*1e9 + b
}

// wiresharkVersion is tshark's major and minor version.
func wiresharkVersion(t *testing.T) (major, minor int) {
	t.Helper()
	if _, err := fmt.Sscanf(tshark(t, pluginEnv, "--version"), "TShark (Wireshark) %d.%d", &major, &minor); err != nil {
		t.Fatal("tshark --version: ", err)
	}
	return major, minor
}

// TestSnapLengthCapture: captures cut by a snap length, as `gotcpdump -s
// 512` makes them (editcap -s here). A cut segment's missing octets are
// skipped, not taken for the next segment's: every frame of a packet
// that was captured whole decodes as in the full capture, no frame is
// read from inside another, and the gRPC calls are all found.
func TestSnapLengthCapture(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	luaEnv := append(append([]string(nil), pluginEnv...), "GOTCPDUMP_LUA_DISSECTOR=1")
	frames := []string{"goh2.type", "goh2.streamid", "goh2.length"}
	for _, file := range []string{"h2c_go.pcap", "grpc_h2c_gzip.pcap", "grpc_python.pcap"} {
		full := fieldRows(t, pluginEnv, pcap(file), nil, "goh2", append([]string{"tcp.segment"}, frames...)...)
		for _, snap := range []string{"512", "200"} {
			t.Run(file+"/"+snap, func(t *testing.T) {
				cut := filepath.Join(dir, snap+"-"+file)
				if out, err := exec.Command("editcap", "-s", snap, pcap(file), cut).CombinedOutput(); err != nil {
					t.Fatalf("editcap: %v %s", err, out)
				}
				whole := fieldRows(t, pluginEnv, cut, nil, "frame.len == frame.cap_len && tcp.len > 0", frames...)
				same := 0
				for num, row := range whole {
					f, ok := full[num]
					if !ok || len(f[0]) > 0 {
						continue // not HTTP/2, or the end of a PDU of several segments
					}
					if fmt.Sprint(row) != fmt.Sprint(f[1:]) {
						t.Errorf("frame %s: goh2 type, stream, length %v, in the full capture %v", num, row, f[1:])
					}
					same++
				}
				if same < 10 {
					t.Errorf("only %d packets captured whole carry HTTP/2", same)
				}
				if bad := tshark(t, pluginEnv, "-r", cut, "-Y", "goh2.frame_size_error || goh2.protocol_error || goh2.flow.error || goh2.compression_error || goh2.type > 9",
					"-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"); strings.TrimSpace(bad) != "" {
					t.Errorf("errors blamed on the peers:\n%s", bad)
				}
				if cuts := tshark(t, pluginEnv, "-r", cut, "-Y", "goh2.unsynced && frame.len > frame.cap_len", "-T", "fields", "-e", "_ws.expert.message"); !strings.Contains(cuts, "snap length") {
					t.Errorf("no cut frame says why:\n%s", cuts)
				}
				if strings.HasPrefix(file, "grpc") && snap == "512" {
					calls := func(f string) string { return tshark(t, pluginEnv, "-q", "-r", f, "-z", "gogrpc,calls") }
					if got, want := calls(cut), calls(pcap(file)); got != want {
						t.Errorf("gRPC calls:\n%s\nin the full capture:\n%s", got, want)
					}
				}
				args := []string{"-r", cut, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Info", "-e", "goh2.type", "-e", "goh2.unsynced", "-e", "_ws.expert.message"}
				one := tshark(t, pluginEnv, args...)
				if two := tshark(t, pluginEnv, append([]string{"-2"}, args...)...); two != one {
					t.Errorf("tshark -2 differs from one pass:\n%s", firstDiff(one, two))
				}
				if lua := tshark(t, luaEnv, args...); lua != one {
					t.Errorf("the Lua path differs from the C one:\n%s", firstDiff(one, lua))
				}
			})
		}
	}
}
