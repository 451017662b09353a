package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTwreportGolden runs twreport on the committed TIME_WAIT captures and
// compares its text report with testpcaps/golden (go test -update
// rewrites them; review the diff).
func TestTwreportGolden(t *testing.T) {
	parallelUnlessUpdating(t)
	bin := goBuild(t, t.TempDir(), "./cmd/twreport")
	caps, _ := filepath.Glob(filepath.Join(root, "testpcaps", "tw_*.pcap"))
	if len(caps) < 7 {
		t.Fatalf("only %d TIME_WAIT captures", len(caps))
	}
	for _, c := range caps {
		name := strings.TrimSuffix(filepath.Base(c), ".pcap")
		t.Run(name, func(t *testing.T) {
			out, err := exec.Command(bin, c).Output()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(root, "testpcaps", "golden", name+".txt")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(want) {
				t.Fatalf("report differs from %s:\n%s", golden, firstDiff(string(want), string(out)))
			}
			js, err := exec.Command(bin, "--json", "--timeline", c).Output()
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Hosts []struct {
					Address  string       `json:"address"`
					Peak     *int         `json:"peak"`
					PeakTime *float64     `json:"peak_time"`
					Timeline [][2]float64 `json:"timeline"`
				} `json:"hosts"`
			}
			if err := json.Unmarshal(js, &r); err != nil {
				t.Fatal(err)
			}
			for _, h := range r.Hosts {
				if h.Address == "" || h.Peak == nil || h.PeakTime == nil || len(h.Timeline) == 0 {
					t.Errorf("host object lacks address, peak, peak_time or timeline: %+v", h)
				}
			}
		})
	}
}
