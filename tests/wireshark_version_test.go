package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mapsScript, run by tshark after the plugins, prints the Lua version and
// every C shim of the plugin that the process has mapped.
const mapsScript = `
print("lua " .. _VERSION)
local f = assert(io.open("/proc/self/maps"))
local seen = {}
for line in f:lines() do
    local so = line:match("(goshim[%w_]*%.so)$")
    if so and not seen[so] then
        seen[so] = true
        print("shim " .. so)
    end
end
f:close()
`

// TestWiresharkVersion: the plugin runs on the C shim built for the Lua
// that this tshark embeds (goshim52.so for Lua 5.2, goshim54.so for 5.4).
// With WIRESHARK_VERSION set (build/ws44.sh sets 4.4), tshark must also be
// that version with the Lua it is built with, so that a run meant for
// another Wireshark cannot pass on the host's.
func TestWiresharkVersion(t *testing.T) {
	t.Parallel()
	v := strings.Join(strings.Fields(tshark(t, plainEnv, "-v")), " ")
	m := regexp.MustCompile(`^TShark \(Wireshark\) (\d+\.\d+)\.\d+`).FindStringSubmatch(v)
	lua := regexp.MustCompile(`with Lua (\d+\.\d+)`).FindStringSubmatch(v)
	if m == nil || lua == nil {
		t.Fatalf("tshark -v gives no Wireshark or Lua version:\n%s", v)
	}
	t.Logf("tshark %s with Lua %s", m[1], lua[1])
	if want := os.Getenv("WIRESHARK_VERSION"); want != "" {
		if m[1] != want {
			t.Fatalf("tshark is Wireshark %s, WIRESHARK_VERSION wants %s", m[1], want)
		}
		// Wireshark 4.4 moved from Lua 5.2 to 5.4.
		var major, minor int
		fmt.Sscanf(want, "%d.%d", &major, &minor)
		if wantLua := map[bool]string{true: "5.4", false: "5.2"}[major > 4 || major == 4 && minor >= 4]; lua[1] != wantLua {
			t.Fatalf("Wireshark %s is built with Lua %s, want %s", m[1], lua[1], wantLua)
		}
	}

	script := filepath.Join(t.TempDir(), "maps.lua")
	if err := os.WriteFile(script, []byte(mapsScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tshark(t, pluginEnv, "-X", "lua_script:"+script, "-r", pcap("h2c_go.pcap"), "-c", "1", "-q")
	want := "lua Lua " + lua[1] + "\nshim goshim" + strings.ReplaceAll(lua[1], ".", "") + ".so\n"
	if out != want {
		t.Fatalf("the plugin did not load the shim for Lua %s: got\n%swant\n%s", lua[1], out, want)
	}
}

// boolDigits rewrites the booleans in tshark -T fields output as
// Wireshark 4.0 prints them, "1" and "0": 4.4 prints "True" and "False"
// (Wireshark's own formatting changed; the fields are the same). Cells
// are separated by tabs, occurrences by commas.
func boolDigits(out string) string {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		cells := strings.Split(line, "\t")
		for j, cell := range cells {
			occ := strings.Split(cell, ",")
			for k, v := range occ {
				switch v {
				case "True":
					occ[k] = "1"
				case "False":
					occ[k] = "0"
				}
			}
			cells[j] = strings.Join(occ, ",")
		}
		lines[i] = strings.Join(cells, "\t")
	}
	return strings.Join(lines, "\n")
}
