// Command ccsbench load-tests and benchmarks Cloud Connection Server (CCS)
// endpoints: XMPP over TLS with JSON payloads, per-message ACK/NACK and a
// window of 100 pending messages per connection. With no target it starts a
// fake CCS server on loopback and measures against it.
//
// Usage:
//
//	ccsbench [run] [flags]        load test (flags with no subcommand mean run)
//	ccsbench fake [flags]         standalone fake CCS server
//	ccsbench judge -- COMMAND     score any CCS client against the fake
//	ccsbench report RESULT.json   terminal, markdown or HTML report
//	ccsbench compare BASE NEW     regression gate between results
//	ccsbench merge A B ... -o OUT exact merge of distributed runs
//	ccsbench version              version and VCS revision of the build
//
// Run `ccsbench help COMMAND` for the flags of one command. An output file
// flag given "-" writes to standard output, which then carries that output
// alone.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// command is one subcommand: run parses its own flags from args and
// returns the process exit status; only main exits.
type command struct {
	name, summary string
	run           func(args []string, stdout, stderr io.Writer) int
}

// commands is every subcommand, in the order the usage lists them.
var commands = []command{
	{"run", "load test a CCS endpoint (default: the embedded fake on loopback)", runCmd},
	{"fake", "standalone fake CCS server (TLS, fault injection, stats)", fakeCmd},
	{"judge", "score a CCS client against the fake: correctness rules and speed", judgeCmd},
	{"report", "terminal, markdown or HTML report of results files", reportCmd},
	{"compare", "compare new results with a baseline; exit 1 on regression", compareCmd},
	{"merge", "exact merge of results of a distributed run", mergeCmd},
	{"version", "print the version, the VCS revision it was built from and the Go version", versionCmd},
}

// main runs the command the arguments name and exits with its status.
func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch picks the subcommand: the first argument when it names one,
// "run" when the arguments start with a flag or are empty.
func dispatch(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		return runCmd(args, stdout, stderr)
	case args[0] == "-version" || args[0] == "--version":
		return versionCmd(nil, stdout, stderr)
	case strings.HasPrefix(args[0], "-"):
		return runCmd(args, stdout, stderr)
	case args[0] == "help" && len(args) > 1:
		return runCommand(args[1], []string{"--help"}, stdout, stderr)
	case args[0] == "help":
		usage(stdout)
		return exitOK
	}
	return runCommand(args[0], args[1:], stdout, stderr)
}

// runCommand runs the command named name with args.
func runCommand(name string, args []string, stdout, stderr io.Writer) int {
	for _, c := range commands {
		if c.name == name {
			return c.run(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "ccsbench: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

// usage lists the commands of the table.
func usage(w io.Writer) {
	fmt.Fprint(w, "Usage: ccsbench [command] [flags]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-9s %s\n", "help", "show the usage and flags of a command: ccsbench help COMMAND")
	fmt.Fprint(w, "\nWith no command, the flags are those of run. An output file given as - is\nstandard output, which then carries that output alone.\n")
}

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// empty, the main module's version in the build information is used.
var version = ""

// versionCmd implements `ccsbench version`.
func versionCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return fail(stderr, "version", exitUsage, fmt.Errorf("unexpected argument %q", args[0]))
	}
	bi, _ := debug.ReadBuildInfo()
	fmt.Fprintln(stdout, "ccsbench "+describeBuild(version, bi))
	return exitOK
}

// describeBuild says what this binary is, from the -ldflags version and
// the build information: the version (the -ldflags one, else the main
// module's, else "devel"), the VCS revision it was built from with its
// commit time and whether the tree had uncommitted changes, and the Go
// version and platform. go build records the revision when it builds in
// a git checkout (unless -buildvcs=false); go run and go test do not.
func describeBuild(ldVersion string, bi *debug.BuildInfo) string {
	v := toolVersion(ldVersion, bi)
	var rev, at string
	modified := false
	if bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	switch {
	case rev == "":
		v += " (no VCS revision recorded)"
	case modified:
		v += " (revision " + rev + " of " + at + ", with uncommitted changes)"
	default:
		v += " (revision " + rev + " of " + at + ")"
	}
	return v + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// toolVersion is the version results files record (tool.version): the
// -ldflags version, else the main module's version, else "devel".
func toolVersion(ldVersion string, bi *debug.BuildInfo) string {
	switch {
	case ldVersion != "":
		return ldVersion
	case bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version
	}
	return "devel"
}

// buildVersion is toolVersion of this binary.
func buildVersion() string {
	bi, _ := debug.ReadBuildInfo()
	return toolVersion(version, bi)
}
