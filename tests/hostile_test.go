package tests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHostileCaptures generates hostile captures (testpcaps/gen/hostile:
// bit flips and truncations of the test captures, maximum lengths, HPACK
// bombs, CONTINUATION floods, a million streams, a 4 GiB gRPC message,
// gzip and zstd bombs, protobuf nested 10,000 deep, a flood of 100,000 SYNs) and runs
// tshark with the plugin on each: exit 0, no Lua error, within 10 s of CPU, and
// bounded memory. Files under 1 MB are also printed with -V, which builds
// every tree item. HOSTILE_N sets the corpus size (make test: 60, make
// fuzz: 1000).
func TestHostileCaptures(t *testing.T) {
	t.Parallel()
	n := 60
	if v, err := strconv.Atoi(os.Getenv("HOSTILE_N")); err == nil && v > 0 {
		n = v
	}
	dir := t.TempDir()
	gen := goBuild(t, dir, "./testpcaps/gen/hostile")
	corpus := filepath.Join(dir, "corpus")
	if out, err := exec.Command(gen, "-out", corpus, "-n", strconv.Itoa(n), "-src", filepath.Join(root, "testpcaps")).CombinedOutput(); err != nil {
		t.Fatalf("hostile: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pcap"))
	if len(files) != n {
		t.Fatalf("%d captures, want %d", len(files), n)
	}
	const limit = 10 * time.Second
	const maxRSS = 1536 << 20
	prefs := []string{"-o", "gogrpc.descriptor_sets:" + pcap("grpc_health.pb"), "-o", "gogrpc.ports:50051="}

	type run struct {
		name     string
		wall     time.Duration
		cpu      time.Duration
		rss      int64
		failures []string
	}
	once := func(file string, args ...string) run {
		r := run{name: filepath.Base(file) + " " + strings.Join(args, " ")}
		cores <- struct{}{} // as runLimited, for the timeout below
		defer func() { <-cores }()
		ctx, cancel := context.WithTimeout(context.Background(), 3*limit)
		defer cancel()
		c := exec.CommandContext(ctx, "tshark", append(append([]string{"-r", file}, prefs...), args...)...)
		c.Env = pluginEnv
		var out, errOut bytes.Buffer
		c.Stdout, c.Stderr = &out, &errOut
		start := time.Now()
		err := c.Run()
		r.wall = time.Since(start)
		if c.ProcessState != nil {
			r.rss = c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
			r.cpu = c.ProcessState.UserTime() + c.ProcessState.SystemTime()
		}
		switch {
		case err != nil:
			r.failures = append(r.failures, "exit: "+err.Error()+": "+lastLine(errOut.String()))
		case bytes.Contains(out.Bytes(), []byte("Lua Error")) || bytes.Contains(errOut.Bytes(), []byte("Lua Error")):
			r.failures = append(r.failures, "Lua error")
		}
		// CPU time, not wall time: the two workers share the machine with
		// whatever else runs; the context above bounds the wall time.
		if r.cpu > limit {
			r.failures = append(r.failures, "took "+r.cpu.Round(time.Millisecond).String()+" of CPU")
		}
		if r.rss > maxRSS {
			r.failures = append(r.failures, "peak RSS "+strconv.FormatInt(r.rss>>20, 10)+" MiB")
		}
		// 300 HEADERS of 16 KB that decode to 2 MB each: what goh2 keeps
		// of them must not grow with what they decode to (Wireshark's
		// http2 stays under 200 MiB; kept whole, 800 MiB).
		if strings.HasPrefix(filepath.Base(file), "hpackbomb") && r.rss > 400<<20 {
			r.failures = append(r.failures, "peak RSS "+strconv.FormatInt(r.rss>>20, 10)+" MiB for an HPACK bomb")
		}
		return r
	}

	jobs := make(chan string)
	var mu sync.Mutex
	var runs []run
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				rs := []run{once(f, "-q", "-z", "expert")}
				if st, err := os.Stat(f); err == nil && st.Size() < 1<<20 {
					rs = append(rs, once(f, "-V"))
				}
				mu.Lock()
				runs = append(runs, rs...)
				mu.Unlock()
			}
		}()
	}
	for _, f := range files {
		jobs <- f
	}
	close(jobs)
	wg.Wait()

	sort.Slice(runs, func(i, j int) bool { return runs[i].cpu > runs[j].cpu })
	var worstRSS run
	failed := 0
	for _, r := range runs {
		if r.rss > worstRSS.rss {
			worstRSS = r
		}
		if len(r.failures) > 0 {
			failed++
			t.Errorf("%s: %s", r.name, strings.Join(r.failures, "; "))
		}
	}
	t.Logf("%d captures, %d tshark runs, %d failed; slowest %s (%v CPU, %v wall), worst peak RSS %s (%d MiB)",
		len(files), len(runs), failed, runs[0].name, runs[0].cpu.Round(time.Millisecond), runs[0].wall.Round(time.Millisecond), worstRSS.name, worstRSS.rss>>20)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestLimitsReportExperts: every limit, when hit, says so with an expert
