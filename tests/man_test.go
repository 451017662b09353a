package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestManPages keeps docs/man from going stale: each command's --help
// flags are the flags its page describes (no more, no fewer, in the right
// section), each with the default --help prints; every metric the page
// lists is one gotcpdump watch registers; and groff renders the pages
// without a warning (-ww), as does man, at the width of a terminal.
func TestManPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gotcpdump := goBuild(t, dir, "./cmd/gotcpdump")
	twreport := goBuild(t, dir, "./cmd/twreport")
	for _, c := range []struct {
		page, section string
		help          []string
	}{
		{"gotcpdump.8", "OPTIONS", []string{gotcpdump, "--help"}},
		{"gotcpdump.8", "WATCH OPTIONS", []string{gotcpdump, "watch", "--help"}},
		{"twreport.1", "OPTIONS", []string{twreport, "--help"}},
	} {
		t.Run(strings.Join(append([]string{c.page}, c.help[1:]...), " "), func(t *testing.T) {
			out, err := exec.Command(c.help[0], c.help[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(c.help[1:], " "), err, out)
			}
			flags := helpFlags(string(out))
			if len(flags) < 4 {
				t.Fatalf("only %d flags parsed from:\n%s", len(flags), out)
			}
			src, err := os.ReadFile(filepath.Join(root, "docs", "man", c.page))
			if err != nil {
				t.Fatal(err)
			}
			items := manItems(string(src), c.section)
			documented := map[string]string{} // flag -> its item's text
			for _, it := range items {
				for _, f := range tagFlags(it.tag) {
					documented[f] = it.body
				}
			}
			for name, def := range flags {
				body, ok := documented[name]
				if !ok {
					t.Errorf("%s is not described under %s", dash(name), c.section)
					continue
				}
				if def == "" {
					continue
				}
				m := regexp.MustCompile(`Default: (\S+?)[.,]?(?:\s|$)`).FindStringSubmatch(body)
				if m == nil {
					t.Errorf("%s: --help says the default is %s, the page gives none", dash(name), def)
				} else if !sameDefault(def, m[1]) {
					t.Errorf("%s: --help says the default is %s, the page says %s", dash(name), def, m[1])
				}
			}
			for name := range documented {
				if _, ok := flags[name]; !ok && name != "h" && name != "help" {
					t.Errorf("%s describes %s, which the command does not have", c.section, dash(name))
				}
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		src, _ := os.ReadFile(filepath.Join(root, "docs", "man", "gotcpdump.8"))
		code, _ := os.ReadFile(filepath.Join(root, "cmd", "gotcpdump", "watch.go"))
		re := regexp.MustCompile(`gotcpdump_[a-z_]+[a-z]`)
		onPage := map[string]bool{}
		for _, m := range re.FindAllString(string(src), -1) {
			onPage[m] = true
		}
		var registered []string
		for _, m := range regexp.MustCompile(`"(gotcpdump_[a-z_]+)"`).FindAllStringSubmatch(string(code), -1) {
			registered = append(registered, m[1])
			if !onPage[m[1]] {
				t.Errorf("metric %s is not on the page", m[1])
			}
		}
		for m := range onPage {
			if !slices.Contains(registered, m) {
				t.Errorf("the page lists %s, which gotcpdump watch does not serve", m)
			}
		}
	})

	t.Run("render", func(t *testing.T) {
		for _, page := range []string{"gotcpdump.8", "twreport.1"} {
			f := filepath.Join(root, "docs", "man", page)
			for _, args := range [][]string{{"-man", "-ww", "-z", f}, {"-man", "-Tutf8", "-ww", "-z", f}} {
				out, err := exec.Command("groff", args...).CombinedOutput()
				if err != nil || len(out) > 0 {
					t.Errorf("groff %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			if _, err := exec.LookPath("man"); err == nil {
				cmd := exec.Command("man", "--warnings", "-l", f)
				cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat")
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil || stderr.Len() > 0 || !strings.Contains(string(out), "EXIT STATUS") {
					t.Errorf("man --warnings -l %s: %v\n%s", page, err, stderr.String())
				}
			}
			if _, err := exec.LookPath("lexgrog"); err == nil {
				// what whatis and apropos will say
				if out, err := exec.Command("lexgrog", f).CombinedOutput(); err != nil || !strings.Contains(string(out), strings.Split(page, ".")[0]+" - ") {
					t.Errorf("lexgrog %s: %v\n%s", page, err, out)
				}
			}
		}
	})
}

// helpFlags parses the flag package's usage output: flag name -> its
// default as printed ("" when none is).
func helpFlags(help string) map[string]string {
	flags := map[string]string{}
	var name, usage string
	flush := func() {
		if name == "" {
			return
		}
		def := ""
		if m := regexp.MustCompile(`\(default (.+)\)$`).FindStringSubmatch(strings.TrimSpace(usage)); m != nil {
			def = m[1]
		}
		flags[name] = def
		name, usage = "", ""
	}
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			flush()
			f := strings.SplitN(strings.TrimPrefix(line, "  -"), "\t", 2)
			name = strings.Fields(f[0])[0]
			if len(f) == 2 {
				usage = f[1]
			}
		case strings.HasPrefix(line, "    \t"):
			usage += " " + strings.TrimSpace(line)
		}
	}
	flush()
	return flags
}

type manItem struct{ tag, body string }

// manItems returns the tagged paragraphs (.TP) of the section named
// section, as plain text.
func manItems(src, section string) []manItem {
	var items []manItem
	in, inItem, tagNext := false, false, false
	for _, line := range strings.Split(src, "\n") {
		macro := ""
		if strings.HasPrefix(line, ".") {
			macro = strings.Fields(line + " ")[0]
		}
		switch {
		case macro == ".SH":
			in = strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, ".SH")), `"`) == section
			inItem, tagNext = false, false
		case !in || macro == `.\"`:
		case macro == ".TP":
			tagNext, inItem = true, false
		case tagNext:
			items = append(items, manItem{tag: roffText(line)})
			tagNext, inItem = false, true
		case macro == ".PP" || macro == ".P" || macro == ".LP" || macro == ".SS" || macro == ".RS":
			inItem = false
		case inItem:
			items[len(items)-1].body += " " + roffText(line)
		}
	}
	return items
}

