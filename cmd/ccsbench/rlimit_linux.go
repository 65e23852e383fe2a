package main

import "syscall"

// raiseOpenFiles raises the soft limit on open files (RLIMIT_NOFILE) to
// the hard limit, as servers do, and returns the limit in effect. (Go's
// runtime does the same at start on Linux since Go 1.19; doing it here
// keeps the tool's needs stated where they are checked.)
func raiseOpenFiles() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = want.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return rl.Cur, err
		}
		rl = want
	}
	return rl.Cur, nil
}
