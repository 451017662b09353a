package tests

import (
	"strings"
	"testing"
)

// TestGogrpcBadPreferenceEntry: a wrong entry in a gogrpc preference (a
// port entry that is not PORT=PATH, a type that no set has, a descriptor
// set that cannot be read) is reported once and left out; everything else
// still applies: the calls table, the statuses, and the types of the
// readable set.
func TestGogrpcBadPreferenceEntry(t *testing.T) {
	t.Parallel()
	file := pcap("grpc_python.pcap")
	set := pcap("grpc_health.pb")
	calls := tshark(t, pluginEnv, "-q", "-r", file, "-z", "gogrpc,calls")
	jsonArgs := []string{"-r", file, "-Y", "gogrpc.json", "-T", "fields", "-e", "frame.number", "-e", "gogrpc.json"}
	typed := tshark(t, pluginEnv, append(jsonArgs, "-o", "gogrpc.descriptor_sets:"+set)...)
	if strings.Count(typed, "\n") < 4 || !strings.Contains(calls, "/grpc.health.v1.Health/Check") {
		t.Fatalf("no baseline: calls\n%s\ntyped\n%s", calls, typed)
	}
	for _, c := range []struct {
		prefs []string
		want  string // the one line on stderr
	}{
		{[]string{"-o", "gogrpc.ports:garbage;50051="},
			`tshark: gogrpc.ports: "garbage" is not PORT=/pkg.Service/Method; entry ignored`},
		{[]string{"-o", "gogrpc.method_types:/x=nonexist.Type", "-o", "gogrpc.descriptor_sets:" + set},
			`tshark: gogrpc.method_types: pbschema: type not found: nonexist.Type (in "/x=nonexist.Type"); entry ignored`},
		{[]string{"-o", "gogrpc.descriptor_sets:/nonexistent.pb:" + set},
			"tshark: gogrpc.descriptor_sets: pbschema: open /nonexistent.pb: no such file or directory; its types are not used"},
	} {
		args := append([]string{"-q", "-r", file, "-z", "gogrpc,calls"}, c.prefs...)
		out, errText := tsharkStderr(t, pluginEnv, args...)
		if out != calls {
			t.Errorf("%v: calls\n%s\nwant\n%s", c.prefs, out, calls)
		}
		if errText != c.want {
			t.Errorf("%v: stderr\n%s\nwant the one line\n%s", c.prefs, errText, c.want)
		}
		// The good entries still apply: with the readable set, the same
		// typed messages; without, the statuses.
		if strings.Contains(strings.Join(c.prefs, " "), set) {
			if got, _ := tsharkStderr(t, pluginEnv, append(jsonArgs, c.prefs...)...); got != typed {
				t.Errorf("%v: typed messages\n%s\nwant\n%s", c.prefs, got, typed)
			}
		} else {
			st, _ := tsharkStderr(t, pluginEnv, append([]string{"-r", file, "-Y", "gogrpc.status == 5", "-T", "fields", "-e", "gogrpc.status_message"}, c.prefs...)...)
			if strings.TrimSpace(st) != "unknown service no.such.Service" {
				t.Errorf("%v: statuses\n%s", c.prefs, st)
			}
		}
	}
}