// info, and dissection goes on. The limits are preferences; some are
// lowered here to be hit by small captures.
func TestLimitsReportExperts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gen := goBuild(t, dir, "./testpcaps/gen/hostile")
	corpus := filepath.Join(dir, "corpus")
	if out, err := exec.Command(gen, "-out", corpus, "-n", "9", "-src", filepath.Join(root, "testpcaps")).CombinedOutput(); err != nil {
		t.Fatalf("hostile: %v\n%s", err, out)
	}
	file := func(prefix string) string {
		m, _ := filepath.Glob(filepath.Join(corpus, prefix+"-*.pcap"))
		if len(m) != 1 {
			t.Fatalf("%s: %v", prefix, m)
		}
		return m[0]
	}
	for _, c := range []struct {
		file   string
		args   []string
		expert string // _ws.expert.message contains
	}{
		{file("contflood"), nil, "more than 64 CONTINUATION frames"},
		{file("hpackbomb"), nil, "exceeds the decoder limit 1048576"},
		{file("streams"), []string{"-o", "goh2.max_streams:1000"}, "more than 1000 streams tracked"},
		{file("maxlen"), nil, "exceeds the receiver's SETTINGS_MAX_FRAME_SIZE"},
		{file("gzipbomb"), nil, "decompressed size exceeds the limit"},
		{file("zstdbomb"), nil, "not decompressed"},
		{pcap("grpc_h2c_gzip.pcap"), []string{"-o", "gogrpc.max_message:1000"}, "only the first 1000 are kept"},
		{pcap("grpc_h2c_gzip.pcap"), []string{"-o", "gogrpc.max_decompressed:10"}, "decompressed size exceeds the limit"},
		{file("gzipbomb"), []string{"-o", "gogrpc.max_decompressed:1000000000", "-o", "gogrpc.max_ratio:100"}, "decompressed size exceeds the limit"},
		{file("synflood"), []string{"-o", "tcptw.max_conns:1000"}, "more than tcptw.max_conns (1000) tracked"},
	} {
		args := append([]string{"-r", c.file, "-o", "gogrpc.ports:50051=", "-T", "fields", "-e", "_ws.expert.message"}, c.args...)
		if !strings.Contains(tshark(t, pluginEnv, args...), c.expert) {
			t.Errorf("%s %v: no expert info %q", filepath.Base(c.file), c.args, c.expert)
		}
	}
	// The ratio is what refused the bomb above: with room for it, the
	// same message inflates.
	out := tshark(t, pluginEnv, "-r", file("gzipbomb"), "-o", "gogrpc.ports:50051=", "-o", "gogrpc.max_decompressed:1000000000",
		"-o", "gogrpc.max_ratio:100000", "-T", "fields", "-e", "_ws.expert.message", "-e", "gogrpc.decompressed_length")
	if strings.Contains(out, "exceeds the limit") || !strings.Contains(out, "67108864") {
		t.Errorf("with a ratio of 100,000 the 64 MiB bomb should inflate:\n%.500s", out)
	}
}
