package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The import rules are DESIGN §2's table of packages: every package of the
// module has a row, every row a package, and a package imports nothing
// outside its row. tableCopy holds two tables: DESIGN §2 as written (which
// TestDesignTableCopy holds equal to ../shared/DESIGN.md whenever that file
// is beside the repository: a clean checkout may not have ../shared, and the
// rules must hold there too), and the rows the code follows, in exact names,
// each within its DESIGN row or saying why it departs
// (TestRulesWithinDesign).

// module is the module path; the table names packages relative to it.
const module = "roamgate"

// tableCopy holds the copy of DESIGN §2's table and the rules read from it.
const tableCopy = "testdata/packages.md"

// The headings of tableCopy's two tables.
const (
	designHeading = "## DESIGN §2 as written"
	rulesHeading  = "## The rows the code follows"
)

// goCmd runs the go command and returns its standard output.
func goCmd(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// goListDeps returns the packages outside the standard library that pkg
// links, directly or not.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	return strings.Fields(goCmd(t, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg))
}

// goModRequires returns the module paths go.mod requires, direct or
// indirect. It reads go.mod only (no network, no module downloads).
func goModRequires(t *testing.T) []string {
	t.Helper()
	var mod struct{ Require []struct{ Path string } }
	if err := json.Unmarshal([]byte(goCmd(t, "mod", "edit", "-json")), &mod); err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var paths []string
	for _, r := range mod.Require {
		paths = append(paths, r.Path)
	}
	return paths
}

// under reports whether p is the package or module path e or below it.
func under(p, e string) bool { return p == e || strings.HasPrefix(p, e+"/") }

// TestBinaryDeps guards what the one binary links (model: tailscale's
// tstest/deptest and cmd/tailscaled/deps_test.go): CoreDNS's
// plugin-everything packages, the benchmark's template plugin, cloud SDKs
// and kubernetes must never be in it. An entry is a package, or with /...
// the path and everything below it.
func TestBinaryDeps(t *testing.T) {
	forbidden := map[string]string{
		"github.com/coredns/coredns/core/plugin": "links every CoreDNS plugin and the cloud SDKs; dns imports its plugins one by one",
		// CoreDNS plugins that talk to clouds and orchestrators. (Not
		// below them: CoreDNS's plugin package itself links
		// plugin/etcd/msg, a record type without any etcd client.)
		"github.com/coredns/coredns/plugin/kubernetes":   "kubernetes client",
		"github.com/coredns/coredns/plugin/k8s_external": "kubernetes client",
		"github.com/coredns/coredns/plugin/route53":      "AWS SDK",
		"github.com/coredns/coredns/plugin/azure":        "Azure SDK",
		"github.com/coredns/coredns/plugin/clouddns":     "Google Cloud SDK",
		"github.com/coredns/coredns/plugin/etcd":         "etcd client",
		"github.com/coredns/coredns/plugin/nomad":        "nomad client",
		"github.com/coredns/coredns/plugin/grpc":         "gRPC forwarding roamgate does not offer",
		"github.com/coredns/coredns/plugin/trace":        "tracing SDKs",
		// The baseline of dns's BenchmarkDNSPerf: dns/bench_test.go
		// imports it, the binary must not.
		"github.com/coredns/coredns/plugin/template": "the DNS benchmark's baseline, not a roamgate feature",
		"github.com/expr-lang/expr/...":              "the expression engine CoreDNS's template plugin pulls in",
		"go.etcd.io/...":                             "etcd",
		"github.com/hashicorp/nomad/...":             "nomad",
		"github.com/openzipkin/...":                  "tracing",
		"github.com/DataDog/...":                     "tracing",
		"cloud.google.com/...":                       "cloud SDK",
		"github.com/aws/...":                         "cloud SDK",
		"github.com/Azure/...":                       "cloud SDK",
		"k8s.io/...":                                 "kubernetes",
		"sigs.k8s.io/...":                            "kubernetes",
	}
	checkOnlyImportedBy(t, "roamgate/cmd/roamgate", "github.com/coredns/coredns/coremain",
		// CoreDNS 1.15's cache and forward register their metrics through
		// plugin/metrics, which reads coremain's version string; so
		// coremain is linked, but only its init runs (it registers CoreDNS
		// flags on flag.CommandLine, which roamgate does not parse). Nothing
		// of ours may import it: roamgate starts CoreDNS with caddy.Start.
		"github.com/coredns/coredns/plugin/metrics")
	linked := map[string][]string{} // forbidden entry → what roamgate links of it
	for _, dep := range goListDeps(t, "roamgate/cmd/roamgate") {
		for f := range forbidden {
			if base, ok := strings.CutSuffix(f, "/..."); (ok && under(dep, base)) || dep == f {
				linked[f] = append(linked[f], dep)
			}
		}
	}
	for f, deps := range linked {
		slices.Sort(deps)
		t.Errorf("roamgate links %s (%d packages: %s) — forbidden: %s", f, len(deps), strings.Join(deps, " "), forbidden[f])
	}
	// A forbidden package that is renamed or gone guards nothing: as
	// tailscale's deptest does for its own packages, make sure each entry
	// in a module go.mod requires still names a package.
	var inModules []string
	requires := goModRequires(t)
	for f := range forbidden {
		f = strings.TrimSuffix(f, "/...")
		if slices.ContainsFunc(requires, func(m string) bool { return under(f, m) }) {
			inModules = append(inModules, f)
		}
	}
	slices.Sort(inModules)
	out := goCmd(t, append([]string{"list", "-e", "-f", "{{.ImportPath}} {{.Dir}}"}, inModules...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 1 {
			t.Errorf("forbidden package %s does not exist (any more): update the list", f[0])
		}
	}
}

// checkOnlyImportedBy fails if any package in pkg's dependencies other than
// those allowed imports target directly.
func checkOnlyImportedBy(t *testing.T, pkg, target string, allowed ...string) {
	t.Helper()
	out := goCmd(t, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg)
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, imp := range f[1:] {
			if imp == target && !slices.Contains(allowed, f[0]) {
				t.Errorf("%s imports %s (only %s may)", f[0], target, strings.Join(allowed, ", "))
			}
		}
	}
}

