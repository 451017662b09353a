package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "github.com/gotcpdump/gotcpdump/goparser/gogrpc" // registers gogrpc's fields and experts
	_ "github.com/gotcpdump/gotcpdump/goparser/h2"     // registers goh2's
	"github.com/gotcpdump/gotcpdump/goparser/result"
	"github.com/gotcpdump/gotcpdump/goparser/schema"
	_ "github.com/gotcpdump/gotcpdump/goparser/tcptw" // registers tcptw's
)

// The protocols of the plugin, in the order the README lists them.
var refProtocols = []string{"goh2", "gogrpc", "tcptw"}

// refName is a name of the plugin as it appears in text: a field, expert
// or preference of goh2, gogrpc or tcptw (goh2.flow.blocked).
var refName = regexp.MustCompile(`\b(?:goh2|gogrpc|tcptw)(?:\.[a-z0-9_]+)+`)

// TestReadmeReference keeps the reference in README.md in step with the
// plugin. The tables between "<!-- BEGIN generated NAME" and "<!-- END
// generated NAME -->" are generated from what the installed plugin
// registers: fields from tshark -G fields, preferences from tshark -G
// defaultprefs, and expert infos from the Go schema that the Lua side
// creates its ProtoExpert objects from (tshark 4.0 has no -G expert; the
// test checks that tshark knows each of them as a field). Every field,
// expert and preference must appear in the README, every goh2., gogrpc. and
// tcptw. name anywhere in the README must be one the plugin registers, and
// every link of the table of contents must lead to a heading.
//
//	go test ./tests -run TestReadmeReference -update
//
// rewrites the generated tables (review the diff).
func TestReadmeReference(t *testing.T) {
	parallelUnlessUpdating(t)
	ref := pluginReference(t)
	blocks := ref.blocks()

	file := filepath.Join(root, "README.md")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if *update {
		for _, name := range blockNames(blocks) {
			if readme, err = replaceBlock(readme, name, blocks[name]); err != nil {
				t.Fatal(err)
			}
		}
		if readme != string(b) {
			if err := os.WriteFile(file, []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote the generated tables of %s", file)
		}
	}

	for _, name := range blockNames(blocks) {
		got, ok := generatedBlock(readme, name)
		switch {
		case !ok:
			t.Errorf("README.md has no generated table %q (between <!-- BEGIN generated %s --> and <!-- END generated %s -->)", name, name, name)
		case got != blocks[name]:
			t.Errorf("README.md: the table %q is not what the plugin registers (go test ./tests -run TestReadmeReference -update rewrites it):\n%s",
				name, tableDiff(got, blocks[name]))
		}
	}

	// Every name the plugin registers is documented...
	for _, names := range [][]string{ref.fieldNames(), ref.expertNames(), ref.prefNames()} {
		for _, n := range names {
			if !strings.Contains(readme, "`"+n+"`") {
				t.Errorf("README.md does not document %s", n)
			}
		}
	}
	// ...and every name the README uses is registered.
	known := map[string]bool{}
	for _, names := range [][]string{ref.fieldNames(), ref.expertNames(), ref.prefNames()} {
		for _, n := range names {
			known[n] = true
		}
	}
	for i, line := range strings.Split(readme, "\n") {
		for _, loc := range refName.FindAllStringIndex(line, -1) {
			n := line[loc[0]:loc[1]]
			if strings.HasSuffix(n, ".lua") || strings.HasSuffix(n, ".luainc") || (loc[0] > 0 && line[loc[0]-1] == '/') {
				continue // a file of the plugin, or a path
			}
			if !known[n] {
				t.Errorf("README.md:%d: %s is no field, expert info or preference of the plugin", i+1, n)
			}
		}
	}

	// The table of contents leads to headings.
	anchors := headingAnchors(readme)
	for _, m := range regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(readme, -1) {
		if !anchors[m[1]] {
			t.Errorf("README.md links to #%s, which no heading has", m[1])
		}
	}
}

type refField struct{ abbrev, name, ftype, desc string }

type refExpert struct{ abbrev, text, group, severity string }

type refPref struct{ name, def, kind, desc string }

// reference is what the plugin registers, per protocol.
type reference struct {
	fields  map[string][]refField
	experts map[string][]refExpert
	prefs   map[string][]refPref
}

func pluginReference(t *testing.T) *reference {
	t.Helper()
	ref := &reference{fields: map[string][]refField{}, experts: map[string][]refExpert{}, prefs: map[string][]refPref{}}

	// The Go schema: which names are expert infos, with their severity.
	var enc result.Encoder
	schema.Encode(&enc)
	raw, err := enc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := result.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := v.(map[any]any)
	goFields := map[string]bool{}
	for _, f := range asList(top["fields"]) {
		if row := asList(f); len(row) > 2 && row[2] != "PROTOCOL" {
			goFields[fmt.Sprint(row[0])] = true
		}
	}
	goExperts := map[string]bool{}
	for _, x := range asList(top["experts"]) {
		row := asList(x)
		if len(row) < 4 {
			t.Fatalf("schema expert %v", row)
		}
		e := refExpert{abbrev: fmt.Sprint(row[0]), text: fmt.Sprint(row[1]), group: fmt.Sprint(row[2]), severity: fmt.Sprint(row[3])}
		p, _, _ := strings.Cut(e.abbrev, ".")
		ref.experts[p] = append(ref.experts[p], e)
		goExperts[e.abbrev] = true
	}

	// tshark: the fields as Wireshark registered them, with its names of
	// the field types.
	ftypes := map[string]string{}
	for _, line := range strings.Split(tshark(t, pluginEnv, "-G", "ftypes"), "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok {
			ftypes[k] = bytesNotBits(v)
		}
	}
	inTshark := map[string]bool{}
	for _, line := range strings.Split(tshark(t, pluginEnv, "-G", "fields"), "\n") {
		c := strings.Split(line, "\t")
		if len(c) < 8 || c[0] != "F" || !slices.Contains(refProtocols, c[4]) {
			continue
		}
		inTshark[c[2]] = true
		if !goFields[c[2]] {
			if !goExperts[c[2]] {
				t.Errorf("tshark -G fields lists %s, which the Go schema does not declare (is build/out stale? run make build)", c[2])
			}
			continue // an expert info
		}
		ftype := ftypes[c[3]]
		if ftype == "" {
			ftype = c[3]
		}
		ref.fields[c[4]] = append(ref.fields[c[4]], refField{abbrev: c[2], name: c[1], ftype: ftype, desc: c[7]})
	}
	for _, m := range []map[string]bool{goFields, goExperts} {
		for n := range m {
			if !inTshark[n] {
				t.Errorf("the Go schema declares %s, but tshark -G fields does not list it (is build/out stale? run make build)", n)
			}
		}
	}
	if len(ref.fields["goh2"]) < 50 || len(ref.fields["gogrpc"]) < 20 || len(ref.fields["tcptw"]) < 15 {
		t.Fatalf("the plugin registers only %d goh2, %d gogrpc and %d tcptw fields", len(ref.fields["goh2"]), len(ref.fields["gogrpc"]), len(ref.fields["tcptw"]))
	}

	// tshark -G defaultprefs: each preference follows its description
	// and a line that says what kind of value it takes.
	pref := regexp.MustCompile(`^#((goh2|gogrpc|tcptw)\.[a-z0-9_.]+): ?(.*)$`)
	var comments []string
	for _, line := range strings.Split(tshark(t, pluginEnv, "-G", "defaultprefs"), "\n") {
		if m := pref.FindStringSubmatch(line); m != nil {
			p := refPref{name: m[1], def: m[3]}
			if n := len(comments); n > 0 {
				p.kind = prefKind(comments[n-1])
				p.desc = strings.Join(comments[:n-1], " ")
			}
			ref.prefs[m[2]] = append(ref.prefs[m[2]], p)
		}
		if c, ok := strings.CutPrefix(line, "# "); ok {
			comments = append(comments, c)
		} else {
			comments = nil
		}
	}
	if len(ref.prefs["goh2"]) < 5 || len(ref.prefs["gogrpc"]) < 5 || len(ref.prefs["tcptw"]) < 3 {
		t.Fatalf("tshark -G defaultprefs lists only %d goh2, %d gogrpc and %d tcptw preferences", len(ref.prefs["goh2"]), len(ref.prefs["gogrpc"]), len(ref.prefs["tcptw"]))
	}
	return ref
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// prefKind shortens the line tshark -G defaultprefs writes about a
// preference's values.
func prefKind(hint string) string {
	switch {
	case hint == "A decimal number":
		return "number"
	case strings.HasPrefix(hint, "TRUE or FALSE"), strings.HasPrefix(hint, "true or false"): // 4.0, 4.4
		return "TRUE or FALSE"
	case hint == "A string":
		return "string"
	case strings.HasPrefix(hint, "A string denoting an positive integer range"):
		return "port ranges"
	}
	return hint
}

// bytesNotBits names an integer type as Wireshark 4.0 does, "Unsigned
// integer (4 bytes)", where 4.4 says "Unsigned integer (32 bits)": the
// README's tables keep one wording whichever Wireshark generates them.
func bytesNotBits(ftype string) string {
	var kind string
	var bits int
	if i := strings.LastIndex(ftype, " ("); i > 0 {
		if _, err := fmt.Sscanf(ftype[i:], " (%d bits)", &bits); err == nil && bits%8 == 0 {
			kind = ftype[:i]
		}
	}
	switch {
	case kind == "":
		return ftype
	case bits == 8:
		return kind + " (1 byte)"
	}
	return fmt.Sprintf("%s (%d bytes)", kind, bits/8)
}

var (
	severityNames = map[string]string{"CHAT": "chat", "NOTE": "note", "WARN": "warning", "ERROR": "error"}
	groupNames    = map[string]string{"PROTOCOL": "protocol", "MALFORMED": "malformed", "SEQUENCE": "sequence",
		"RESPONSE_CODE": "response code", "REQUEST_CODE": "request code", "UNDECODED": "undecoded", "COMMENTS_GROUP": "comment", "ASSUMPTION": "assumption"}
)

func orName(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return k
}

// mdCell makes s safe inside a Markdown table cell.
func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "|", `\|`)
}