// roffText is a line of roff source as text: no font macros or escapes.
func roffText(line string) string {
	if strings.HasPrefix(line, ".") {
		_, line, _ = strings.Cut(line, " ")
		line = strings.ReplaceAll(line, `"`, "")
	}
	line = regexp.MustCompile(`\\f[BIRP]`).ReplaceAllString(line, "")
	return strings.NewReplacer(`\-`, "-", `\%`, "", `\&`, "", `\~`, " ", `\(aq`, "'", `\e`, `\`).Replace(line)
}

// tagFlags returns the flags named in a .TP tag, without dashes.
func tagFlags(tag string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?:^|[\s,])--?([A-Za-z][A-Za-z0-9-]*)`).FindAllStringSubmatch(tag, -1) {
		out = append(out, m[1])
	}
	return out
}

// dash writes a flag as the pages do: -x, --name.
func dash(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// sameDefault compares a default as --help prints it with the page's:
// strings unquoted, durations and numbers by value (1m0s is 1m).
func sameDefault(help, page string) bool {
	if s, err := strconv.Unquote(help); err == nil {
		help = s
	}
	if help == page {
		return true
	}
	if a, err := time.ParseDuration(help); err == nil {
		b, err := time.ParseDuration(page)
		return err == nil && a == b
	}
	a, err1 := strconv.ParseFloat(help, 64)
	b, err2 := strconv.ParseFloat(page, 64)
	return err1 == nil && err2 == nil && a == b
}
