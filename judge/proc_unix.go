//go:build unix

package judge

import (
	"os"
	"os/exec"
	"syscall"
)

// Signals the judge sends a command's process group.
const (
	terminate = syscall.SIGTERM
	kill      = syscall.SIGKILL
)

// ownGroup starts cmd in a process group of its own, so that a signal
// reaches whatever it starts (a shell, `go run`, an interpreter's
// workers), and the terminal's Ctrl-C reaches the judge alone (which
// stops the client itself).
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the process group led by p; a group already
// gone is not an error.
func signalGroup(p *os.Process, sig syscall.Signal) {
	syscall.Kill(-p.Pid, sig)
}
