package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// guiScript drives Wireshark (Qt) under Xvfb, with the "gotcpdump" profile,
// in two runs:
//
//  1. the packet details alone (no list, no bytes), at frame $4 of $3; it
//     expands the goh2, gogrpc and tcptw subtrees from the keyboard (End
//     selects the last item, tcptw; Shift+Right expands an item and its
//     subtrees; Up goes to the protocol above, which is still collapsed);
//  2. the demo capture $2: the main window, each Tools menu entry of the
//     plugin (Alt+T, then Down to the entry), Statistics > I/O Graphs (the
//     profile's graphs), and Edit > Preferences at Protocols > GOGRPC, left
//     with OK, which makes Wireshark write its preferences file; then
//     Analyze > Reload Lua Plugins, and the TIME_WAIT report again.
//
// It waits for each window by name, resizes it, and screenshots it once two
// screenshots in a row agree. It prints "colors FILE N" for every
// screenshot, "ink FILE F" for the share of dark pixels below the collapsed
// tree, "missing TITLE" for a window that did not open, and "window NAME"
// for every visible Wireshark window that should not be there (a Lua error
// is a message box).
const guiScript = `
set -u
out=$1 cap=$2 tree_cap=$3 tree_frame=$4
ws= main=
visible() { xdotool search --onlyvisible --class wireshark 2>/dev/null; }
find_window() { # $1: title regexp, $2: tries 0.25 s apart; prints the window
  local i w
  for i in $(seq $2); do
    w=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -1)
    [ -n "$w" ] && { echo $w; return 0; }
    sleep 0.25
  done
  return 1
}
strays() { # visible Wireshark windows other than the main one
  local w n
  for w in $(visible); do
    n=$(xdotool getwindowname $w 2>/dev/null)
    [ "$w" = "$main" ] || [ "$n" = "The Wireshark Network Analyzer" ] || echo "window $n"
  done
}
shot() { # $1: window, $2: file, once two screenshots in a row agree
  local i d
  sleep 0.3
  import -window "$1" "$out/$2"
  for i in $(seq 10); do
    sleep 0.3
    mv "$out/$2" "$out/prev.png"
    import -window "$1" "$out/$2"
    d=$(compare -metric AE "$out/prev.png" "$out/$2" null: 2>&1)
    [ "${d%% *}" -lt 50 ] 2>/dev/null && break
  done
  echo "colors $2 $(identify -format %k "$out/$2")"
}
ink() { # share of dark pixels of $1 below row $2
  echo "ink $1 $(convert "$out/$1" -crop +0+$2 +repage -colorspace gray -threshold 50% -format '%[fx:1-mean]' info:)"
}
start() { # $1: log file, $2: capture, then Wireshark's options
  local log=$1 name i stray=0
  name=$(basename "$2")
  wireshark -C gotcpdump "${@:3}" -r "$2" >"$out/$log" 2>&1 &
  ws=$!
  main=
  for i in $(seq 120); do
    main=$(xdotool search --onlyvisible --name "^$name\$" 2>/dev/null | head -1)
    [ -n "$main" ] && break
    kill -0 $ws 2>/dev/null || break
    # a message box (a Lua error) holds the capture back: give up when
    # one is there twice in a row
    [ -n "$(strays | grep -vx "window $name")" ] && stray=$((stray + 1)) || stray=0
    [ $stray -ge 2 ] && break
    sleep 0.5
  done
  [ -n "$main" ] || { echo "missing main window of $name"; stop; exit 1; }
  xdotool windowmove $main 0 0
}
stop() {
  strays
  kill $ws 2>/dev/null
  wait $ws 2>/dev/null
}
key() { # keys to the main window
  xdotool windowfocus --sync $main
  xdotool key "$@"
}
close() { # $1: a dialog, closed with Escape
  local i
  xdotool windowfocus --sync $1
  xdotool key Escape
  for i in $(seq 20); do
    visible | grep -qx "$1" || return 0
    sleep 0.25
  done
}
open_tool() { # $1: Down presses, $2: window title, $3: file, $4: size
  local pause
  # A busy machine may open the menu after the keys went: once more, slower.
  for pause in 0.5 2; do
    key alt+t
    sleep $pause
    for i in $(seq $1); do xdotool key Down; sleep 0.1; done
    xdotool key Return
    w=$(find_window "$2" 40) && break
    xdotool key Escape
  done
  [ -n "$w" ] || { echo "missing $2"; return; }
  xdotool windowsize $w $4
  shot $w "$3"
  close $w
}

# 1. The packet details of one frame with goh2, gogrpc and tcptw expanded.
start tree.log "$tree_cap" -o gui.layout_content_1:PDETAILS -o gui.layout_content_2:NONE -o gui.layout_content_3:NONE -g "$tree_frame"
xdotool windowsize $main 1024 800
shot $main tree_collapsed.png
xdotool mousemove --window $main 500 700 click 1 mousemove 1279 1023 # focus the tree
xdotool key --delay 150 End shift+Right Up shift+Right Up shift+Right
shot $main packet_details.png
ink tree_collapsed.png 300
ink packet_details.png 300
stop

# 2. The demo capture.
start main.log "$cap"
xdotool windowsize $main 1280 1024
shot $main main.png
open_tool 3 "TIME_WAIT report" tcptw_report.png "960 640"
open_tool 4 "gRPC calls" gogrpc_calls.png "900 240"
key alt+s
sleep 0.5
xdotool key i
if w=$(find_window "I/O Graphs" 40); then
  shot $w io_graph.png
  close $w
else
  echo "missing I/O Graphs"
fi
key ctrl+shift+p
if w=$(find_window "Preferences" 40); then
  xdotool windowsize $w 1000 640
  sleep 0.3
  xdotool windowfocus --sync $w
  # the tree finds an item by the letters typed within 0.4 s
  xdotool type --delay 50 Protocols
  sleep 0.6
  xdotool key Right
  sleep 0.6
  xdotool type --delay 50 GOGRPC
  shot $w prefs_gogrpc.png
  xdotool key Return
  for i in $(seq 40); do visible | grep -qx "$w" || break; sleep 0.25; done
else
  echo "missing Preferences"
fi
# 3. Analyze > Reload Lua Plugins: tcptw's postdissector, registered from
#    C, outlives the Lua state that bound it; the reloaded plugin binds it
#    again, and the report of the redissected capture is there.
key ctrl+shift+l
sleep 5
kill -0 $ws 2>/dev/null && echo "reloaded" || echo "missing Wireshark after Reload Lua Plugins"
open_tool 3 "TIME_WAIT report" tcptw_report_reload.png "960 640"
stop
exit 0
`

