// Command ccsbench load-tests and benchmarks Cloud Connection Server (CCS)
// endpoints: XMPP over TLS with JSON payloads, per-message ACK/NACK and a
// window of 100 pending messages per connection. With no target it starts a
// fake CCS server on loopback and measures against it.
//
// Usage:
//
//	ccsbench [run] [flags]        load test (flags with no subcommand mean run)
//	ccsbench fake [flags]         standalone fake CCS server
//	ccsbench report RESULT.json   terminal, markdown or HTML report
//	ccsbench compare BASE NEW     regression gate between results
//	ccsbench merge A B ... -o OUT exact merge of distributed runs
//	ccsbench judge -- COMMAND     score any CCS client against the fake
//
// Run `ccsbench help COMMAND` for the flags of one command.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
)

// command is one subcommand: fn parses its own flags from args and returns
// the process exit code; only main exits.
type command struct {
	fn      func(args []string, stdout, stderr io.Writer) int
	summary string
}

// commands maps subcommand names to their implementations; each file of a
// subcommand adds itself in an init function.
var commands = map[string]command{}

func register(name, summary string, fn func(args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{fn: fn, summary: summary}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch picks the subcommand: the first argument when it names one,
// "run" when the arguments start with a flag or are empty.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-version" || args[0] == "--version") {
			fmt.Fprintln(stdout, versionString())
			return 0
		}
		return runCommand("run", args, stdout, stderr)
	}
	switch args[0] {
	case "help":
		if len(args) > 1 {
			return runCommand(args[1], []string{"-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	case "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	return runCommand(args[0], args[1:], stdout, stderr)
}

func runCommand(name string, args []string, stdout, stderr io.Writer) int {
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(stderr, "ccsbench: unknown command %q\n\n", name)
		usage(stderr)
		return 2
	}
	return c.fn(args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: ccsbench [command] [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, "\nWith no command, flags are those of run. `ccsbench help COMMAND` shows a command's flags.\n")
}

// version is set at build time with -ldflags "-X main.version=..."; without
// it the module version from the build info is used.
var version = ""

func versionString() string {
	v := version
	if v == "" {
		v = "devel"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	return "ccsbench " + v
}