// A row of DESIGN §2's table.
type row struct {
	line     int      // line in the file, for messages
	pkgs     []pkgPat // column 1
	roamgate []string // column 3: package patterns relative to the module
	third    []string // column 4: module or package paths outside the standard library
	// column 5: why the row departs from DESIGN §2, "" when it does not
	departure string
}

// pkgPat is one package (or pattern: `*` is one path element) of a row.
type pkgPat struct {
	pattern string
	// planned: the row comes before the code; the package must not exist.
	planned bool
	// testsOnly: a test helper, imported by tests and other test helpers
	// only.
	testsOnly bool
}

func (r row) String() string {
	var s []string
	for _, p := range r.pkgs {
		s = append(s, p.pattern)
	}
	return strings.Join(s, ", ")
}

func (r row) testsOnly() bool {
	return !slices.ContainsFunc(r.pkgs, func(p pkgPat) bool { return !p.testsOnly })
}

var (
	backticked = regexp.MustCompile("`([^`]*)`")
	// one package in column 1: `name` (mark, mark), then a comma or the end
	pkgItem = regexp.MustCompile("^`([^`]+)`(?:\\s*\\(([^)]*)\\))?\\s*(?:,\\s*|$)")
)

// tableLines returns the table rows (the lines starting with "|") of text,
// with their 1-based line numbers. When heading is not empty, only the
// section under the heading that starts with it counts, up to the next
// heading.
func tableLines(text, heading string) (lines []string, nums []int) {
	in := heading == ""
	for i, l := range strings.Split(text, "\n") {
		switch {
		case heading != "" && strings.HasPrefix(l, heading):
			in = true
		case in && heading != "" && strings.HasPrefix(l, "#"):
			return lines, nums
		case in && strings.HasPrefix(l, "|"):
			lines = append(lines, strings.TrimRight(l, " \r"))
			nums = append(nums, i+1)
		}
	}
	return lines, nums
}

