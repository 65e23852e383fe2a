package main

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// The usage is made from the command table: every command, in its order,
// and a wrong name is a usage error that shows it.
func TestDispatch(t *testing.T) {
	t.Parallel()
	code, out, _ := callCmd(dispatch, "help")
	code2, _, errs := callCmd(dispatch, "bogus")
	if code != 0 || code2 != 2 || !strings.Contains(errs, `unknown command "bogus"`) {
		t.Errorf("help = %d, bogus = %d (%q); want 0 and 2", code, code2, errs)
	}
	last := -1
	for _, c := range append(commands, command{name: "help"}) {
		i := strings.Index(out, "\n  "+c.name+" ")
		if i < 0 || i < last || !strings.Contains(errs, "\n  "+c.name+" ") {
			t.Errorf("usage lists %q at %d (after %d), usage on error %v; want every command in table order:\n%s", c.name, i, last, strings.Contains(errs, c.name), out)
		}
		last = i
	}
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		if code, out, _ := callCmd(dispatch, args...); code != 0 || !strings.HasPrefix(out, "ccsbench ") {
			t.Errorf("%q = %d, %q; want the version", args, code, out)
		}
	}
	if code, _, errs := callCmd(dispatch, "version", "now"); code != 2 || !strings.Contains(errs, `unexpected argument "now"`) {
		t.Errorf("version now = %d, %q; want 2", code, errs)
	}
}

// ccsbench version says the version and, when go build recorded it, the
// revision it was built from, its time, and uncommitted changes.
func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "37941d9eb6f7e0876316a907eedfd6c643000f93"},
			{Key: "vcs.time", Value: "2026-11-29T12:04:40Z"}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		ld   string
		bi   *debug.BuildInfo
		want string
	}{
		{"", nil, `^devel \(no VCS revision recorded\) go1\.\S+ \S+/\S+$`},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, `^devel \(no VCS revision recorded\) go`},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261129120440-37941d9eb6f7"}, Settings: vcs("false")},
			`^v0\.0\.0-20261129120440-37941d9eb6f7 \(revision 37941d9eb6f7e0876316a907eedfd6c643000f93 of 2026-11-29T12:04:40Z\) go`},
		{"", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			`^devel \(revision 37941d9eb6f7e0876316a907eedfd6c643000f93 of 2026-11-29T12:04:40Z, with uncommitted changes\) go`},
		{"v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-x"}, Settings: vcs("false")}, `^v1\.2\.3 \(revision 37941d9eb6f7`},
	} {
		if got := describeBuild(tc.ld, tc.bi); !regexp.MustCompile(tc.want).MatchString(got) {
			t.Errorf("describeBuild(%q, %+v) = %q; want it to match %s", tc.ld, tc.bi, got, tc.want)
		}
	}
	if v := toolVersion("", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}, Settings: vcs("true")}); v != "v1.0.0" {
		t.Errorf("toolVersion = %q; want the module version alone, as results files record it", v)
	}
}
