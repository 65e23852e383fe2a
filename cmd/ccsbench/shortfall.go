package main

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

// A run that sends slower than its pacer asked, or leaves messages due
// unsent, says so at its end, and why, from what the driver measured:
// where the scheduler waited (for a connection able to send, or for a
// window with room) and, when it did not wait, how busy this process was.

// A run is short when its offered rate is below minShare of the rate
// asked for and its sending ended more than minLag after it was planned
// to (so that the last few milliseconds of a short run are not a
// shortfall).
const (
	minShare = 0.95
	minLag   = 100 * time.Millisecond
)

// shortfall says, in one line, how far the run fell short of the rate
// its pacer asked for and what messages due were never sent, and why; ""
// when it kept up. jobMessages is --messages (the job's total for a
// shard); embedded says whether the fake ran in this process.
func shortfall(res *driver.Result, cfg driver.Config, jobMessages uint64, cpu cpuUse, embedded bool) string {
	requested, planned := requestedRate(res, cfg, jobMessages)
	short := requested > 0 && res.OfferedRate < minShare*requested && res.Measured-planned > minLag
	unsent := res.Counts.Unsent
	var what string
	switch {
	case short && unsent > 0:
		what = fmt.Sprintf("sent %s msgs/s of the %s asked for; %d messages due were never sent", rate(res.OfferedRate), rate(requested), unsent)
	case short:
		what = fmt.Sprintf("sent %s msgs/s of the %s asked for, sending ending %v later than planned", rate(res.OfferedRate), rate(requested), (res.Measured - planned).Round(time.Millisecond))
	case unsent > 0:
		what = fmt.Sprintf("%d messages due before the end of sending were never sent", unsent)
	default:
		return ""
	}
	return what + ": " + shortfallCause(res, cfg, cpu, embedded)
}

// requestedRate is the mean rate, in messages per second, the pacer asked
// of this run (this shard's part of the job) over the measured part of
// its sending, and the time that part was planned to last. The rate is
// the pacer's own (its integral over that time), else the messages due in
// it (those created and those due but never sent) over its length. It is
// 0 for an unlimited pacer.
func requestedRate(res *driver.Result, cfg driver.Config, jobMessages uint64) (float64, time.Duration) {
	if cfg.Pacer == nil || math.IsInf(cfg.Pacer.Rate(0), 1) {
		return 0, 0
	}
	end := cfg.Duration
	if jobMessages > 0 {
		if last := cfg.Pacer.Due(jobMessages - 1); last != workload.Never && (end == 0 || last < end) {
			end = last
		}
	}
	planned := end - res.Warmup
	if planned <= 0 {
		return 0, 0
	}
	if cp, ok := cfg.Pacer.(workload.ContinuousPacer); ok {
		due := (cp.Hits(end) - cp.Hits(res.Warmup)) / float64(max(1, cfg.Shard.Count))
		return due / planned.Seconds(), planned
	}
	due := res.OfferedRate*res.Measured.Seconds() + float64(res.Counts.Unsent)
	return due / planned.Seconds(), planned
}

// shortfallCause says why messages were sent late or not at all:
// connections that kept failing or draining (the scheduler waited with
// none able to send), the target (every window full for at least half of
// the sending: messages waited for answers), or the driver itself
// (windows had room, but this process did not create and write messages
// as fast as they were due).
func shortfallCause(res *driver.Result, cfg driver.Config, cpu cpuUse, embedded bool) string {
	c := res.Counts
	disc := c.DisconnectTotal()
	sending := res.Warmup + res.Measured
	waits := fmt.Sprintf("the scheduler waited %v with no connection able to send, %v with every window full", res.WaitNoConnection.Round(time.Millisecond), res.WaitFull.Round(time.Millisecond))
	switch {
	case disc+c.DialFailures > 0 && (res.WaitNoConnection > res.WaitFull || disc+c.DialFailures >= uint64(cfg.Conns)):
		why := fmt.Sprintf("connections kept failing (%d disconnects", disc)
		if top := topCauses(c.Disconnects, 3); top != "" {
			why += ": " + top
		}
		if c.DialFailures > 0 {
			why += fmt.Sprintf("; %d failed reconnects", c.DialFailures)
		}
		return why + "); " + waits
	case c.Draining > 0 && res.WaitNoConnection > res.WaitFull:
		return fmt.Sprintf("connections kept draining (%d CONNECTION_DRAINING, %d closed after --drain-close-timeout); %s", c.Draining, c.DrainTimeouts, waits)
	case res.WaitFull >= sending/2:
		return fmt.Sprintf("the target saturated: every window (%s × %d pending) was full for %v of the %v of sending, the scheduler waiting for answers",
			plural(cfg.Conns, "connection"), cfg.Window, res.WaitFull.Round(time.Millisecond), sending.Round(time.Millisecond))
	}
	why := fmt.Sprintf("the driver saturated: windows had room (every one full for only %v of the %v of sending), but this process did not create and write messages as fast as they were due",
		res.WaitFull.Round(time.Millisecond), sending.Round(time.Millisecond))
	if cpu.known {
		why += fmt.Sprintf(" (it used %.2f of its %d CPUs", cpu.busy(), cpu.procs)
		if embedded {
			why += ", the embedded fake's work included"
		}
		why += ")"
	}
	return why
}

