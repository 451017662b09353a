package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// withoutFragmentLinks removes what only a later pass can show: the
// "gRPC message fragment" item that links a frame carrying part of a
// message to the frame where it completed (Wireshark's own reassembly
// likewise shows "Reassembled in" only once it has seen that frame).
func withoutFragmentLinks(out string) string {
	var keep []string
	skipping := false
	for _, l := range strings.Split(out, "\n") {
		if l == "gRPC message fragment" {
			skipping = true
			continue
		}
		if skipping && strings.HasPrefix(l, "    [Reassembled in: ") {
			continue
		}
		skipping = false
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

// TestGogrpcFragmentLinks: a message that spans frames lists them
// (gogrpc.fragment, with the frame where it completes last), and on a
// second pass each earlier frame links to it (gogrpc.reassembled_in),
// both ways consistently; a single pass shows no link to a later frame.
func TestGogrpcFragmentLinks(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(pcap("grpc*.pcap*"))
	total := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			// Messages and their fragments, from a single pass.
			want := map[string]map[string]bool{} // part frame -> completing frames
			msgs := 0
			for _, line := range strings.Split(strings.TrimSpace(tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.fragments",
				"-T", "fields", "-e", "frame.number", "-e", "gogrpc.fragment")), "\n") {
				if line == "" {
					continue
				}
				num, list, _ := strings.Cut(line, "\t")
				frames := strings.Split(list, ",")
				if len(frames) < 2 {
					t.Fatalf("frame %s: a multi-frame message lists %q", num, list)
				}
				seen := map[string]bool{}
				for _, f := range frames {
					seen[f] = true
				}
				if !seen[num] {
					t.Fatalf("frame %s: message fragments %q leave out the frame where it completes", num, list)
				}
				msgs++
				for _, f := range frames {
					if f == num {
						continue
					}
					if want[f] == nil {
						want[f] = map[string]bool{}
					}
					want[f][num] = true
				}
			}
			if one := tshark(t, pluginEnv, "-r", file, "-Y", "gogrpc.reassembled_in"); strings.TrimSpace(one) != "" {
				t.Fatalf("a single pass links frames to later ones:\n%s", one)
			}
			got := map[string]map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(tshark(t, pluginEnv, "-2", "-r", file, "-Y", "gogrpc.reassembled_in",
				"-T", "fields", "-e", "frame.number", "-e", "gogrpc.reassembled_in")), "\n") {
				if line == "" {
					continue
				}
				num, list, _ := strings.Cut(line, "\t")
				got[num] = map[string]bool{}
				for _, f := range strings.Split(list, ",") {
					got[num][f] = true
				}
			}
			if len(got) != len(want) {
				t.Fatalf("%d frames link to a reassembled message, want %d (%v, want %v)", len(got), len(want), got, want)
			}
			for part, ins := range want {
				for in := range ins {
					if !got[part][in] {
						t.Fatalf("frame %s carried part of the message completed in frame %s but does not link to it (links: %v)", part, in, got[part])
					}
				}
				if len(got[part]) != len(ins) {
					t.Fatalf("frame %s links to %v, want %v", part, got[part], ins)
				}
			}
			t.Logf("%d multi-frame messages, %d fragment frames linked", msgs, len(want))
			total += msgs
		})
	}
	if total == 0 {
		t.Fatal("no capture has a message that spans frames")
	}
}