// blocks returns the generated tables by name.
func (r *reference) blocks() map[string]string {
	out := map[string]string{}
	for _, p := range refProtocols {
		var b strings.Builder
		b.WriteString("| Field | Name | Type | Description |\n|---|---|---|---|\n")
		for _, f := range r.fields[p] {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.abbrev, mdCell(f.name), f.ftype, mdCell(f.desc))
		}
		out[p+"-fields"] = b.String()
	}
	var b strings.Builder
	b.WriteString("| Expert info | Severity | Group | Text |\n|---|---|---|---|\n")
	for _, p := range refProtocols {
		for _, x := range r.experts[p] {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", x.abbrev, orName(severityNames, x.severity), orName(groupNames, x.group), mdCell(x.text))
		}
	}
	out["experts"] = b.String()
	b.Reset()
	b.WriteString("| Preference | Default | Value | Description |\n|---|---|---|---|\n")
	for _, p := range refProtocols {
		for _, x := range r.prefs[p] {
			def := "`" + x.def + "`"
			if x.def == "" {
				def = "empty"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", x.name, def, x.kind, mdCell(x.desc))
		}
	}
	out["preferences"] = b.String()
	return out
}

func (r *reference) fieldNames() (out []string) {
	for _, p := range refProtocols {
		for _, f := range r.fields[p] {
			out = append(out, f.abbrev)
		}
	}
	return out
}

