package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// recipe is a command that README.md shows with its output.
type recipe struct {
	line    int    // of the command in README.md
	dir     string // where it runs
	command string // continuation lines joined
	want    []string
}

// readmeRecipes reads the commands of README.md's sh blocks that start
// with tshark, editcap or twreport (or cd), and the lines under each up to
// a blank or comment line: its output. A block runs from the repository
// root, or from testpcaps/ under "## tshark recipes" (as the README says),
// and a cd moves it.
func readmeRecipes(t *testing.T) []recipe {
	src, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []recipe
	var cur *recipe
	inBlock, section, dir := false, "", root
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "## "):
			section = l
		case strings.HasPrefix(l, "```"):
			inBlock = !inBlock && l == "```sh"
			cur, dir = nil, root
			if section == "## tshark recipes" {
				dir = filepath.Join(root, "testpcaps")
			}
			continue
		}
		if !inBlock {
			continue
		}
		first, _, _ := strings.Cut(l, " ")
		switch {
		case first == "cd":
			dir = filepath.Join(dir, strings.TrimSpace(l[3:]))
			cur = nil
		case first == "tshark" || first == "editcap" || strings.HasSuffix(first, "twreport"):
			out = append(out, recipe{line: i + 1, dir: dir})
			cur = &out[len(out)-1]
			// A command goes on after a backslash, or inside a quoted
			// jq program.
			cmd := l
			for (strings.HasSuffix(cmd, "\\") || strings.Count(cmd, "'")%2 == 1) && i+1 < len(lines) {
				i++
				cmd += "\n" + lines[i]
			}
			cur.command = cmd
		case l == "" || strings.HasPrefix(l, "#"):
			cur = nil
		case cur != nil:
			cur.want = append(cur.want, l)
		}
	}
	return out
}

// matchElided reports whether got is want, where a "…" line in want
// stands for any lines (none included).
func matchElided(got, want []string) bool {
	var parts [][]string
	part := []string{}
	for _, w := range want {
		if w == "…" {
			parts = append(parts, part)
			part = []string{}
			continue
		}
		part = append(part, w)
	}
	parts = append(parts, part)
	at := func(i int, p []string) bool {
		if i < 0 || i+len(p) > len(got) {
			return false
		}
		for j := range p {
			if got[i+j] != p[j] {
				return false
			}
		}
		return true
	}
	if len(parts) == 1 {
		return len(got) == len(want) && at(0, want)
	}
	first, last := parts[0], parts[len(parts)-1]
	if !at(0, first) || !at(len(got)-len(last), last) {
		return false
	}
	pos, end := len(first), len(got)-len(last)
	for _, p := range parts[1 : len(parts)-1] {
		for pos+len(p) <= end && !at(pos, p) {
			pos++
		}
		if pos+len(p) > end {
			return false
		}
		pos += len(p)
	}
	return pos <= end
}

// TestReadmeRecipes runs the README's tshark, editcap and twreport
// commands in order, with the plugin installed and build/out on the PATH,
// and compares the output of each that the README shows output for.
func TestReadmeRecipes(t *testing.T) {
	t.Parallel()
	recipes := readmeRecipes(t)
	shown := 0
	for _, r := range recipes {
		c := exec.Command("sh", "-c", r.command)
		c.Dir = r.dir
		c.Env = append([]string{"PATH=" + filepath.Join(root, "build", "out") + ":" + os.Getenv("PATH")}, pluginEnv[:1]...)
		c.Env = append(c.Env, pluginEnv[2:]...)
		var stdout, stderr bytes.Buffer
		c.Stdout, c.Stderr = &stdout, &stderr
		err := runLimited(c) // one command: a tshark, editcap or twreport
		if strings.Contains(stdout.String()+stderr.String(), "Lua Error") {
			t.Errorf("README.md:%d: %s\nprinted a Lua Error:\n%s%s", r.line, r.command, stdout.String(), stderr.String())
		}
		if len(r.want) == 0 {
			// Shown without its output: it must still run, but for
			// jq -e, whose status is the point (1: a finding).
			if err != nil && !strings.Contains(r.command, "jq -e") {
				t.Errorf("README.md:%d: %s\nfailed: %v\n%s", r.line, r.command, err, stderr.String())
			}
			continue
		}
		shown++
		// The README shows Wireshark 4.0's output; 4.4 prints booleans
		// as True and False.
		got := strings.Split(strings.TrimRight(boolDigits(stdout.String()), "\n"), "\n")
		if err != nil || !matchElided(got, r.want) {
			t.Errorf("README.md:%d: %s\n(exit %v) printed:\n%s\nThe README shows:\n%s\n%s", r.line, r.command, err,
				strings.Join(got, "\n"), strings.Join(r.want, "\n"), stderr.String())
		}
	}
	if shown < 20 {
		t.Errorf("only %d commands with their output found in README.md", shown)
	}
}

func TestMatchElided(t *testing.T) {
	t.Parallel()
	got := []string{"a", "b", "c", "d", "e"}
	for _, c := range []struct {
		want string
		ok   bool
	}{
		{"a b c d e", true}, {"a b c d", false}, {"a b … e", true}, {"… c …", true}, {"a … c … e", true},
		{"… b c", false}, {"a … x …", false}, {"…", true}, {"a b c d e …", true}, {"e …", false},
	} {
		if matchElided(got, strings.Fields(c.want)) != c.ok {
			t.Errorf("%q: want %v", c.want, c.ok)
		}
	}
}