// TestWiresharkGUI starts Wireshark's Qt GUI under Xvfb with the plugin
// and the "gotcpdump" profile in a fresh HOME: it must load with no Lua
// error (no message box, nothing on stderr about Lua or the plugin), and
// show the packet details of a frame with goh2, gogrpc and tcptw expanded,
// the demo TIME_WAIT capture in a non-empty window, both Tools menu
// entries' windows, the profile's I/O graph, and the plugin's preferences
// under Protocols.
//
// The preferences: the GUI's own list of them, not tshark's, is what
// Edit > Preferences shows; the test opens that dialog at Protocols >
// GOGRPC and leaves it with OK, which has Wireshark write its preferences
// file, every registered preference in it (as a commented default), by
// module, the protocols' under "####### Protocols ########". Every goh2,
// gogrpc and tcptw preference that tshark -G defaultprefs lists must be
// in that section of the file the GUI wrote.
func TestWiresharkGUI(t *testing.T) {
	for _, tool := range []string{"wireshark", "xvfb-run", "xdotool", "import", "compare", "convert"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (make deps installs it)", tool)
		}
	}
	// The frame: one HTTP/2 DATA frame carrying one compressed gRPC
	// message, on a connection tcptw follows: a tree that fits the window.
	frames := strings.Fields(tshark(t, pluginEnv, "-r", pcap("grpc_h2c_gzip.pcap"), "-Y",
		"count(goh2) == 1 && count(gogrpc) == 1 && gogrpc.compressed_flag == 1 && tcptw", "-T", "fields", "-e", "frame.number"))
	if len(frames) == 0 {
		t.Fatal("grpc_h2c_gzip.pcap: no frame with one goh2 and one compressed gogrpc message, and tcptw")
	}

	dir := t.TempDir()
	home := guiHome(t, dir)
	script := filepath.Join(dir, "gui.sh")
	if err := os.WriteFile(script, []byte(guiScript), 0o755); err != nil {
		t.Fatal(err)
	}
	// xvfb-run -a takes the first free display from -n on: runs of
	// xvfb-run that start at the same time and number can end up on one.
	// Xvfb resets when its last client leaves, and a Wireshark that
	// connects during the reset fails ("could not connect to display"):
	// the script starts one right after closing the other, hence -noreset.
	c := exec.Command("xvfb-run", "-a", "-n", strconv.Itoa(100+os.Getpid()%800), "-s", "-screen 0 1280x1024x24 -noreset", "bash", script, dir,
		pcap("tw_healthz_storm.pcap"), pcap("grpc_h2c_gzip.pcap"), frames[0])
	xdg := filepath.Join(dir, "run")
	if err := os.Mkdir(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	c.Env = append([]string{"HOME=" + home, "XDG_RUNTIME_DIR=" + xdg}, pluginEnv[1:]...)
	out, err := c.CombinedOutput()
	for _, f := range []string{"tree.log", "main.log"} {
		log, _ := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.Contains(string(log), "Lua") || strings.Contains(string(log), "gotcpdump") {
			t.Errorf("Wireshark's output (%s):\n%s", f, log)
		}
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	colors := map[string]int{}
	ink := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "colors":
			colors[f[1]], _ = strconv.Atoi(f[2])
		case len(f) == 3 && f[0] == "ink":
			ink[f[1]], _ = strconv.ParseFloat(f[2], 64)
		case len(f) > 0 && (f[0] == "window" || f[0] == "missing"):
			t.Errorf("%s", line)
		}
	}
	t.Logf("screenshots (colors): %v; dark share below the collapsed tree: %v", colors, ink)
	if !strings.Contains(string(out), "\nreloaded\n") {
		t.Errorf("Wireshark did not survive Reload Lua Plugins:\n%s", out)
	}
	for f, least := range map[string]int{
		"main.png":                500, // the packet list in the profile's colors, the tree, the bytes
		"packet_details.png":      100,
		"tcptw_report.png":        10,
		"tcptw_report_reload.png": 10, // after Reload Lua Plugins
		"gogrpc_calls.png":        10,
		"io_graph.png":            50, // the graphs' colors, the legend, the UAT table
		"prefs_gogrpc.png":        10,
	} {
		if colors[f] < least {
			t.Errorf("%s: the window did not open or looks empty (%d colors, want %d)", f, colors[f], least)
		}
	}
	// The expanded subtrees fill the part of the window that the six
	// collapsed top-level items leave empty.
	if d := ink["packet_details.png"]; d < 0.005 || d < 4*ink["tree_collapsed.png"] {
		t.Errorf("packet details: the subtrees did not expand (dark share %.4f, collapsed %.4f)", d, ink["tree_collapsed.png"])
	}
	checkGUIPrefs(t, filepath.Join(home, ".config", "wireshark", "profiles", "gotcpdump", "preferences"))

	if os.Getenv("GUI_SCREENSHOTS") != "" {
		for _, f := range []string{"main.png", "packet_details.png", "tcptw_report.png", "gogrpc_calls.png", "io_graph.png"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(os.Getenv("GUI_SCREENSHOTS"), f), b, 0o644)
			}
			if err != nil {
				t.Error(err)
			}
		}
	}
}

