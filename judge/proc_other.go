//go:build !unix

package judge

import (
	"os"
	"os/exec"
)

// Signals the judge sends a command: without process groups, an
// interrupt and then a kill of the process itself.
var (
	terminate = os.Interrupt
	kill      = os.Kill
)

// ownGroup does nothing where there are no process groups.
func ownGroup(*exec.Cmd) {}

// signalGroup sends sig to p.
func signalGroup(p *os.Process, sig os.Signal) {
	p.Signal(sig)
}
