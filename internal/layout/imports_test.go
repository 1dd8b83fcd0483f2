package layout_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/xckit/xckit/"

// What the words of a rule stand for, beside package paths.
var (
	drivers   = []string{"github.com/jackc/pgx/", "github.com/go-sql-driver/mysql", "github.com/go-mysql-org/go-mysql/"}
	nicknames = map[string]string{"gopsutil": "github.com/shirou/gopsutil/"}
	ruleText  = regexp.MustCompile(`It (?:may import|imports)(?: only)? (.+?)\.(?:\s|$)`)
	inParens  = regexp.MustCompile(`\s*\([^)]*\)`)
)

type rule struct {
	anyLibrary bool
	allowed    []string // module-relative packages, or import path prefixes
}

func (r rule) allows(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	if !strings.Contains(first, ".") {
		return true // the standard library is always allowed
	}
	if rel, ok := strings.CutPrefix(imp, module); ok {
		for _, a := range r.allowed {
			if rel == a {
				return true
			}
		}
		return false
	}
	if r.anyLibrary {
		return true
	}
	for _, a := range r.allowed {
		if imp == a || strings.HasPrefix(imp, strings.TrimSuffix(a, "/")+"/") {
			return true
		}
	}
	return false
}

// parseRule reads the import sentence of a doc.go.
func parseRule(doc string) (rule, bool) {
	var text []string
	for _, l := range strings.Split(doc, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(l), "//"); ok {
			text = append(text, strings.TrimSpace(c))
		}
	}
	m := ruleText.FindStringSubmatch(strings.Join(text, " "))
	if m == nil {
		return rule{}, false
	}
	var r rule
	list := strings.ReplaceAll(inParens.ReplaceAllString(m[1], ""), " and ", ", ")
	for _, item := range strings.Split(list, ",") {
		switch item = strings.TrimSpace(item); item {
		case "":
		case "the standard library": // always allowed
		case "well-kept libraries":
			r.anyLibrary = true
		case "the database drivers":
			r.allowed = append(r.allowed, drivers...)
		default:
			if full, ok := nicknames[item]; ok {
				item = full
			}
			r.allowed = append(r.allowed, item)
		}
	}
	return r, true
}

func TestRuleParsing(t *testing.T) {
	r, ok := parseRule("// Package x.\n//\n// It may import cdc, internal/dbx (for\n// keys), gopsutil and the standard library.\npackage x\n")
	if !ok || !r.allows("github.com/xckit/xckit/cdc") || !r.allows(module+"internal/dbx") || !r.allows("github.com/shirou/gopsutil/v3/cpu") ||
		r.allows(module+"lab") || r.allows("github.com/jackc/pgx/v5") || !r.allows("net/http") {
		t.Errorf("rule: %+v %v", r, ok)
	}
	r, _ = parseRule("// It imports only the standard library and gopkg.in/yaml.v3.\n")
	if !r.allows("gopkg.in/yaml.v3") || r.allows("gopkg.in/yaml.v2") {
		t.Errorf("rule: %+v", r)
	}
}

// Every package's imports are what its doc.go says they may be, and no package but
// internal/dbx imports a database driver.
func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	checked := 0
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 3)
		pkg, dir, imports := strings.TrimPrefix(parts[0], module), parts[1], strings.Fields(parts[2])
		if strings.HasPrefix(pkg, "cmd/") {
			continue // main packages wire everything together
		}
		doc, err := os.ReadFile(filepath.Join(dir, "doc.go"))
		if err != nil {
			t.Errorf("%s has no doc.go: say what it is and what it may import", pkg)
			continue
		}
		r, ok := parseRule(string(doc))
		if !ok {
			t.Errorf("%s/doc.go has no \"It may import ...\" sentence", pkg)
			continue
		}
		for _, imp := range imports {
			if !r.allows(imp) {
				t.Errorf("%s imports %s, which its doc.go does not allow", pkg, imp)
			}
			for _, d := range drivers {
				if strings.HasPrefix(imp, d) && pkg != "internal/dbx" {
					t.Errorf("%s imports the database driver %s: internal/dbx is the one way to a database", pkg, imp)
				}
			}
			if rel, ok := strings.CutPrefix(imp, module); ok && (rel == "lab" || strings.HasPrefix(rel, "lab/")) &&
				pkg != "lab" && pkg != "internal/labtest" {
				t.Errorf("%s imports %s: the lab is for cmd/ and tests only", pkg, imp)
			}
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d packages checked: go list output changed?", checked)
	}
}
