package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Exit statuses every command shares.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the command ran and failed (a run, a judged rule, a regression)
	exitUsage = 2 // bad usage or unreadable input; nothing was done
	exitGate  = 3 // a --gate expression failed
)

// fail prints err on stderr as one line, "ccsbench CMD: MESSAGE", and
// returns code, the command's exit status. It is how every command says
// why it stopped.
func fail(stderr io.Writer, cmd string, code int, err error) int {
	fmt.Fprintf(stderr, "ccsbench %s: %s\n", cmd, errText(err))
	return code
}

// warn prints err on stderr as one line, "ccsbench CMD: warning: MESSAGE".
func warn(stderr io.Writer, cmd string, err error) {
	fmt.Fprintf(stderr, "ccsbench %s: warning: %s\n", cmd, errText(err))
}

// notef prints a note on stderr as one line, "ccsbench CMD: MESSAGE".
func notef(stderr io.Writer, cmd, format string, args ...any) {
	fmt.Fprintf(stderr, "ccsbench %s: %s\n", cmd, oneLine(fmt.Sprintf(format, args...)))
}

// pkgPrefix matches the package prefix of an error of this module
// ("driver: ", "report: "...) where a part of a message begins: the
// command's name says which program speaks, and a user needs the Go
// package no more than once, so errText leaves them out.
var pkgPrefix = regexp.MustCompile(`(^|: |; )(?:ccs|driver|workload|fakeccs|report|judge): `)

// errText is err as the CLI prints it: one line (the parts of a joined
// error separated by "; "), without this module's package prefixes.
func errText(err error) string {
	s := oneLine(err.Error())
	for {
		t := pkgPrefix.ReplaceAllString(s, "$1")
		if t == s {
			return s
		}
		s = t
	}
}

// oneLine joins the lines of s with "; ".
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

// usageErrorf is a usage error of the command line: exit status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitError is an error with the exit status it ends its command with.
type exitError struct {
	code int
	err  error
}

// Error returns the error's message.
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap returns the error.
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the exit status err ends a command with: that of an
// *exitError, else def.
func exitCode(err error, def int) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return def
}

// Flag parsing.

// parseMode says where a command's flags may be.
type parseMode uint8

const (
	flagsOnly     parseMode = iota // flags only: any other argument is an error
	interspersed                   // flags before, between and after the arguments (report a.json --md x)
	flagsThenArgs                  // flags, then the arguments as they are (judge -- COMMAND ARGS)
)

// parseFlags parses args with fs, as mode allows. It returns the
// arguments that are not flags, or ok=false with the exit status: 0 after
// printing the help (usage, then the flags) on stdout for -h or --help, 2
// after one line on stderr for a bad flag. Flags are written --name in
// every message, as the usage texts write them.
func parseFlags(fs *flag.FlagSet, args []string, mode parseMode, usage func(io.Writer), stdout, stderr io.Writer) (positional []string, code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			printFlags(stdout, fs)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, fail(stderr, fs.Name(), exitUsage, fmt.Errorf("%s (see ccsbench help %s)", flagError(fs, err), fs.Name())), false
		}
		rest := fs.Args()
		switch {
		case len(rest) == 0:
			return positional, exitOK, true
		case mode == flagsThenArgs:
			return rest, exitOK, true
		case rest[0] == "--":
			positional = append(positional, rest[1:]...)
			rest = nil
		case mode == flagsOnly:
			return nil, fail(stderr, fs.Name(), exitUsage, fmt.Errorf("unexpected argument %q (flags only; see ccsbench help %s)", rest[0], fs.Name())), false
		default:
			positional = append(positional, rest[0])
			rest = rest[1:]
		}
		if mode == flagsOnly && len(positional) > 0 {
			return nil, fail(stderr, fs.Name(), exitUsage, fmt.Errorf("unexpected argument %q (flags only; see ccsbench help %s)", positional[0], fs.Name())), false
		}
		args = rest
	}
}

