package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestAgreementWithBuiltinHTTP2 compares goh2 with Wireshark's own http2
// dissector on every capture: for every HTTP/2 frame the (frame number,
// stream id, type, flags, length) tuples must match, and so must the
// decoded header names and values wherever both decode them.
func TestAgreementWithBuiltinHTTP2(t *testing.T) {
	t.Parallel()
	for _, c := range h2Captures {
		t.Run(c.file, func(t *testing.T) {
			tuple := []string{"streamid", "type", "flags", "length"}
			builtin := fieldRows(t, plainEnv, pcap(c.file), c.decode, "http2", prefixed("http2.", tuple)...)
			// Both dissectors get the same Decode As (the heuristics are
			// tested on their own).
			ours := fieldRows(t, pluginEnv, pcap(c.file), c.goh2Decode(), "goh2", prefixed("goh2.", tuple)...)
			if len(builtin) == 0 {
				t.Fatal("the built-in dissector decoded nothing: the comparison would be empty")
			}
			frames := 0
			for _, num := range sortedKeys(builtin, ours) {
				b, o := builtin[num], ours[num]
				if b == nil || o == nil {
					t.Errorf("packet %s: decoded by http2=%v goh2=%v", num, b != nil, o != nil)
					continue
				}
				if len(b[1]) != len(o[1]) {
					t.Errorf("packet %s: http2 sees %d frames, goh2 %d", num, len(b[1]), len(o[1]))
					continue
				}
				for i := range b[1] {
					bt := fmt.Sprint(b[0][i], b[1][i], b[2][i], b[3][i])
					ot := fmt.Sprint(o[0][i], o[1][i], o[2][i], o[3][i])
					if bt != ot {
						t.Errorf("packet %s frame %d: http2 (stream type flags length) %s, goh2 %s", num, i, bt, ot)
					}
					frames++
				}
			}

			hb := fieldRows(t, plainEnv, pcap(c.file), c.decode, "http2.header", "http2.header.name", "http2.header.value")
			ho := fieldRows(t, pluginEnv, pcap(c.file), c.goh2Decode(), "goh2.header", "goh2.header.name", "goh2.header.value")
			headers, skipped := 0, 0
			for _, num := range sortedKeys(hb, ho) {
				b, o := hb[num], ho[num]
				if b == nil || o == nil || len(b[0]) != len(o[0]) || len(b[1]) != len(o[1]) {
					t.Errorf("packet %s: header lists differ:\n  http2 %q\n  goh2  %q", num, b, o)
					continue
				}
				for i := range b[0] {
					// Both sides saw a reference to a table entry that was
					// never captured: http2 prints <unknown>, goh2 the index.
					if b[0][i] == "<unknown>" && strings.HasPrefix(o[0][i], "unknown (index ") {
						skipped++
						continue
					}
					if b[0][i] != o[0][i] || b[1][i] != o[1][i] {
						t.Errorf("packet %s header %d: http2 %q: %q, goh2 %q: %q", num, i, b[0][i], b[1][i], o[0][i], o[1][i])
					}
					headers++
				}
			}
			t.Logf("%s: compared %d frames in %d packets and %d header fields (%d unknown on both sides)", c.file, frames, len(builtin), headers, skipped)
			if frames == 0 || headers == 0 {
				t.Fatal("nothing compared")
			}
		})
	}
}

func prefixed(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}

// sortedKeys lists the frame numbers of field rows, in numeric order.
func sortedKeys(maps ...map[string][][]string) []string {
	keys := sortedStrings(maps...)
	sort.SliceStable(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(keys[i])
		b, _ := strconv.Atoi(keys[j])
		return a < b
	})
	return keys
}

// grpcCapture is a committed capture with gRPC in it. decode points
// Wireshark's http2 at cleartext HTTP/2 (the plugin finds it by its
// heuristics); http1Ports are the server ports of gRPC-Web over HTTP/1.1.
type grpcCapture struct {
	capture
	serverPorts []string // requests go to these ports
	http1Ports  []string
}