func (r *reference) expertNames() (out []string) {
	for _, p := range refProtocols {
		for _, x := range r.experts[p] {
			out = append(out, x.abbrev)
		}
	}
	return out
}

func (r *reference) prefNames() (out []string) {
	for _, p := range refProtocols {
		for _, x := range r.prefs[p] {
			out = append(out, x.name)
		}
	}
	return out
}

func blockMarkers(name string) (begin, end string) {
	return "<!-- BEGIN generated " + name + ": go test ./tests -run TestReadmeReference -update -->\n",
		"<!-- END generated " + name + " -->"
}

// generatedBlock returns the text between the markers of the table name.
func generatedBlock(readme, name string) (string, bool) {
	begin, end := blockMarkers(name)
	_, rest, ok := strings.Cut(readme, begin)
	if !ok {
		return "", false
	}
	body, _, ok := strings.Cut(rest, end)
	return body, ok
}

// replaceBlock puts body between the markers of the table name.
func replaceBlock(readme, name, body string) (string, error) {
	begin, end := blockMarkers(name)
	i := strings.Index(readme, begin)
	if i < 0 {
		return "", fmt.Errorf("README.md has no line %q: add the markers where the table %s belongs", strings.TrimSpace(begin), name)
	}
	start := i + len(begin)
	j := strings.Index(readme[start:], end)
	if j < 0 {
		return "", fmt.Errorf("README.md has no %q after its BEGIN marker", end)
	}
	return readme[:start] + body + readme[start+j:], nil
}

// headingAnchors returns the anchors GitHub gives the README's headings:
// lower case, punctuation dropped, spaces as hyphens, -1, -2 … for
// repeats. Headings inside code blocks do not count.
func headingAnchors(readme string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(line, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f && r != '→' && r != '—' && r != '–':
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func blockNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// tableDiff shows the first row where the README's table differs from the
// generated one.
func tableDiff(readme, generated string) string {
	r, g := strings.Split(readme, "\n"), strings.Split(generated, "\n")
	for i := 0; i < len(r) || i < len(g); i++ {
		var a, b string
		if i < len(r) {
			a = r[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("row %d:\n  README: %s\n  plugin: %s", i+1, a, b)
		}
	}
	return "the same"
}
