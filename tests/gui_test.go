package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// guiScript drives Wireshark (Qt) under Xvfb: it opens a capture, takes
// a screenshot, then opens each Tools menu entry of the plugin (by keys:
// Alt+T, then Down to the entry) and screenshots the window it opens.
// It prints "window NAME" for every top-level window and "colors FILE N"
// for every screenshot.
const guiScript = `
set -u
out=$1 cap=$2
wireshark -r "$cap" >"$out/wireshark.log" 2>&1 &
ws=$!
main=
for i in $(seq 120); do
  sleep 0.5
  main=$(xdotool search --name "$(basename "$cap")" 2>/dev/null | head -1)
  [ -n "$main" ] && break
done
[ -n "$main" ] || { echo "no main window"; kill $ws; exit 1; }
sleep 3
import -window root "$out/main.png"
echo "colors main.png $(identify -format %k "$out/main.png")"
open_tool() { # $1: Down presses, $2: window title, $3: file
  xdotool windowactivate --sync $main >/dev/null 2>&1; xdotool windowfocus --sync $main
  xdotool key --window $main alt+t
  sleep 0.7
  for i in $(seq $1); do xdotool key Down; sleep 0.1; done
  xdotool key Return
  w=
  for i in $(seq 20); do
    sleep 0.5
    w=$(xdotool search --name "$2" 2>/dev/null | head -1)
    [ -n "$w" ] && break
  done
  if [ -n "$w" ]; then
    sleep 1
    import -window "$w" "$out/$3"
    echo "colors $3 $(identify -format %k "$out/$3")"
    xdotool windowclose "$w" 2>/dev/null || xdotool key --window "$w" Escape
  fi
}
open_tool 3 "TIME_WAIT report" tcptw_report.png
open_tool 4 "gRPC calls" gogrpc_calls.png
for w in $(xdotool search --name '.' 2>/dev/null); do echo "window $(xdotool getwindowname $w)"; done
kill $ws
wait $ws 2>/dev/null
exit 0
`

// TestWiresharkGUI starts Wireshark's Qt GUI under Xvfb with the plugin
// and the demo TIME_WAIT capture: it must load with no Lua error, show a
// non-empty window, and the Tools menu entries must open their windows.
func TestWiresharkGUI(t *testing.T) {
	for _, tool := range []string{"wireshark", "xvfb-run", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it)", tool)
		}
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "gui.sh")
	os.WriteFile(script, []byte(guiScript), 0o755)
	c := exec.Command("xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", "bash", script, dir, pcap("tw_healthz_storm.pcap"))
	c.Env = append(pluginEnv, "XDG_RUNTIME_DIR="+dir)
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "wireshark.log"))
	if strings.Contains(string(log), "Lua") || strings.Contains(string(log), "gotcpdump") {
		t.Errorf("Wireshark reported:\n%s", log)
	}
	colors := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "colors" {
			colors[f[1]], _ = strconv.Atoi(f[2])
		}
		if strings.HasPrefix(line, "window ") && (strings.Contains(line, "Lua") || strings.Contains(line, "Error")) {
			t.Errorf("an error window: %s", line)
		}
	}
	t.Logf("screenshots (colors): %v", colors)
	if colors["main.png"] < 500 {
		t.Errorf("the main window looks empty (%d colors)", colors["main.png"])
	}
	for _, f := range []string{"tcptw_report.png", "gogrpc_calls.png"} {
		if colors[f] < 10 {
			t.Errorf("%s: the Tools menu window did not open or is empty (%d colors)\n%s", f, colors[f], out)
		}
	}
	if os.Getenv("GUI_SCREENSHOTS") != "" {
		for _, f := range []string{"main.png", "tcptw_report.png", "gogrpc_calls.png"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err == nil {
				os.WriteFile(filepath.Join(os.Getenv("GUI_SCREENSHOTS"), f), b, 0o644)
			}
		}
	}
}