// guiHome makes a HOME of its own for the GUI, which writes its settings
// there: the plugin (the files TestMain installed) and the profile.
func guiHome(t *testing.T, dir string) string {
	t.Helper()
	home := filepath.Join(dir, "home")
	copyDir := func(from, to string) {
		if err := os.MkdirAll(to, 0o755); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(from)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(from, e.Name()))
			if err == nil {
				err = os.WriteFile(filepath.Join(to, e.Name()), b, 0o755)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	plugins := filepath.Join(".local", "lib", "wireshark", "plugins", "gotcpdump")
	copyDir(filepath.Join(strings.TrimPrefix(pluginEnv[0], "HOME="), plugins), filepath.Join(home, plugins))
	copyDir(filepath.Join(root, "profile", "gotcpdump"), filepath.Join(home, ".config", "wireshark", "profiles", "gotcpdump"))
	return home
}

// checkGUIPrefs: the preferences file the GUI wrote lists every goh2,
// gogrpc and tcptw preference that tshark lists, in its Protocols section.
func checkGUIPrefs(t *testing.T, file string) {
	t.Helper()
	pref := regexp.MustCompile(`^#?((?:goh2|gogrpc|tcptw)\.[a-z0-9_.]+):`)
	var want []string
	for _, line := range strings.Split(tshark(t, pluginEnv, "-G", "defaultprefs"), "\n") {
		if m := pref.FindStringSubmatch(line); m != nil {
			want = append(want, m[1])
		}
	}
	if len(want) < 10 {
		t.Fatalf("tshark -G defaultprefs lists %d goh2, gogrpc and tcptw preferences: %v", len(want), want)
	}
	b, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(b, []byte("# Configuration file for Wireshark")) {
		t.Fatalf("Wireshark did not write its preferences into %s (OK in Edit > Preferences): %v\n%.300s", file, err, b)
	}
	got := map[string]string{} // preference -> section
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if h, ok := strings.CutPrefix(line, "####### "); ok {
			section = strings.TrimSuffix(h, " ########")
		} else if m := pref.FindStringSubmatch(line); m != nil {
			got[m[1]] = section
		}
	}
	for _, p := range want {
		if got[p] != "Protocols" {
			t.Errorf("%s: not under Protocols in the preferences the GUI wrote (section %q)", p, got[p])
		}
	}
}
