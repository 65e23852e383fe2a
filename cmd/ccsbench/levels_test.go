package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePath = "github.com/ccsbench/ccsbench"

// allowedImports is the import rule of docs/ARCHITECTURE.md: for each
// package, the packages of this module its non-test files may import.
var allowedImports = map[string][]string{
	"ccs":      {},
	"workload": {},
	"report":   {},
	"driver":   {"ccs", "workload"},
	"fakeccs":  {"ccs"},
	// A test harness (like net/http/httptest): used by tests only.
	"fakeccs/fakeccstest": {"fakeccs"},
	"clients/mellium":     {"ccs", "driver"},
	"judge":               {"ccs", "workload", "driver", "fakeccs", "report"},
	"cmd/ccsbench":        {"ccs", "workload", "driver", "fakeccs", "report", "clients/mellium", "judge"},
	// Examples are copied by users: they stand alone (examples/clients
	// holds only their tests).
	"examples/clients":         {},
	"examples/clients/mellium": {},
	"examples/clients/naive":   {},
	// tests of the Kubernetes manifests only; no code of the module
	"deploy/kubernetes": {},
	// Test-only: misbehaving servers for the tests of driver and cmd.
	"internal/badccs": {"ccs"},
}

func TestImportLevels(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	for pkg, allowed := range allowedImports {
		files, err := filepath.Glob(filepath.Join(root, pkg, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			checkImports(t, pkg, f, allowed)
		}
	}
	// Every package of the module must be listed above.
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "go.mod")); p != root && err == nil {
			return filepath.SkipDir // a module of its own (scripts/interop/…), not a package of this one
		}
		gofiles, _ := filepath.Glob(filepath.Join(p, "*.go"))
		rel, _ := filepath.Rel(root, p)
		if len(gofiles) > 0 && rel != "." {
			if _, ok := allowedImports[filepath.ToSlash(rel)]; !ok {
				t.Errorf("package %s is not in the level table of docs/ARCHITECTURE.md (allowedImports)", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func checkImports(t *testing.T, pkg, file string, allowed []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		rel, ok := strings.CutPrefix(path, modulePath+"/")
		if !ok {
			continue
		}
		ok = false
		for _, a := range allowed {
			if rel == a || strings.HasPrefix(rel, a+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s imports %s: not allowed for package %s (see docs/ARCHITECTURE.md)", file, rel, pkg)
		}
	}
}
