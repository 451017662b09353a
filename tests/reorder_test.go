package tests

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReorderedSegments: the committed captures with every other data
// segment of one side delayed 10 ms (testpcaps/gen/reorder, as a path
// that reorders packets delivers them). With tcp.reassemble_out_of_order
// off, Wireshark's default, TCP hands on a segment that came early as if
// it continued the stream and later the one it overtook: goh2 must blame
// none of that on the peers (TCP's sequence numbers tell it which octets
// come next), and show the same on a second pass. With the preference on
// it must decode what Wireshark's http2 decodes.
func TestReorderedSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reorder := goBuild(t, dir, "./testpcaps/gen/reorder")
	for _, c := range []struct {
		capture
		port int
	}{
		{h2Captures[0], 18080}, // h2c_go.pcap: a header block with CONTINUATIONs
		{h2Captures[2], 18081}, // nghttp2_push_padding.pcap
		{h2Captures[4], 18444}, // grpc_h2c_gzip.pcap
		{h2Captures[5], 18445}, // grpc_python.pcap
		{h2Captures[7], 18448}, // grpc_failures.pcap
	} {
		t.Run(c.file, func(t *testing.T) {
			file := filepath.Join(dir, c.file)
			if out, err := exec.Command(reorder, "-in", pcap(c.file), "-out", file, "-port", strconv.Itoa(c.port),
				"-every", "2", "-delay", "10ms").CombinedOutput(); err != nil {
				t.Fatalf("reorder: %v\n%s", err, out)
			}
			count := func(env []string, proto string, extra ...string) int {
				return countFrames(t, env, file, proto, extra...)
			}
			// Wireshark's grpc fails an assertion on these captures (its
			// stream's headers went with the segments TCP did not hand on);
			// only http2's frames are compared.
			builtinArgs := append([]string{"--disable-protocol", "grpc"}, c.decode...)
			ours, builtin := count(pluginEnv, "goh2"), count(plainEnv, "http2", builtinArgs...)
			if ours < builtin {
				t.Errorf("goh2 decodes %d frames, Wireshark's http2 %d", ours, builtin)
			}
			if errs := grepLines(tshark(t, pluginEnv, "-r", file, "-q", "-z", "expert,error"), "GO"); errs != "" {
				t.Errorf("errors blamed on the peers:\n%s", errs)
			}
			fields := []string{"-r", file, "-T", "fields", "-e", "frame.number", "-e", "goh2.type", "-e", "goh2.header.value",
				"-e", "gogrpc.message_length", "-e", "_ws.expert.message"}
			one, two := tshark(t, pluginEnv, fields...), tshark(t, pluginEnv, append([]string{"-2"}, fields...)...)
			if one != two {
				t.Errorf("tshark -2 differs from single pass:\n%s", firstDiff(one, two))
			}

			inOrder := []string{"-o", "tcp.reassemble_out_of_order:TRUE"}
			get := func(env []string, proto string, extra []string) string {
				args := append([]string{"-r", file, "-T", "fields", "-e", "frame.number"}, extra...)
				for _, f := range []string{"streamid", "type", "length", "header.name", "header.value"} {
					args = append(args, "-e", proto+"."+f)
				}
				return tshark(t, env, args...)
			}
			if o, w := get(pluginEnv, "goh2", inOrder), get(plainEnv, "http2", append(inOrder, builtinArgs...)); o != w {
				t.Errorf("with tcp.reassemble_out_of_order, goh2 and http2 differ:\n%s", firstDiff(o, w))
			}
			if n := count(pluginEnv, "goh2", inOrder...); n <= ours {
				t.Errorf("with tcp.reassemble_out_of_order goh2 decodes %d frames, without %d", n, ours)
			}
		})
	}
}

// TestRecutSegments: the cleartext captures with every TCP data segment
// cut into pieces of at most 30 or 100 octets (testpcaps/gen/recut), so
// that frame headers and header blocks fall across segments anywhere.
// A later pass must show what the first did: TCP hands a PDU that the
// decoder took in part again as far as it took it. With pieces of up to
// 100 octets goh2 and gogrpc must find what they find in the capture as
// it was, by the same expert infos.
func TestRecutSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	recut := goBuild(t, dir, "./testpcaps/gen/recut")
	experts := func(file string) string {
		out := tshark(t, pluginEnv, "-r", file, "-q", "-z", "expert")
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "GOH2") || strings.Contains(l, "GOGRPC") {
				lines = append(lines, strings.TrimSpace(l))
			}
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	for _, c := range h2Captures {
		if c.decode == nil || c.file == "h2c_go_midstream.pcap" {
			continue // TLS; a part of h2c_go.pcap
		}
		for _, cut := range []struct{ max, seed string }{{"30", "1"}, {"100", "2"}} {
			t.Run(c.file+"/"+cut.max, func(t *testing.T) {
				file := filepath.Join(dir, cut.max+"-"+c.file)
				if out, err := exec.Command(recut, "-in", pcap(c.file), "-out", file, "-max", cut.max, "-seed", cut.seed).CombinedOutput(); err != nil {
					t.Fatalf("recut: %v\n%s", err, out)
				}
				fields := []string{"-r", file, "-T", "fields", "-e", "frame.number", "-e", "goh2.type", "-e", "goh2.length",
					"-e", "goh2.header.value", "-e", "gogrpc.message_length", "-e", "_ws.expert.message"}
				one, two := tshark(t, pluginEnv, fields...), tshark(t, pluginEnv, append([]string{"-2"}, fields...)...)
				if one != two {
					t.Errorf("tshark -2 differs from single pass:\n%s", firstDiff(one, two))
				}
				if cut.max == "100" {
					if got, want := experts(file), experts(pcap(c.file)); got != want {
						t.Errorf("expert infos differ from the capture's as it was:\n%s", firstDiff(got, want))
					}
				}
			})
		}
	}
}