// flagName writes a flag as the usage texts do: --name, or -o for a
// single letter.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// The errors of flag.FlagSet.Parse, which write flags with one dash.
var (
	flagUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	flagNoValue   = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	flagBadValue  = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-+([^:]*): (.*)$`)
)

// flagError rewords an error of fs.Parse: the flag written --name, a
// value's problem in words for the flag's type.
func flagError(fs *flag.FlagSet, err error) string {
	s := err.Error()
	if m := flagUndefined.FindStringSubmatch(s); m != nil {
		return "unknown flag " + flagName(m[1])
	}
	if m := flagNoValue.FindStringSubmatch(s); m != nil {
		return flagName(m[1]) + " needs a value"
	}
	m := flagBadValue.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	value, name, why := m[1], m[2], m[3]
	if f := fs.Lookup(name); f != nil && (why == "parse error" || why == "value out of range") {
		want := ""
		if g, ok := f.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case bool:
				want = "true or false"
			case int, int64, uint, uint64:
				want = "a whole number"
			case float64:
				want = "a number"
			case time.Duration:
				want = "a duration such as 500ms, 10s or 1m30s"
			}
		}
		switch {
		case why == "value out of range":
			why = "out of range"
		case want != "":
			why = "want " + want
		}
	}
	return flagName(name) + " " + value + ": " + why
}

// printFlags writes the flags of fs as flag.PrintDefaults does, but as
// --name (or -o for a single letter), the form the usage texts and the
// README use.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	var b bytes.Buffer
	out := fs.Output()
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(out)
	for line := range strings.Lines(b.String()) {
		// A flag's line starts "  -name"; its usage lines start with
		// four spaces and a tab.
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ := strings.Cut(rest, " ")
			name, _, _ = strings.Cut(name, "\t")
			if len(strings.TrimSpace(name)) > 1 {
				line = "  --" + rest
			}
		}
		io.WriteString(w, line)
	}
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// Output files.

// stdoutPath is the path of an output file flag that means standard
// output.
const stdoutPath = "-"

// output is one output file flag: its name and the path given ("" when
// not asked for, "-" for standard output).
type output struct {
	flag, path string
}

// toStdout reports whether one of outs goes to standard output: then
// standard output carries that output alone, and what a command would
// print there otherwise (a summary) goes to standard error.
func toStdout(outs []output) bool {
	for _, o := range outs {
		if o.path == stdoutPath {
			return true
		}
	}
	return false
}

// checkOutputs makes sure, before any work, that at most one output goes
// to standard output and that every output file asked for can be
// written: an existing file is opened for writing (not truncated: it keeps
// its content if the command fails), a new one is created and removed
// again. Errors are usage errors.
func checkOutputs(outs ...output) error {
	var toOut []string
	for _, out := range outs {
		switch out.path {
		case "":
			continue
		case stdoutPath:
			toOut = append(toOut, flagName(out.flag)+" -")
			continue
		}
		_, statErr := os.Stat(out.path)
		existed := statErr == nil
		f, err := os.OpenFile(out.path, os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return usageErrorf("%s: %w", flagName(out.flag), err)
		}
		err = f.Close()
		if !existed {
			err = errors.Join(err, os.Remove(out.path))
		}
		if err != nil {
			return usageErrorf("%s: %w", flagName(out.flag), err)
		}
	}
	if len(toOut) > 1 {
		return usageErrorf("%s: only one output can go to standard output", strings.Join(toOut, " and "))
	}
	return nil
}

// writeOutput renders with fn and writes the result to path, or to stdout
// when path is "-"; filter, if not nil, passes over the bytes first (the
// redactor). A file is only touched when rendering succeeded.
func writeOutput(path string, stdout io.Writer, filter func([]byte) []byte, fn func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := fn(&buf); err != nil {
		return err
	}
	b := buf.Bytes()
	if filter != nil {
		b = filter(b)
	}
	if path == stdoutPath {
		_, err := stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// lockedWriter serializes writes: the driver reports disconnects, and the
// judge its scenarios, from other goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to the underlying writer, one caller at a time.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
