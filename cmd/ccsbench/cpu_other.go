//go:build !unix

package main

import "time"

// processCPU reports the CPU time used unknown outside Unix systems.
func processCPU() (time.Duration, bool) { return 0, false }
