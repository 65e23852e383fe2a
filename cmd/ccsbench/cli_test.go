package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// callCmd calls a subcommand and returns its exit code, stdout and stderr.
func callCmd(fn func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := fn(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A bad flag is refused in one line that writes the flag as --name and
// says what it wants, once: no package prefix, no value repeated.
func TestFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "ccsbench run: unknown flag --bogus (see ccsbench help run)"},
		{[]string{"--conns", "many"}, `ccsbench run: --conns "many": want a whole number (see ccsbench help run)`},
		{[]string{"--duration", "5x"}, `ccsbench run: --duration "5x": want a duration such as 500ms, 10s or 1m30s (see ccsbench help run)`},
		{[]string{"--progress=maybe"}, `ccsbench run: --progress "maybe": want true or false (see ccsbench help run)`},
		{[]string{"--json"}, "ccsbench run: --json needs a value (see ccsbench help run)"},
		{[]string{"--rate", "-1"}, `ccsbench run: --rate "-1": want a rate between 0 (as fast as the windows allow) and 1e+09 msgs/s (see ccsbench help run)`},
		{[]string{"--rate-shape", "linear:9..1"}, `ccsbench run: --rate-shape "linear:9..1": `},
		{[]string{"--gate", "p99<<5ms"}, `ccsbench run: --gate "p99<<5ms": `},
		{[]string{"--gate", "p99<5ms,rate>>1"}, `ccsbench run: --gate "p99<5ms,rate>>1": "rate>>1": `},
		{[]string{"--shard", "2/2"}, `ccsbench run: --shard "2/2": index 2 is not below the shard count 2`},
		{[]string{"--arrivals", "bursty"}, `ccsbench run: --arrivals "bursty": want uniform or poisson`},
		{[]string{"--login-domain", "xmpp"}, `ccsbench run: --login-domain "xmpp": want gcm or fcm`},
		{[]string{"--client", "smack"}, `ccsbench run: --client "smack": want one of native|mellium`},
		{[]string{"--target", "nowhere"}, `ccsbench run: --target "nowhere": want host:port, staging or production`},
		{[]string{"--sender-id", "1", "extra"}, `ccsbench run: unexpected argument "extra" (flags only; see ccsbench help run)`},
	} {
		code, out, errs := callRun(tc.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("run %q = %d, stdout %q, stderr %q; want 2 and one line starting %q", tc.args, code, out, errs, tc.want)
		}
		for _, stutter := range []string{"report:", "workload:", "driver:", "gate expression", "flag provided", " -" + strings.TrimLeft(tc.args[0], "-")} {
			if strings.Contains(errs, stutter) {
				t.Errorf("run %q: stderr %q holds %q", tc.args, errs, stutter)
			}
		}
	}
	if code, _, errs := callCmd(mergeCmd, "-x"); code != 2 || !strings.Contains(errs, "unknown flag -x ") {
		t.Errorf("merge -x = %d, %q; want 2 and the one-letter flag written -x", code, errs)
	}
}

// Every command's help lists its flags as --name (one letter: -o), the
// form of the usage texts and the README.
func TestHelpDoubleDash(t *testing.T) {
	t.Parallel()
	singleDash := regexp.MustCompile(`(?m)^  -[a-z][a-z0-9-]+`)
	doubleDash := regexp.MustCompile(`(?m)^  --[a-z][a-z0-9-]+`)
	for _, c := range commands {
		if c.name == "version" {
			continue
		}
		code, out, errs := callCmd(dispatch, "help", c.name)
		if code != 0 || errs != "" || !strings.Contains(out, "Usage: ccsbench") {
			t.Errorf("help %s = %d, stderr %q; want the usage on stdout", c.name, code, errs)
		}
		if m := singleDash.FindString(out); m != "" {
			t.Errorf("help %s lists %q; want --", c.name, m)
		}
		if n := len(doubleDash.FindAllString(out, -1)); n < 2 {
			t.Errorf("help %s lists %d flags as --name; want them all:\n%s", c.name, n, out)
		}
	}
	if _, out, _ := callCmd(dispatch, "help", "merge"); !strings.Contains(out, "\n  -o FILE\n") {
		t.Errorf("help merge does not list -o FILE:\n%s", out)
	}
}

func TestErrText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("driver: invalid configuration: Conns 0"), "invalid configuration: Conns 0"},
		{fmt.Errorf("--fake-nack: %w", errors.New("fakeccs: invalid configuration: rates sum to 1.5")), "--fake-nack: invalid configuration: rates sum to 1.5"},
		{errors.Join(errors.New("report: a"), errors.New("report: b")), "a; b"},
		{errors.New("report: r.json: ccs: x"), "r.json: x"},
		{errors.New("the server said: driver: go away"), "the server said: go away"},
		{errors.New("not a prefix: drivers: x"), "not a prefix: drivers: x"},
	} {
		if got := errText(tc.err); got != tc.want {
			t.Errorf("errText(%q) = %q; want %q", tc.err, got, tc.want)
		}
	}
}

// An output file "-" is standard output: it is never created as a file,
// and only one output can take standard output.
func TestCheckOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := checkOutputs(output{"json", "-"}, output{"md", filepath.Join(dir, "r.md")}, output{"html", ""}); err != nil {
		t.Errorf("checkOutputs(--json -, --md FILE) = %v; want nil", err)
	}
	err := checkOutputs(output{"json", "-"}, output{"md", "-"})
	if exitCode(err, 0) != exitUsage || !strings.Contains(fmt.Sprint(err), "--json - and --md -: only one output can go to standard output") {
		t.Errorf("checkOutputs(--json -, --md -) = %v; want a usage error naming both", err)
	}
	if !toStdout([]output{{"o", "-"}}) || toStdout([]output{{"o", "x"}, {"md", ""}}) {
		t.Errorf("toStdout is wrong about -")
	}
	var stdout bytes.Buffer
	if err := writeOutput("-", &stdout, bytes.ToUpper, func(w io.Writer) error { _, err := io.WriteString(w, "out"); return err }); err != nil || stdout.String() != "OUT" {
		t.Errorf("writeOutput(-) wrote %q, %v; want OUT on stdout", stdout.String(), err)
	}
	if _, err := os.Stat(filepath.Join(".", "-")); !os.IsNotExist(err) {
		t.Errorf("a file named - exists in the package directory (%v)", err)
	}
}

// printFlags writes what flag.PrintDefaults writes, with two dashes.
func TestPrintFlags(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("conns", 8, "number of connections `N`")
	fs.String("o", "", "output `FILE`")
	fs.Bool("v", false, "verbose")
	fs.Var(&rateFlag{new(float64)}, "rate", "rate `R`")
	var want bytes.Buffer
	fs.SetOutput(&want)
	fs.PrintDefaults()
	var got bytes.Buffer
	printFlags(&got, fs)
	if strings.ReplaceAll(got.String(), "  --", "  -") != want.String() || !strings.Contains(got.String(), "  --conns N\n") || !strings.Contains(got.String(), "  -o FILE\n") || !strings.Contains(got.String(), "  -v\t") {
		t.Errorf("printFlags wrote\n%s\nfor PrintDefaults'\n%s", got.String(), want.String())
	}
}