// parseTable reads the table's rows; the first two lines are the header
// and the delimiter row.
func parseTable(lines []string, nums []int) ([]row, error) {
	if len(lines) < 3 {
		return nil, fmt.Errorf("found %d table lines, want a header, a delimiter row and rows", len(lines))
	}
	var rows []row
	for i, l := range lines[2:] {
		n := nums[i+2]
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 4 && len(cells) != 5 {
			return nil, fmt.Errorf("line %d has %d columns, want 4 (package, concept, may import: roamgate, third party) or 5 (and the departure from DESIGN §2)", n, len(cells))
		}
		r := row{line: n}
		if len(cells) == 5 {
			if d := strings.TrimSpace(cells[4]); d != "—" {
				if d == "" {
					return nil, fmt.Errorf("line %d: the departure column is empty: say why the row departs from DESIGN §2, or — when it does not", n)
				}
				r.departure = d
			}
		}
		var err error
		if r.pkgs, err = packageColumn(cells[0]); err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		if r.roamgate, err = importColumn(cells[2]); err != nil {
			return nil, fmt.Errorf("line %d, %s, roamgate column: %v", n, r, err)
		}
		if r.third, err = importColumn(cells[3]); err != nil {
			return nil, fmt.Errorf("line %d, %s, third-party column: %v", n, r, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// packageColumn reads column 1: `name` (marks), ….
func packageColumn(cell string) ([]pkgPat, error) {
	var pkgs []pkgPat
	rest := strings.TrimSpace(cell)
	for rest != "" {
		m := pkgItem.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("cannot read packages at %q: want `name` (marks), …", rest)
		}
		p := pkgPat{pattern: m[1]}
		if m[2] != "" {
			for _, mark := range strings.Split(m[2], ",") {
				switch strings.TrimSpace(mark) {
				case "planned":
					p.planned = true
				case "tests only":
					p.testsOnly = true
				default:
					return nil, fmt.Errorf("%s: unknown mark %q (planned, tests only)", p.pattern, mark)
				}
			}
		}
		if _, err := path.Match(p.pattern, ""); err != nil {
			return nil, fmt.Errorf("bad pattern %q: %v", p.pattern, err)
		}
		pkgs = append(pkgs, p)
		rest = rest[len(m[0]):]
	}
	if len(pkgs) == 0 {
		return nil, errors.New("names no package")
	}
	return pkgs, nil
}

// importColumn returns the names in backticks; "—" alone is none.
func importColumn(cell string) ([]string, error) {
	cell = strings.TrimSpace(cell)
	if cell == "—" {
		return nil, nil
	}
	var names []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%q is neither — nor names in backticks", cell)
	}
	return names, nil
}

// readRules parses the rows the code follows from tableCopy.
func readRules(t *testing.T) []row {
	t.Helper()
	b, err := os.ReadFile(tableCopy)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := parseTable(tableLines(string(b), rulesHeading))
	if err != nil {
		t.Fatalf("%s, %s: %v", tableCopy, rulesHeading, err)
	}
	return rows
}

// A row of DESIGN §2 as written: packages in backticks, the roamgate
// packages in backticks or in words ("all of the above", "as needed"), the
// third-party modules by their short names.
type designRow struct {
	line     int
	pkgs     []string
	anyPkg   bool     // "as needed"
	above    bool     // "all of the above": every package of the rows above
	roamgate []string // patterns
	third    []string // module paths
}

// nicknames are the short names DESIGN §2 gives third-party modules.
var nicknames = map[string]string{
	"golang-jwt":     "github.com/golang-jwt/jwt/v5",
	"modernc sqlite": "modernc.org/sqlite",
	"go-redis":       "github.com/redis/go-redis/v9",
	"layeh":          "layeh.com/radius",
	"x/net":          "golang.org/x/net",
	"x/text":         "golang.org/x/text",
	"x/crypto":       "golang.org/x/crypto",
	"x/sync":         "golang.org/x/sync",
	"prometheus":     "github.com/prometheus/client_golang",
	"fiber":          "github.com/gofiber/fiber/v2",
	"coredns":        "github.com/coredns/coredns",
	"miekg/dns":      "github.com/miekg/dns",
	"argon2id":       "github.com/alexedwards/argon2id",
	"yaml":           "go.yaml.in/yaml/v3",
}

// parseDesign reads DESIGN §2's table as written. A word it cannot read is
// an error, so that a change to DESIGN is noticed here.
func parseDesign(lines []string, nums []int) ([]designRow, error) {
	if len(lines) < 3 {
		return nil, fmt.Errorf("found %d table lines, want a header, a delimiter row and rows", len(lines))
	}
	var rows []designRow
	for i, l := range lines[2:] {
		n := nums[i+2]
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) != 4 {
			return nil, fmt.Errorf("line %d has %d columns, want 4", n, len(cells))
		}
		r := designRow{line: n}
		pkgs, err := packageColumn(cells[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n, err)
		}
		for _, p := range pkgs {
			r.pkgs = append(r.pkgs, p.pattern)
		}
		switch c := strings.TrimSpace(cells[2]); {
		case strings.HasPrefix(c, "as needed"):
			r.anyPkg = true
		case c == "all of the above":
			r.above = true
		default:
			if r.roamgate, err = importColumn(c); err != nil {
				return nil, fmt.Errorf("line %d, roamgate column: %v", n, err)
			}
		}
		if c := strings.TrimSpace(cells[3]); c != "—" {
			for _, name := range strings.Split(c, ",") {
				for _, part := range strings.Split(name, " / ") {
					part = strings.TrimSpace(part)
					m, ok := nicknames[part]
					if !ok {
						return nil, fmt.Errorf("line %d, third-party column: %q is no module this test knows: add it to nicknames", n, part)
					}
					r.third = append(r.third, m)
				}
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// checkWithinDesign returns the rows that give a package more than its row
// of DESIGN §2 without saying why, the packages DESIGN does not list whose
// row does not say why, and DESIGN's packages that have no row.
func checkWithinDesign(rows []row, design []designRow) []string {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	find := func(pattern string) (int, bool) {
		for i, d := range design {
			if slices.Contains(d.pkgs, pattern) {
				return i, true
			}
		}
		return 0, false
	}
	allows := func(i int, e string) bool {
		d := design[i]
		if d.anyPkg {
			return true
		}
		var patterns []string
		if d.above {
			for _, a := range design[:i] {
				patterns = append(patterns, a.pkgs...)
			}
		}
		return slices.ContainsFunc(append(patterns, d.roamgate...), func(p string) bool {
			ok, _ := path.Match(p, e)
			return p == e || ok
		})
	}
	listed := map[string]bool{}
	for _, r := range rows {
		for _, p := range r.pkgs {
			listed[p.pattern] = true
			i, ok := find(p.pattern)
			switch {
			case r.departure != "":
			case !ok:
				add("line %d: %s is not in DESIGN §2: say why in the departure column", r.line, p.pattern)
			default:
				for _, e := range r.roamgate {
					if !allows(i, e) {
						add("line %d: %s may import %s, which its row of DESIGN §2 does not allow: say why in the departure column", r.line, p.pattern, e)
					}
				}
				for _, e := range r.third {
					if !slices.ContainsFunc(design[i].third, func(m string) bool { return under(e, m) }) && !design[i].anyPkg {
						add("line %d: %s may import %s, which its row of DESIGN §2 does not allow: say why in the departure column", r.line, p.pattern, e)
					}
				}
			}
		}
	}
	for _, d := range design {
		for _, p := range d.pkgs {
			if !listed[p] {
				add("DESIGN §2 lists %s (line %d), but no row the code follows does", p, d.line)
			}
		}
	}
	return problems
}

// readDesignCopy parses tableCopy's copy of DESIGN §2.
func readDesignCopy(t *testing.T) ([]string, []int) {
	t.Helper()
	b, err := os.ReadFile(tableCopy)
	if err != nil {
		t.Fatal(err)
	}
	return tableLines(string(b), designHeading)
}

// TestRulesWithinDesign holds the rows the code follows to DESIGN §2 as
// written: every departure is said.
func TestRulesWithinDesign(t *testing.T) {
	design, err := parseDesign(readDesignCopy(t))
	if err != nil {
		t.Fatalf("%s, %s: %v", tableCopy, designHeading, err)
	}
	for _, p := range checkWithinDesign(readRules(t), design) {
		t.Errorf("%s: %s", tableCopy, p)
	}
}

// checkTable returns what is inconsistent in the table itself: roamgate
// entries must name packages the table has, third-party entries must lie in
// modules go.mod requires, and only test helpers may name test helpers.
func checkTable(rows []row, requires []string) []string {
	var all []pkgPat
	for _, r := range rows {
		all = append(all, r.pkgs...)
	}
	var problems []string
	for _, r := range rows {
		for _, e := range r.roamgate {
			i := slices.IndexFunc(all, func(p pkgPat) bool {
				ok, _ := path.Match(p.pattern, e)
				return p.pattern == e || ok
			})
			switch {
			case i < 0:
				problems = append(problems, fmt.Sprintf("line %d: %s may import %s, which has no row", r.line, r, e))
			case all[i].testsOnly && !r.testsOnly():
				problems = append(problems, fmt.Sprintf("line %d: %s may import %s, a test helper (tests only): only tests and test helpers may", r.line, r, e))
			}
		}
		for _, e := range r.third {
			if !slices.ContainsFunc(requires, func(m string) bool { return under(e, m) }) {
				problems = append(problems, fmt.Sprintf("line %d: %s may import %s, which is in no module go.mod requires", r.line, r, e))
			}
		}
	}
	return problems
}

// goPackage is one package of the module as go list sees it.
type goPackage struct {
	ImportPath string
	Imports    []string // of the non-test files
	Error      *struct{ Err string }
}

func listModule(t *testing.T) []goPackage {
	t.Helper()
	out := goCmd(t, "list", "-e", "-json=ImportPath,Imports,Error", module+"/...")
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// relative returns p relative to the module, and whether p is in it.
func relative(p string) (string, bool) {
	if p == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(p, module+"/")
	return rel, ok
}

// standard reports whether p is in the standard library: its first element
// has no dot (the go command's rule), and it is not the module.
func standard(p string) bool {
	if _, ok := relative(p); ok {
		return false
	}
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".")
}

// checkModule returns every way the module's packages break the table:
// a package without a row (or with two), a listed package that is gone, a
// planned one that exists, and imports of the non-test files outside the
// package's row.
func checkModule(rows []row, pkgs []goPackage) []string {
	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	type match struct {
		row *row
		pkg pkgPat
	}
	matched := map[string]bool{} // pattern → some package matches it
	for _, p := range pkgs {
		rel, _ := relative(p.ImportPath)
		var ms []match
		for i := range rows {
			for _, pp := range rows[i].pkgs {
				if ok, _ := path.Match(pp.pattern, rel); ok {
					ms = append(ms, match{&rows[i], pp})
					matched[pp.pattern] = true
				}
			}
		}
		switch {
		case len(ms) == 0:
			add("%s has no row in DESIGN §2: a new package gets a row before it gets code", p.ImportPath)
			continue
		case len(ms) > 1:
			add("%s matches %d rows of DESIGN §2 (lines %d and %d), want one", p.ImportPath, len(ms), ms[0].row.line, ms[1].row.line)
			continue
		case ms[0].pkg.planned:
			add("%s exists now: drop (planned) from its row in DESIGN §2 (line %d)", p.ImportPath, ms[0].row.line)
		}
		m := ms[0]
		if p.Error != nil {
			add("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		for _, imp := range p.Imports {
			if r, ok := relative(imp); ok {
				if !slices.ContainsFunc(m.row.roamgate, func(e string) bool {
					ok, _ := path.Match(e, r)
					return ok
				}) {
					add("%s imports %s: not in its row of DESIGN §2 (line %d: may import %s)", rel, imp, m.row.line, orNothing(m.row.roamgate))
				}
				continue
			}
			if imp == "testing" && !m.pkg.testsOnly {
				add("%s imports testing outside its tests: only a test helper may, and its row in DESIGN §2 says (tests only)", rel)
			}
			if standard(imp) {
				continue
			}
			if !slices.ContainsFunc(m.row.third, func(e string) bool { return under(imp, e) }) {
				add("%s imports %s: not in its row of DESIGN §2 (line %d: may import %s)", rel, imp, m.row.line, orNothing(m.row.third))
			}
		}
	}
	for _, r := range rows {
		for _, pp := range r.pkgs {
			if !pp.planned && !matched[pp.pattern] {
				add("DESIGN §2 lists %s (line %d), but the module has no such package: moved or removed? Then its row changes too. Not written yet? Then mark it (planned)", pp.pattern, r.line)
			}
		}
	}
	return problems
}

func orNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

// TestImportRules checks every package of the module against its row of
// DESIGN §2 (read from tableCopy; line numbers are that file's): what its
// non-test files import. Test files may import any package of the module
// and any module of go.mod (see DESIGN §2).
func TestImportRules(t *testing.T) {
	rows := readRules(t)
	for _, p := range checkTable(rows, goModRequires(t)) {
		t.Errorf("%s: %s", tableCopy, p)
	}
	for _, p := range checkModule(rows, listModule(t)) {
		t.Errorf("%s\n\t(line numbers: %s)", p, tableCopy)
	}
}

// TestImportRulesCatch feeds the checks a made-up module that breaks each
// rule once, so that a check that stops catching fails here and not only
// when someone breaks the real module.
func TestImportRulesCatch(t *testing.T) {
	const table = "| package | concept | may import (roamgate) | may import (third party) |\n" +
		"|---|---|---|---|\n" +
		"| `session` | core | — | `github.com/golang-jwt/jwt/v5` |\n" +
		"| `radius` | server | `session`, `radius/vendors/*` | `layeh.com/radius` |\n" +
		"| `radius/vendors/*` | generated | — | `layeh.com/radius` |\n" +
		"| `portal`, `portal/vendor` | server | `session`, `portal/vendor` | — |\n" +
		"| `gone` | was here | — | — |\n" +
		"| `later` (planned) | comes | — | — |\n" +
		"| `soon` (planned) | comes too | — | — |\n" +
		"| `internal/*` (tests only) | helpers | `internal/*`, `session` | — |\n" +
		"| `cmd/tool` | leans on a helper | `internal/*`, `nowhere` | `example.com/notrequired` |\n"
	rows, err := parseTable(tableLines(table, ""))
	if err != nil {
		t.Fatal(err)
	}
	requires := []string{"github.com/golang-jwt/jwt/v5", "layeh.com/radius"}
	gotTable := checkTable(rows, requires)
	wantTable := []string{
		"line 11: cmd/tool may import internal/*, a test helper (tests only)",
		"line 11: cmd/tool may import nowhere, which has no row",
		"line 11: cmd/tool may import example.com/notrequired, which is in no module go.mod requires",
	}
	pkgs := []goPackage{
		{ImportPath: "roamgate/session", Imports: []string{"crypto/ed25519", "github.com/golang-jwt/jwt/v5"}},
		{ImportPath: "roamgate/radius", Imports: []string{"net", "layeh.com/radius", "roamgate/portal", "roamgate/radius/vendors/wispr", "roamgate/session", "github.com/miekg/dns", "testing"}},
		{ImportPath: "roamgate/radius/vendors/wispr", Imports: []string{"layeh.com/radius"}},
		{ImportPath: "roamgate/portal", Imports: []string{"roamgate/portal/vendor", "roamgate/session"}},
		{ImportPath: "roamgate/portal/vendor", Imports: []string{"roamgate/session"}},
		{ImportPath: "roamgate/later"},
		{ImportPath: "roamgate/scratch"},
		{ImportPath: "roamgate/internal/testtool", Imports: []string{"testing", "roamgate/session"}},
		{ImportPath: "roamgate/cmd/tool", Imports: []string{"roamgate/internal/testtool"}},
	}
	gotModule := checkModule(rows, pkgs)
	wantModule := []string{
		"radius imports roamgate/portal: not in its row of DESIGN §2 (line 4: may import session, radius/vendors/*)",
		"radius imports github.com/miekg/dns: not in its row of DESIGN §2 (line 4: may import layeh.com/radius)",
		"radius imports testing outside its tests",
		"roamgate/later exists now: drop (planned)",
		"roamgate/scratch has no row in DESIGN §2",
		"DESIGN §2 lists gone (line 7), but the module has no such package",
	}
	for _, c := range []struct {
		name      string
		got, want []string
	}{{"checkTable", gotTable, wantTable}, {"checkModule", gotModule, wantModule}} {
		for _, w := range c.want {
			if !slices.ContainsFunc(c.got, func(g string) bool { return strings.Contains(g, w) }) {
				t.Errorf("%s: no problem says %q; got:\n%s", c.name, w, strings.Join(c.got, "\n"))
			}
		}
		if len(c.got) != len(c.want) {
			t.Errorf("%s: %d problems, want %d:\n%s", c.name, len(c.got), len(c.want), strings.Join(c.got, "\n"))
		}
	}
}

// TestParseTable: a table the test cannot read is an error, never a row
// read as allowing nothing or everything.
func TestParseTable(t *testing.T) {
	const head = "| package | concept | roamgate | third party |\n|---|---|---|---|\n"
	for _, c := range []struct {
		name, row, err string
	}{
		{"unknown mark", "| `x` (plannd) | c | — | — |", `unknown mark "plannd"`},
		{"three columns", "| `x` | c | — |", "has 3 columns, want 4"},
		{"no backticks", "| `x` | c | as needed | — |", `"as needed" is neither — nor names in backticks`},
		{"package without backticks", "| x | c | — | — |", "cannot read packages"},
		{"empty third party", "| `x` | c | — |  |", "is neither — nor names in backticks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTable(tableLines(head+c.row+"\n", ""))
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("parseTable: %v, want an error saying %q", err, c.err)
			}
		})
	}
	rows, err := parseTable(tableLines(head+"| `a`, `b/*` (tests only, planned) | c, with `ticks` | `a` | `m.org/x` (why) |\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := row{line: 3, pkgs: []pkgPat{{pattern: "a"}, {pattern: "b/*", planned: true, testsOnly: true}}, roamgate: []string{"a"}, third: []string{"m.org/x"}}
	if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
		t.Errorf("parseTable = %+v, want [%+v]", rows, want)
	}
}

// TestDesignTableCopy holds tableCopy equal to the table in DESIGN §2 when
// ../shared/DESIGN.md is beside the repository. After changing DESIGN §2,
// copy its table into tableCopy.
func TestDesignTableCopy(t *testing.T) {
	root := strings.TrimSpace(goCmd(t, "list", "-m", "-f", "{{.Dir}}"))
	design := filepath.Join(root, "..", "shared", "DESIGN.md")
	b, err := os.ReadFile(design)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is not beside the repository (a clean checkout): %s alone is the table", design, tableCopy)
	}
	if err != nil {
		t.Fatal(err)
	}
	want, wantNums := tableLines(string(b), "## 2.")
	if _, err := parseDesign(want, wantNums); err != nil {
		t.Errorf("%s §2: %v", design, err)
	}
	got, gotNums := readDesignCopy(t)
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			t.Errorf("%s lacks DESIGN's line %d:\n%s", tableCopy, wantNums[i], want[i])
		case i >= len(want):
			t.Errorf("%s:%d is not in DESIGN §2:\n%s", tableCopy, gotNums[i], got[i])
		case got[i] != want[i]:
			t.Errorf("%s:%d differs from %s:%d:\n got: %s\nwant: %s", tableCopy, gotNums[i], design, wantNums[i], got[i], want[i])
		default:
			continue
		}
		t.Fatalf("copy the table of %s §2 into %s", design, tableCopy)
	}
}

// TestWithinDesignCatch feeds checkWithinDesign a made-up DESIGN and rows
// that break each rule once.
func TestWithinDesignCatch(t *testing.T) {
	const design = "| package | concept | roamgate | third party |\n|---|---|---|---|\n" +
		"| `session` | core | — | golang-jwt |\n" +
		"| `radius` | server | `session` | layeh, x/net |\n" +
		"| `gateway` | wiring | all of the above | yaml |\n" +
		"| `internal/*` | helpers | as needed, tests only | — |\n" +
		"| `dns` | resolver | `session` | miekg/dns |\n"
	d, err := parseDesign(tableLines(design, ""))
	if err != nil {
		t.Fatal(err)
	}
	const rules = "| p | c | r | t | d |\n|---|---|---|---|---|\n" +
		"| `session` | core | — | `github.com/golang-jwt/jwt/v5` | — |\n" +
		"| `radius` | server | `session`, `apfamily` | `layeh.com/radius`, `github.com/miekg/dns` | — |\n" +
		"| `gateway` | wiring | `session`, `radius`, `dns` | `go.yaml.in/yaml/v3` | — |\n" +
		"| `internal/*` (tests only) | helpers | `session`, `radius` | `github.com/redis/go-redis/v9` | — |\n" +
		"| `apfamily` | new | — | — | a new package |\n" +
		"| `probe` | new | — | — | — |\n"
	rows, err := parseTable(tableLines(rules, ""))
	if err != nil {
		t.Fatal(err)
	}
	got := checkWithinDesign(rows, d)
	want := []string{
		"line 4: radius may import apfamily, which its row of DESIGN §2 does not allow",
		"line 4: radius may import github.com/miekg/dns, which its row of DESIGN §2 does not allow",
		"line 5: gateway may import dns, which its row of DESIGN §2 does not allow",
		"line 8: probe is not in DESIGN §2",
		"DESIGN §2 lists dns (line 7), but no row the code follows does",
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("no problem says %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	if _, err := parseDesign(tableLines("| p | c | r | t |\n|---|---|---|---|\n| `x` | c | — | grpc |\n", "")); err == nil || !strings.Contains(err.Error(), `"grpc" is no module this test knows`) {
		t.Errorf("parseDesign of an unknown module name: %v", err)
	}
}