// rate writes a rate in messages per second with thousands separated:
// "1,234,567".
func rate(r float64) string {
	s := strconv.FormatFloat(math.Round(r), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// topCauses lists the n most frequent causes: "eof 3, reset 1".
func topCauses(m map[string]uint64, n int) string {
	keys := report.KeysByCount(m)
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(keys) > n {
		parts = append(parts, "…")
	}
	return strings.Join(parts, ", ")
}

// cpuUse is the CPU time this process used over a span of wall-clock
// time, and how many CPUs it could use (GOMAXPROCS); known is false where
// the CPU time cannot be read.
type cpuUse struct {
	cpu, wall time.Duration
	procs     int
	known     bool
}

// busy is how many CPUs the process kept busy on average.
func (u cpuUse) busy() float64 {
	if u.wall <= 0 {
		return 0
	}
	return u.cpu.Seconds() / u.wall.Seconds()
}

// cpuMeter measures a cpuUse from when startCPU made it.
type cpuMeter struct {
	cpu   time.Duration
	start time.Time
	known bool
}

// startCPU starts measuring the CPU this process uses.
func startCPU() cpuMeter {
	cpu, ok := processCPU()
	return cpuMeter{cpu: cpu, start: time.Now(), known: ok}
}

// stop returns the CPU used since startCPU.
func (m cpuMeter) stop() cpuUse {
	cpu, ok := processCPU()
	return cpuUse{cpu: cpu - m.cpu, wall: time.Since(m.start), procs: runtime.GOMAXPROCS(0), known: ok && m.known}
}

// notCCS says, when the answers of a target other than the embedded fake
// show that it does not speak CCS, what it did instead: it authenticated
// and bound, then answered no message with an ACK or NACK, and bounced
// them with stanza errors, naming no message or echoing it (a standard
// XMPP server that cannot route them, as Prosody and ejabberd do), or
// said nothing at all. Stanza errors that name no message beside real
// answers are reported too. "" when the answers look like CCS's.
func notCCS(c driver.Counts, drainTimeout time.Duration, embedded bool) string {
	if embedded || c.Messages == 0 {
		return ""
	}
	noID := c.StrayKinds["no_id"]
	conds := ""
	if len(c.ErrorConditions) > 0 {
		conds = " (" + topCauses(c.ErrorConditions, 3) + ")"
	}
	if c.Acked+c.Nacked > 0 {
		if noID == 0 {
			return ""
		}
		return fmt.Sprintf("the target sent %d stanza errors that name no message%s: they resolve nothing, and their messages stay unanswered", noID, conds)
	}
	msg := fmt.Sprintf("the target authenticated but answered none of %d messages with an ACK or NACK", c.Messages)
	switch {
	case noID > 0:
		return msg + fmt.Sprintf("; it bounced %d with stanza errors that name no message%s: it looks like a standard XMPP server, not a CCS server", noID, conds)
	case c.StanzaErrors > 0:
		// The errors echo the message (they resolved it by its
		// message_id), as ejabberd's bounce of a message it cannot
		// deliver does; a CCS server sends stanza errors only for what
		// it cannot read, and ACKs or NACKs the rest.
		return msg + fmt.Sprintf("; it refused %d with stanza errors that echo the message%s: it looks like a standard XMPP server that could not route them, not a CCS server (which answers every message it can read with an ACK or NACK)", c.StanzaErrors, conds)
	}
	return msg + fmt.Sprintf(": it does not look like a CCS server (or it needs longer than --drain-timeout %v to answer)", drainTimeout)
}
