//go:build !linux

package driver

import "time"

// fineTimer is the runtime's timer where no finer sleep is wired up.
type fineTimer struct{}

func newFineTimer() *fineTimer { return nil }

func (t *fineTimer) sleep(d time.Duration) { time.Sleep(d) }

func (t *fineTimer) close() {}