// grpcCaptures is every capture in testpcaps/ that carries gRPC
// (TestEveryGRPCCaptureCompared fails on one missing here).
var grpcCaptures = []grpcCapture{
	{capture{"grpc_tls_keylog.pcapng", nil}, []string{"18443"}, nil},
	{capture{"grpc_h2c_gzip.pcap", []string{"-d", "tcp.port==18444,http2"}}, []string{"18444"}, nil},
	{capture{"grpc_python.pcap", []string{"-d", "tcp.port==18445,http2"}}, []string{"18445"}, nil},
	{capture{"grpc_web.pcap", []string{"-d", "tcp.port==18447,http2"}}, []string{"18446", "18447"}, []string{"18446"}},
	{capture{"grpc_failures.pcap", []string{"-d", "tcp.port==18448,http2", "-d", "tcp.port==18449,http2"}}, []string{"18448", "18449"}, nil},
	{capture{"h2_not_utf8.pcap", []string{"-d", "tcp.port==18097,http2", "-d", "tcp.port==18098,http2"}}, []string{"18097", "18098"}, nil},
	{capture{"tw_healthz_storm.pcap", []string{"-d", "tcp.port==9090,http2"}}, []string{"9090"}, nil},
	{capture{"tw_healthz_keepalive.pcap", []string{"-d", "tcp.port==9090,http2"}}, []string{"9090"}, nil},
	{capture{"tw_grpc_idle_timeout.pcap", []string{"-d", "tcp.port==9090,http2"}}, []string{"9090"}, nil},
}

// TestGogrpcAgreesWithBuiltinGRPC: on every gRPC capture, each message
// that Wireshark's grpc dissector finds, gogrpc finds too, and the other
// way round, with the same length and compressed flag, in the same order
// on each TCP connection and direction, and over HTTP/2 in the same
// packets.
//
// gRPC-Web (grpc_web.pcap): Wireshark 4.0 decodes it over HTTP/2 and over
// HTTP/1.1, in binary (application/grpc-web+proto) and in base64
// (application/grpc-web-text, including response bodies made of several
// padded base64 strings). It shows the trailer frame (flag 0x80) as a
// message of its own ("Frame Type: Trailer", grpc.frame_type 1); gogrpc
// shows it as the call's status. So the data messages are compared as
// above, and each packet with trailer frames must have as many
// gogrpc.status items. Over HTTP/1.1 Wireshark 4.0 shows every message of
// a body in the packet where the body ends (its HTTP reassembly), and 4.4
// decodes chunked bodies chunk by chunk; there the data messages and the
// trailer frames are compared per connection and direction only. A status
// that a trailers-only response carries in the HTTP/1.1 response headers is
// no message for either (TestGogrpcWeb checks it).
func TestGogrpcAgreesWithBuiltinGRPC(t *testing.T) {
	t.Parallel()
	for _, c := range grpcCaptures {
		t.Run(c.file, func(t *testing.T) {
			builtin := fieldRows(t, plainEnv, pcap(c.file), c.decode, "grpc",
				"tcp.stream", "tcp.srcport", "tcp.dstport", "grpc.message_length", "grpc.compressed_flag", "grpc.frame_type")
			ours := fieldRows(t, pluginEnv, pcap(c.file), nil, "gogrpc.message_length || gogrpc.status",
				"tcp.stream", "tcp.srcport", "tcp.dstport", "gogrpc.message_length", "gogrpc.compressed_flag", "gogrpc.status")
			if len(builtin) == 0 {
				t.Fatal("the built-in grpc dissector decoded nothing: the comparison would be empty")
			}
			// Wireshark's trailer frames out of its messages, counted per packet.
			trailers := map[string]int{}
			for num, r := range builtin {
				var lengths, flags []string
				for i, l := range r[3] {
					if i < len(r[5]) && r[5][i] == "1" {
						trailers[num]++
						continue
					}
					lengths, flags = append(lengths, l), append(flags, r[4][i])
				}
				r[3], r[4] = lengths, flags
			}
			http1 := func(row [][]string) bool {
				for _, p := range c.http1Ports {
					if cell(row, 1) == p || cell(row, 2) == p {
						return true
					}
				}
				return false
			}
			messagesOf := func(row [][]string) string {
				if row == nil || len(row[3]) == 0 {
					return "nothing"
				}
				return fmt.Sprintf("lengths %v flags %v", row[3], row[4])
			}
			// Packet by packet: data messages except over HTTP/1.1, and a
			// status for each trailer frame.
			samePacket, statuses := 0, 0
			// Over HTTP/1.1, trailer frames and statuses per connection and
			// direction: Wireshark 4.4's grpc decodes a chunked body chunk by
			// chunk, so its trailer frame comes with the last chunk, while
			// gogrpc takes the whole body where it ends.
			h1Trailers, h1Statuses := map[string]int{}, map[string]int{}
			for _, num := range sortedKeys(builtin, ours) {
				b, o := builtin[num], ours[num]
				if (b != nil && http1(b)) || (o != nil && http1(o)) {
					if b != nil {
						h1Trailers[cell(b, 0)+" "+cell(b, 1)] += trailers[num]
					}
					if o != nil {
						h1Statuses[cell(o, 0)+" "+cell(o, 1)] += len(cellList(o, 5))
					}
					continue
				}
				if n := trailers[num]; n > 0 {
					if got := len(cellList(o, 5)); got != n {
						t.Errorf("packet %s: %d gRPC-Web trailer frames, but %d gogrpc.status", num, n, got)
					} else {
						statuses += n
					}
				}
				if bm, om := messagesOf(b), messagesOf(o); bm != om {
					t.Errorf("packet %s: grpc %s, gogrpc %s", num, bm, om)
				} else if b != nil {
					samePacket += len(b[3])
				}
			}
			for _, k := range sortedStrings(h1Trailers, h1Statuses) {
				if h1Trailers[k] != h1Statuses[k] {
					t.Errorf("HTTP/1.1 connection and sender %s: %d gRPC-Web trailer frames, but %d gogrpc.status", k, h1Trailers[k], h1Statuses[k])
				} else {
					statuses += h1Trailers[k]
				}
			}
			// In order per connection and direction.
			bseq, oseq := messageSequences(builtin), messageSequences(ours)
			messages := 0
			for _, dir := range sortedStrings(bseq, oseq) {
				b, o := bseq[dir], oseq[dir]
				for i := 0; i < max(len(b), len(o)); i++ {
					if i >= len(b) || i >= len(o) || b[i].length != o[i].length || b[i].flag != o[i].flag {
						t.Errorf("%s, message %d: grpc %s, gogrpc %s", dir, i+1, describe(b, i), describe(o, i))
						break
					}
					messages++
				}
			}
			t.Logf("%s: %d messages agree, %d of them in the same packets; %d gRPC-Web trailer frames shown as statuses", c.file, messages, samePacket, statuses)
			if messages == 0 {
				t.Fatal("nothing compared")
			}
		})
	}
}

