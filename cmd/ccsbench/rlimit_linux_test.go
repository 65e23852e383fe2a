package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A run that needs more open files than the hard limit allows says so
// before it starts. The limit is lowered in a child process (a lowered
// hard limit cannot be raised again).
func TestRunOpenFilesLimit(t *testing.T) {
	if os.Getenv("CCSBENCH_TEST_NOFILE") == "child" {
		rl := syscall.Rlimit{Cur: 100, Max: 200}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(3)
		}
		code, _, errs := callRun("--conns", "100", "--duration", "1s", "--progress=false")
		limit, err := raiseOpenFiles()
		fmt.Printf("code=%d limit=%d err=%v\n%s", code, limit, err, errs)
		os.Exit(0)
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRunOpenFilesLimit$")
	cmd.Env = append(os.Environ(), "CCSBENCH_TEST_NOFILE=child")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := string(out)
	// 100 connections with the embedded fake: 2 × 100 + 64 > 200.
	for _, want := range []string{"code=2 limit=200", "needs about 264 open files", "the limit (RLIMIT_NOFILE, raised to its hard limit) is 200"} {
		if !strings.Contains(got, want) {
			t.Errorf("child output lacks %q:\n%s", want, got)
		}
	}
}
