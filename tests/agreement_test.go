package tests

import (
	"fmt"
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

func sortedKeys(maps ...map[string][][]string) []string {
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
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(keys[i])
		b, _ := strconv.Atoi(keys[j])
		return a < b
	})
	return keys
}