// TestEveryGRPCCaptureCompared: a capture in testpcaps/ in which the
// plugin or Wireshark's grpc dissector finds gRPC must be in grpcCaptures,
// so that TestGogrpcAgreesWithBuiltinGRPC compares it.
func TestEveryGRPCCaptureCompared(t *testing.T) {
	t.Parallel()
	listed := map[string]bool{}
	for _, c := range grpcCaptures {
		listed[c.file] = true
		if _, err := os.Stat(pcap(c.file)); err != nil {
			t.Errorf("grpcCaptures: %v", err)
		}
	}
	files, err := filepath.Glob(pcap("*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		if listed[filepath.Base(f)] {
			continue
		}
		if out := tshark(t, pluginEnv, "-r", f, "-Y", "gogrpc || grpc", "-T", "fields", "-e", "frame.number"); strings.TrimSpace(out) != "" {
			t.Errorf("%s carries gRPC (frames %.60s) but is not in grpcCaptures", filepath.Base(f), strings.ReplaceAll(out, "\n", " "))
		}
		checked++
	}
	t.Logf("%d gRPC captures compared, %d others have no gRPC", len(grpcCaptures), checked)
}

type grpcMessage struct {
	frame, length, flag string
}

// messageSequences orders the messages of fieldRows(..., tcp.stream,
// tcp.srcport, tcp.dstport, length, flag, ...) by connection and
// direction.
func messageSequences(rows map[string][][]string) map[string][]grpcMessage {
	out := map[string][]grpcMessage{}
	for _, num := range sortedKeys(rows) {
		r := rows[num]
		dir := fmt.Sprintf("tcp.stream %s, port %s -> %s", cell(r, 0), cell(r, 1), cell(r, 2))
		for i, l := range r[3] {
			m := grpcMessage{frame: num, length: l}
			if i < len(r[4]) {
				m.flag = r[4][i]
			}
			out[dir] = append(out[dir], m)
		}
	}
	return out
}

func describe(ms []grpcMessage, i int) string {
	if i >= len(ms) {
		return "nothing"
	}
	return fmt.Sprintf("length %s flag %s (packet %s)", ms[i].length, ms[i].flag, ms[i].frame)
}

// cellList is column i of a fieldRows row (nil for no row).
func cellList(row [][]string, i int) []string {
	if i >= len(row) {
		return nil
	}
	return row[i]
}

// cell is the first value of column i of a fieldRows row.
func cell(row [][]string, i int) string {
	if i >= len(row) || len(row[i]) == 0 {
		return ""
	}
	return row[i][0]
}

func sortedStrings[V any](maps ...map[string]V) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}
