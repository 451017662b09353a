package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDeb builds the Debian package with build/deb.sh, checks what it
// holds, and installs it with dpkg -i into a copy of the clean Debian 13
// chroot of build/chroot.sh (Wireshark 4.4 with Lua 5.4, where the host
// has 4.0 with Lua 5.2). There, as root with an empty HOME, the chroot's
// own tshark must find the plugin and the profile in its global folders,
// decode the goh2 fields as the host does, and print the TIME_WAIT
// report as the installed twreport does; the commands and their man pages
// must be in place, and dpkg --purge must leave nothing behind.
//
// The base chroot is never written to: every command runs in a private
// mount namespace (unshare) on an overlay of it, whose upper layer is a
// temporary directory, so no mount outlives the command however the test
// ends. Where overlayfs cannot be used the chroot is copied instead.
func TestDeb(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("TestDeb needs root: it makes a chroot and installs the package into it with dpkg -i")
	}
	start := time.Now()
	base := filepath.Join(root, "build", "chroot", "trixie")
	if out, err := exec.Command(filepath.Join(root, "build", "chroot.sh"), base).CombinedOutput(); err != nil {
		t.Fatalf("build/chroot.sh: %v\n%s", err, out)
	}
	// chroot.sh rebuilds a chroot only under an exclusive lock.
	if lock, err := os.Open(base + ".lock"); err == nil {
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
			t.Fatal(err)
		}
	}

	tmp := t.TempDir()
	b := exec.Command(filepath.Join(root, "build", "deb.sh"), tmp)
	b.Dir = root
	if out, err := b.CombinedOutput(); err != nil {
		t.Fatalf("build/deb.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "gotcpdump_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("build/deb.sh made %v", debs)
	}
	deb := debs[0]
	t.Logf("%s built in %v", filepath.Base(deb), time.Since(start).Round(time.Second))

	plugDir, profDir, unpacked := checkDebContents(t, deb)

	t.Run("Wireshark 4.0 (host)", func(t *testing.T) {
		// The package's files over the host's global folders, seen only
		// by this tshark (a read-only overlay in its own mount namespace).
		script := `for d in "$2" "$3"; do mount -t overlay overlay -o "lowerdir=$1$d:$d" "$d" || exit 125; done; t=$4; shift 4; exec "$t" "$@"`
		home := t.TempDir()
		run := func(args ...string) string {
			cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "/bin/sh", "-c", script, "sh",
				unpacked, filepath.Dir(plugDir), filepath.Dir(profDir), hostTshark}, args...)...)
			cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "TZ=UTC", "LANG=C.UTF-8"}
			out, err := cmd.CombinedOutput()
			if err != nil || strings.Contains(string(out), "Lua Error") {
				t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return string(out)
		}
		if out := run("-G", "plugins"); !strings.Contains(out, plugDir+"/goh2.lua") {
			t.Errorf("the host's tshark does not load %s/goh2.lua:\n%s", plugDir, grepLines(out, "lua"))
		}
		if out := run("-r", pcap("h2c_go.pcap"), "-Y", "goh2.method", "-T", "fields", "-e", "goh2.method", "-e", "goh2.path"); !strings.Contains(out, "GET\t/hello") {
			t.Errorf("no goh2 fields:\n%s", out)
		}
		if out := run("-C", "gotcpdump", "-r", pcap("tw_healthz_storm.pcap"), "-Y", "tcptw.tw_enter"); !regexp.MustCompile(`10\.251\.\d+\.2\S*\s+\d+`).MatchString(out) {
			t.Errorf("no TIME_WAIT columns with the global profile:\n%.600s", out)
		}
	})

	c := newChroot(t, base, filepath.Join(tmp, "chroot"))
	c.put(t, deb, "gotcpdump.deb")
	for _, p := range []string{"h2c_go.pcap", "tw_healthz_storm.pcap"} {
		c.put(t, pcap(p), p)
	}

	t.Run("dpkg -i", func(t *testing.T) {
		out, err := c.run("dpkg", "-i", "/test/gotcpdump.deb")
		if err != nil || regexp.MustCompile(`(?i)dependency problems|depends on|unmet|warning|error`).MatchString(out) {
			t.Fatalf("dpkg -i: %v\n%s", err, out)
		}
		if out, err := c.run("dpkg-query", "-W", "-f", "${Status}", "gotcpdump"); err != nil || out != "install ok installed" {
			t.Fatalf("dpkg-query: %v %q", err, out)
		}
		if out, err := c.run("dpkg", "--verify", "gotcpdump"); err != nil || out != "" {
			t.Errorf("dpkg --verify (md5sums): %v\n%s", err, out)
		}
		if out, err := c.run("dpkg", "--audit"); err != nil || out != "" {
			t.Errorf("dpkg --audit: %v\n%s", err, out)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("Wireshark 4.4 folders", func(t *testing.T) {
		v := c.tshark(t, "-v")
		if !strings.Contains(v, "TShark (Wireshark) 4.4.") || !strings.Contains(v, "Lua 5.4") {
			t.Fatalf("the chroot's tshark is not Wireshark 4.4 with Lua 5.4:\n%.300s", v)
		}
		folders := c.tshark(t, "-G", "folders")
		if got := folder(folders, "Global Lua Plugins") + "/gotcpdump"; got != plugDir {
			t.Errorf("Wireshark 4.4's global Lua plugin folder is %s, the package installs into %s", got, plugDir)
		}
		if got := folder(folders, "Global configuration") + "/profiles/gotcpdump"; got != profDir {
			t.Errorf("Wireshark 4.4's global profiles are in %s, the package installs into %s", got, profDir)
		}
		plugins := c.tshark(t, "-G", "plugins")
		for _, f := range []string{"goh2.lua", "tcptw.lua"} {
			if !strings.Contains(plugins, plugDir+"/"+f) {
				t.Errorf("tshark -G plugins does not list %s/%s:\n%s", plugDir, f, grepLines(plugins, "lua"))
			}
		}
	})

	t.Run("goh2 decodes", func(t *testing.T) {
		args := []string{"-Y", "goh2", "-T", "fields", "-e", "frame.number", "-e", "goh2.streamid", "-e", "goh2.type",
			"-e", "goh2.method", "-e", "goh2.path", "-e", "goh2.status", "-e", "goh2.settings.id", "-e", "goh2.flow.conn_window"}
		got := c.tshark(t, append([]string{"-r", "/test/h2c_go.pcap"}, args...)...)
		if !strings.Contains(got, "GET\t/hello") {
			t.Errorf("no goh2 request fields:\n%.1000s", got)
		}
		// The same plugin under Wireshark 4.0 on the host.
		want := tshark(t, pluginEnv, append([]string{"-r", pcap("h2c_go.pcap")}, args...)...)
		if got != want {
			t.Errorf("Wireshark 4.4 (chroot) and 4.0 (host) decode differently:\n%s", firstDiff(want, got))
		}
	})

	t.Run("tcptw report", func(t *testing.T) {
		got := c.tshark(t, "-q", "-r", "/test/tw_healthz_storm.pcap", "-z", "tcptw,report")
		if !strings.Contains(got, "TIME_WAIT report") || !strings.Contains(got, "Findings") {
			t.Fatalf("no TIME_WAIT report:\n%s", got)
		}
		want, err := c.run("twreport", "/test/tw_healthz_storm.pcap")
		if err != nil {
			t.Fatalf("twreport in the chroot: %v\n%s", err, want)
		}
		if got != want {
			t.Errorf("tshark -z tcptw,report differs from twreport:\n%s", firstDiff(want, got))
		}
	})

	t.Run("global profile", func(t *testing.T) {
		lines := c.tshark(t, "-C", "gotcpdump", "-r", "/test/tw_healthz_storm.pcap", "-Y", "tcptw.tw_enter")
		if !regexp.MustCompile(`10\.251\.\d+\.2\S*\s+\d+`).MatchString(lines) {
			t.Errorf("no TIME_WAIT holder and population columns with -C gotcpdump:\n%.600s", lines)
		}
	})

	t.Run("commands and man pages", func(t *testing.T) {
		for _, args := range [][]string{{"gotcpdump", "--help"}, {"gotcpdump", "watch", "--help"}, {"twreport", "--help"}} {
			if out, err := c.run(args...); err != nil || !strings.Contains(out, "  -") {
				t.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		if out, err := c.run("gotcpdump", "-D"); err != nil || !strings.Contains(out, "any (Pseudo-device") {
			t.Errorf("gotcpdump -D: %v\n%s", err, out)
		}
		pages := map[string]string{"gotcpdump": "/usr/share/man/man8/gotcpdump.8.gz", "twreport": "/usr/share/man/man1/twreport.1.gz"}
		if _, err := c.run("test", "-x", "/usr/bin/man"); err == nil {
			for name, want := range pages {
				if out, err := c.run("man", "-w", name); err != nil || strings.TrimSpace(out) != want {
					t.Errorf("man -w %s: %v %q, want %s", name, err, out, want)
				}
			}
		} else {
			for _, p := range pages {
				if out, err := c.run("sh", "-c", "gzip -dc "+p+" | head -c 100"); err != nil || !strings.Contains(out, ".\\\"") {
					t.Errorf("%s: %v %q", p, err, out)
				}
			}
		}
	})

	t.Run("dpkg --purge", func(t *testing.T) {
		if out, err := c.run("dpkg", "--purge", "gotcpdump"); err != nil {
			t.Fatalf("dpkg --purge: %v\n%s", err, out)
		}
		for _, p := range []string{plugDir, profDir, "/usr/bin/gotcpdump", "/usr/bin/twreport", "/usr/share/doc/gotcpdump"} {
			if _, err := c.run("test", "!", "-e", p); err != nil {
				t.Errorf("%s is left after dpkg --purge", p)
			}
		}
	})
	t.Logf("TestDeb took %v", time.Since(start).Round(time.Second))
}

// hostTshark is the host's own tshark, Wireshark 4.0 on Debian 12, even
// where PATH leads to another (make test-ws44).
const hostTshark = "/usr/bin/tshark"

// checkDebContents checks the package's control fields and files on the
// host, where Wireshark is 4.0, and returns the plugin and profile folders
// it installs into and where it is unpacked.
func checkDebContents(t *testing.T, deb string) (plugDir, profDir, unpacked string) {
	t.Helper()
	info, err := exec.Command("dpkg-deb", "-f", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v", err)
	}
	arch, _ := exec.Command("dpkg", "--print-architecture").Output()
	fields := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z-]+): (.*)$`).FindAllStringSubmatch(string(info), -1) {
		fields[m[1]] = m[2]
	}
	if fields["Package"] != "gotcpdump" || fields["Architecture"] != strings.TrimSpace(string(arch)) || fields["Maintainer"] == "" || fields["Installed-Size"] == "" {
		t.Errorf("control fields:\n%s", info)
	}
	if err := exec.Command("dpkg", "--validate-version", fields["Version"]).Run(); err != nil {
		t.Errorf("version %q: %v", fields["Version"], err)
	}
	for _, dep := range []string{`libc6 \(>= 2\.\d+\)`, `libpcap0\.8 \(>= [\d.]+\) \| libpcap0\.8t64 \(>= [\d.]+\)`, `tshark \(>= 4\.0\) \| wireshark \(>= 4\.0\)`} {
		if !regexp.MustCompile(dep).MatchString(fields["Depends"]) {
			t.Errorf("Depends %q lacks %s", fields["Depends"], dep)
		}
	}

	// The host's Wireshark 4.0 uses the same folders as 4.4.
	out, err := exec.Command(hostTshark, "-G", "folders").Output()
	if err != nil {
		t.Fatal(err)
	}
	plugDir = folder(string(out), "Global Lua Plugins") + "/gotcpdump"
	profDir = folder(string(out), "Global configuration") + "/profiles/gotcpdump"
	list, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "root/root" {
			t.Errorf("not owned by root: %s", line)
			continue
		}
		files[strings.TrimPrefix(f[len(f)-1], ".")] = f[0]
	}
	want := map[string]string{
		"/usr/bin/gotcpdump":                 "-rwxr-xr-x",
		"/usr/bin/twreport":                  "-rwxr-xr-x",
		"/usr/share/man/man8/gotcpdump.8.gz": "-rw-r--r--",
		"/usr/share/man/man1/twreport.1.gz":  "-rw-r--r--",
		"/usr/share/doc/gotcpdump/copyright": "-rw-r--r--",
		profDir + "/preferences":             "-rw-r--r--",
		profDir + "/colorfilters":            "-rw-r--r--",
		profDir + "/io_graphs":               "-rw-r--r--",
	}
	for _, f := range []string{"goh2.lua", "tcptw.lua", "gotcpdump.luainc", "goshim52.so", "goshim54.so", "libgoparser.so"} {
		want[plugDir+"/"+f] = "-rw-r--r--"
	}
	for f, mode := range want {
		if files[f] != mode {
			t.Errorf("%s: mode %q in the package, want %q", f, files[f], mode)
		}
	}
	for f, mode := range files {
		if _, ok := want[f]; !ok && !strings.HasPrefix(mode, "d") {
			t.Errorf("unexpected file %s in the package", f)
		}
	}

	// md5sums, the copyright file and the man pages, unpacked.
	x := filepath.Join(t.TempDir(), "x")
	if out, err := exec.Command("dpkg-deb", "-R", deb, x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -R: %v\n%s", err, out)
	}
	md5 := exec.Command("md5sum", "--quiet", "-c", "DEBIAN/md5sums")
	md5.Dir = x
	if out, err := md5.CombinedOutput(); err != nil {
		t.Errorf("md5sums: %v\n%s", err, out)
	}
	sums, _ := os.ReadFile(filepath.Join(x, "DEBIAN", "md5sums"))
	if n := strings.Count(string(sums), "\n"); n != len(want) {
		t.Errorf("md5sums has %d lines for %d files", n, len(want))
	}
	cr, _ := os.ReadFile(filepath.Join(x, "usr", "share", "doc", "gotcpdump", "copyright"))
	for _, mod := range []string{"Go standard library", "golang.org/x/net", "github.com/gopacket/gopacket", "google.golang.org/grpc"} {
		if !bytes.Contains(cr, []byte("== "+mod)) {
			t.Errorf("the copyright file does not cover %s", mod)
		}
	}
	for _, p := range []string{"man8/gotcpdump.8.gz", "man1/twreport.1.gz"} {
		cmd := exec.Command("man", "--warnings", "-l", filepath.Join(x, "usr", "share", "man", p))
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if out, err := cmd.Output(); err != nil || stderr.Len() > 0 || !bytes.Contains(out, []byte("SYNOPSIS")) {
			t.Errorf("man -l %s: %v\n%s", p, err, stderr.String())
		}
	}
	return plugDir, profDir, x
}

// folder returns the folder named name in tshark -G folders output.
func folder(folders, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:\s*(/\S*)\s*$`).FindStringSubmatch(folders)
	if m == nil {
		return "(none)"
	}
	return m[1]
}

// chroot is a writable copy of a base chroot: an overlay with the upper
// layer in dir, mounted for each command in a mount namespace of its own,
// or a plain copy where overlayfs is not available.
type chroot struct {
	base, dir string
	overlay   bool
}

func newChroot(t *testing.T, base, dir string) *chroot {
	t.Helper()
	c := &chroot{base: base, dir: dir, overlay: true}
	for _, d := range []string{"upper/test/home", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := c.run("true"); err != nil {
		t.Logf("no overlay (%v: %s); copying the chroot", err, strings.TrimSpace(out))
		c.overlay = false
		os.RemoveAll(filepath.Join(dir, "merged"))
		if out, err := exec.Command("cp", "-a", base, filepath.Join(dir, "merged")).CombinedOutput(); err != nil {
			t.Fatalf("cp -a %s: %v\n%s", base, err, out)
		}
		if err := os.MkdirAll(filepath.Join(dir, "merged", "test", "home"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// put copies a host file to /test/name in the chroot (into the upper
// layer while nothing is mounted).
func (c *chroot) put(t *testing.T, src, name string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	layer := "merged"
	if c.overlay {
		layer = "upper"
	}
	if err := os.WriteFile(filepath.Join(c.dir, layer, "test", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cmd is a command in the chroot, run as root with HOME=/test/home, a
// clean environment and /proc mounted, in a mount namespace of its own.
func (c *chroot) cmd(args ...string) *exec.Cmd {
	script := `m=$1 b=$2 d=$3; shift 3
if [ -n "$b" ]; then mount -t overlay overlay -o "lowerdir=$b,upperdir=$d/upper,workdir=$d/work" "$m" || exit 125; fi
mount -t proc proc "$m/proc" || exit 125
exec chroot "$m" /usr/bin/env -i HOME=/test/home PATH=/usr/sbin:/usr/bin:/sbin:/bin TZ=UTC LANG=C.UTF-8 "$@"`
	lower := ""
	if c.overlay {
		lower = c.base
	}
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private",
		"/bin/sh", "-c", script, "sh", filepath.Join(c.dir, "merged"), lower, c.dir}, args...)...)
}

// run runs a command in the chroot and returns its stdout and stderr
// together.
func (c *chroot) run(args ...string) (string, error) {
	out, err := c.cmd(args...).CombinedOutput()
	return string(out), err
}

// tshark runs the chroot's tshark and returns its stdout; as with
// tshark(), a failure, a Lua error or anything on stderr but the warning
// about running as root fails the test.
func (c *chroot) tshark(t *testing.T, args ...string) string {
	t.Helper()
	cmd := c.cmd(append([]string{"tshark"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	errText := strings.TrimSpace(strings.ReplaceAll(stderr.String(), `Running as user "root" and group "root". This could be dangerous.`, ""))
	what := "tshark " + strings.Join(args, " ") + " in the chroot"
	switch {
	case err != nil:
		t.Fatalf("%s: %v\n%s", what, err, errText)
	case strings.Contains(stdout.String()+errText, "Lua Error"):
		t.Fatalf("%s printed a Lua error:\n%s%s", what, grepLines(stdout.String(), "Lua Error"), errText)
	case errText != "":
		t.Fatalf("%s wrote to stderr:\n%s", what, errText)
	}
	return stdout.String()
}
