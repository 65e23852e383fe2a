package judge

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/report"
)

// Rule ids, a contract: scorecards, scripts and the README name them.
const (
	RuleHandshake    = "handshake"
	RuleWindow       = "window"
	RuleUpstreamAck  = "upstream-ack"
	RuleReceiptAck   = "receipt-ack"
	RuleDrainMoves   = "drain-moves"
	RuleDrainNoLoss  = "drain-no-loss"
	RuleDropResend   = "drop-resend"
	RuleRetryBackoff = "retry-backoff"
	RuleNoRetryFinal = "no-retry-final"
	RuleNoDuplicates = "no-duplicates"
)

// Rule is one rule of the judge.
type Rule struct {
	// ID is the rule's id.
	ID string
	// Doc says in a line when it passes.
	Doc string
	// Scenarios are those it is judged on; nil: every scenario run.
	Scenarios []string
	judge     func(fs []*facts) (verdict, evidence string)
}

// Rules lists every rule, in scorecard order.
var Rules = []Rule{
	{ID: RuleHandshake, Doc: "the client authenticated and bound in every scenario (its login form is reported)", judge: judgeHandshake},
	{ID: RuleWindow, Doc: "no message read while 100 of its connection were unanswered, in any scenario (max pending reported)", judge: judgeWindow},
	{ID: RuleUpstreamAck, Doc: "every upstream message ACKed with the right to and message_id (those sent less than 1 s before their connection closed excepted); ACK latency reported",
		Scenarios: []string{Upstream}, judge: judgeUpstream},
	{ID: RuleReceiptAck, Doc: "every delivery receipt ACKed (either id form; the form is reported)",
		Scenarios: []string{Receipts}, judge: judgeReceipts},
	{ID: RuleDrainMoves, Doc: fmt.Sprintf("after CONNECTION_DRAINING, nothing new on that connection (nothing %v after the client was told, nor beyond what its window allowed before it could read it: 100, or the most it left unanswered when it went over 100 on at most 1%% of its messages), and the next message on another connection before the draining one closed (time to it reported)", DrainGrace),
		Scenarios: []string{Drain}, judge: judgeDrainMoves},
	{ID: RuleDrainNoLoss, Doc: "in drain, every one of the CCS_MESSAGES ids reached the fake and got a final answer",
		Scenarios: []string{Drain}, judge: judgeDrainNoLoss},
	{ID: RuleDropResend, Doc: "in drop, every message left unanswered by a dropped connection arrives again on another, and every id arrives",
		Scenarios: []string{Drop}, judge: judgeDropResend},
	{ID: RuleRetryBackoff, Doc: fmt.Sprintf("every SERVICE_UNAVAILABLE message is sent again, %v or more after the NACK, each later wait %g times the one before or more", MinFirstBackoff, MinBackoffGrowth),
		Scenarios: []string{Retry}, judge: judgeRetry},
	{ID: RuleNoRetryFinal, Doc: fmt.Sprintf("no message NACKed with a final code is sent again (except on another connection when the NACK's own closed within %v: the NACK may have died with it)", AnswerSeen),
		Scenarios: []string{Final}, judge: judgeFinal},
	{ID: RuleNoDuplicates, Doc: fmt.Sprintf("no message sent again, in any scenario, after its ACK reached the client: written on a connection that then lived %v more, or followed there by the resend", AnswerSeen),
		judge: judgeDuplicates},
}

// RuleIDs lists the rule ids, comma-separated.
func RuleIDs() string {
	ids := make([]string, len(Rules))
	for i, r := range Rules {
		ids[i] = r.ID
	}
	return strings.Join(ids, ", ")
}

// evaluate judges every rule on the facts of the scenarios that ran.
func evaluate(all []*facts) []report.JudgeRule {
	out := make([]report.JudgeRule, 0, len(Rules))
	for _, r := range Rules {
		var fs []*facts
		ran := false
		for _, f := range all {
			if r.Scenarios != nil && !slices.Contains(r.Scenarios, f.name) {
				continue
			}
			ran = true
			if f.conns > 0 || r.ID == RuleHandshake {
				fs = append(fs, f)
			}
		}
		var v, ev string
		switch {
		case !ran && r.Scenarios != nil:
			v, ev = report.VerdictSkip, "scenario "+strings.Join(r.Scenarios, ", ")+" not run"
		case !ran:
			v, ev = report.VerdictSkip, "no scenario run"
		case len(fs) == 0 && r.Scenarios != nil:
			v, ev = report.VerdictSkip, "the client never connected in "+strings.Join(r.Scenarios, ", ")
		case len(fs) == 0:
			v, ev = report.VerdictSkip, "the client never connected"
		default:
			v, ev = r.judge(fs)
		}
		out = append(out, report.JudgeRule{ID: r.ID, Verdict: v, Evidence: ev})
	}
	return out
}

// n formats a count with thousands separators.
func n[T int | uint64](v T) string {
	s := strconv.FormatUint(uint64(v), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// dur formats a duration in a few digits.
func dur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s"
	case d >= time.Millisecond:
		return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms"
	}
	return strconv.FormatInt(d.Microseconds(), 10) + " µs"
}

// quantiles formats "p50 X, p99 Y" of ds.
func quantiles(ds []time.Duration) string {
	s := spread(ds)
	if s == nil {
		return "-"
	}
	return "p50 " + dur(time.Duration(s.P50)*time.Microsecond) + ", p99 " + dur(time.Duration(s.P99)*time.Microsecond)
}

// perScenario formats "name count" for the scenarios with a non-zero count.
func perScenario(fs []*facts, count func(*facts) int) string {
	var parts []string
	for _, f := range fs {
		if c := count(f); c > 0 {
			parts = append(parts, f.name+" "+n(c))
		}
	}
	return strings.Join(parts, ", ")
}

func judgeHandshake(fs []*facts) (string, string) {
	logins := map[string]uint64{}
	conns, refused, failed := 0, uint64(0), uint64(0)
	var never []string
	for _, f := range fs {
		conns += f.conns
		refused += f.authFailures
		failed += f.handshakeFailures
		for k, v := range f.logins {
			logins[k] += v
		}
		if f.conns == 0 {
			never = append(never, f.name)
		}
	}
	var forms []string
	for _, k := range report.KeysByCount(logins) {
		forms = append(forms, k+" ("+n(logins[k])+")")
	}
	refusedNote := ""
	if refused > 0 {
		refusedNote = "; " + n(refused) + " login" + plural(int(refused)) + " refused (wrong credentials)"
	}
	if failed > 0 {
		refusedNote += "; " + n(failed) + " connection" + plural(int(failed)) + " closed before binding"
	}
	if len(never) > 0 {
		// Say what the fake saw: a client that refuses the certificate
		// or breaks off the stream shows only here.
		for _, f := range fs {
			if f.conns == 0 && f.fakeLog != "" {
				refusedNote += fmt.Sprintf("; the first reason the fake logged in %s: %q", f.name, f.fakeLog)
				break
			}
		}
		if failed > 0 {
			// The usual cause: a client that does not trust CCS_CA_FILE.
			refusedNote += " (the TLS or XMPP handshake failed: does the client trust CCS_CA_FILE?)"
		}
		return report.VerdictFail, fmt.Sprintf("no connection authenticated and bound in %s%s", strings.Join(never, ", "), refusedNote)
	}
	return report.VerdictPass, fmt.Sprintf("%s connections bound in %s, logged in as %s%s", n(conns), scenarios(len(fs)), strings.Join(forms, ", "), refusedNote)
}

func judgeWindow(fs []*facts) (string, string) {
	var violations, maxPending uint64
	where := ""
	for _, f := range fs {
		violations += f.violations
		if f.maxPending > maxPending {
			maxPending, where = f.maxPending, f.name
		}
	}
	if violations > 0 {
		return report.VerdictFail, fmt.Sprintf("%s messages read with %d or more of their connection unanswered (%s); max pending %s (%s)",
			n(violations), ccs.MaxPending, perScenario(fs, func(f *facts) int { return int(f.violations) }), n(maxPending), where)
	}
	return report.VerdictPass, fmt.Sprintf("no violation in %d scenarios; max pending %s (%s)", len(fs), n(maxPending), where)
}

// judgeUps judges upstream messages (receipts false) or receipts.
func judgeUps(fs []*facts, receipts bool) (string, string) {
	what := "upstream messages"
	var u upFacts
	for _, f := range fs {
		x := &f.up
		if receipts {
			what, x = "receipts", &f.rc
		}
		u.add(x)
	}
	if u.sent == 0 {
		why := "the fake sent no upstream message"
		if receipts {
			why = "the fake sent no receipt: the client asked for none (CCS_RECEIPTS=1 asks it to set delivery_receipt_requested)"
		}
		return report.VerdictSkip, why
	}
	ev := fmt.Sprintf("%s of %s %s ACKed", n(u.acked), n(u.sent), what)
	if u.excused > 0 {
		ev += fmt.Sprintf(" (%s more sent less than %v before their connection closed)", n(u.excused), UpstreamGrace)
	}
	if len(u.latency) > 0 {
		ev += "; ACK latency " + quantiles(u.latency)
	}
	if receipts {
		ev += fmt.Sprintf("; form: %s with the dr2: prefix, %s without", n(len(u.latency)-u.unprefixed), n(u.unprefixed))
	}
	if u.wrongTo > 0 || u.unknown > 0 {
		ev += fmt.Sprintf("; %s ACKs with a wrong or missing to/message_id (BAD_ACK), %s of ids with nothing to ACK on their connection", n(u.wrongTo), n(u.unknown))
	}
	if u.unacked > 0 || u.wrongTo > 0 {
		why := fmt.Sprintf("%s %s never ACKed although sent %v or more before their connection closed", n(u.unacked), what, UpstreamGrace)
		if u.unacked > 0 {
			why += fmt.Sprintf(" (%s of them the first sent on their connection; the earliest %q, sent %s after its connection was bound)",
				n(u.unackedFirst), u.unackedEx, dur(u.unackedAfter))
		}
		return report.VerdictFail, why + "; " + ev
	}
	return report.VerdictPass, ev
}

func judgeUpstream(fs []*facts) (string, string) { return judgeUps(fs, false) }
func judgeReceipts(fs []*facts) (string, string) { return judgeUps(fs, true) }

func judgeDrainMoves(fs []*facts) (string, string) {
	var drains, nackDrains, unnoticed, late, lateDrains, waited int
	var reactions []time.Duration
	for _, f := range fs {
		drains += f.drains
		nackDrains += f.drainsNack
		unnoticed += f.unnoticed
		late += f.late
		lateDrains += f.lateDrains
		waited += f.waited
		reactions = append(reactions, f.reactions...)
	}
	if drains-unnoticed == 0 {
		return report.VerdictSkip, fmt.Sprintf("no drain reached the client (%d drains)", drains)
	}
	forms := fmt.Sprintf("%d drain%s (%d by control message, %d by NACK)", drains, plural(drains), drains-nackDrains, nackDrains)
	next := "; next message on another connection after " + quantiles(reactions)
	switch {
	case len(reactions) == 0 && late > 0:
		next = "; none on another connection after them"
	case len(reactions) == 0:
		next = "; nothing was left to send after them"
	}
	switch {
	case late > 0:
		return report.VerdictFail, fmt.Sprintf("%s messages sent on a draining connection after it was told, in %d of %s%s",
			n(late), lateDrains, forms, next)
	case waited > 0:
		return report.VerdictFail, fmt.Sprintf("after %d of %s the next message went out only once the draining connection had closed%s", waited, forms, next)
	}
	return report.VerdictPass, fmt.Sprintf("%s: nothing new on a draining connection once told%s", forms, next)
}

// idsEvidence says how many ids arrived and got a final answer.
func idsEvidence(f *facts) (ok bool, ev string) {
	ev = fmt.Sprintf("%s of %s ids arrived, %s got a final answer", n(f.distinct), n(f.messages), n(f.finalAnswered))
	switch {
	case f.distinct > f.messages:
		return false, ev + fmt.Sprintf(" (%s ids more than CCS_MESSAGES: a resend must keep its message_id)", n(f.distinct-f.messages))
	case f.distinct < f.messages:
		return false, ev + fmt.Sprintf(" (%s never arrived)", n(f.messages-f.distinct))
	case f.finalAnswered < f.distinct:
		return false, ev + fmt.Sprintf(" (%s never did, e.g. %q)", n(f.distinct-f.finalAnswered), f.unanswered)
	}
	return true, ev
}

func judgeDrainNoLoss(fs []*facts) (string, string) {
	f := fs[0]
	ok, ev := idsEvidence(f)
	ev = fmt.Sprintf("through %d drain%s, %s", f.drains, plural(f.drains), ev)
	if !ok {
		return report.VerdictFail, ev
	}
	return report.VerdictPass, ev
}

func judgeDropResend(fs []*facts) (string, string) {
	f := fs[0]
	if f.drops == 0 {
		return report.VerdictSkip, "no connection was dropped"
	}
	arrived := f.distinct == f.messages
	ev := fmt.Sprintf("%d drop%s left %s messages unanswered; ", f.drops, plural(f.drops), n(f.atDrop))
	if f.notResent > 0 {
		ev += fmt.Sprintf("%s never arrived again (e.g. %q)", n(f.notResent), f.notResentEx)
	} else {
		ev += "all arrived again on another connection"
	}
	if len(f.resends) > 0 {
		ev += ", after " + quantiles(f.resends)
	}
	ev += fmt.Sprintf("; %s of %s ids arrived", n(f.distinct), n(f.messages))
	if f.notResent > 0 || !arrived {
		return report.VerdictFail, ev
	}
	return report.VerdictPass, ev
}

func judgeRetry(fs []*facts) (string, string) {
	f := fs[0]
	if f.suNacks == 0 {
		return report.VerdictSkip, "no SERVICE_UNAVAILABLE NACK was written"
	}
	ev := fmt.Sprintf("%s SERVICE_UNAVAILABLE NACKs", n(f.suNacks))
	var bad []string
	if f.neverResent > 0 {
		bad = append(bad, fmt.Sprintf("%s never sent again (e.g. %q)", n(f.neverResent), f.suEx))
	}
	if f.tooSoon > 0 {
		bad = append(bad, fmt.Sprintf("%s resends sooner than %v after the NACK (fastest %s)", n(f.tooSoon), MinFirstBackoff, dur(f.fastest)))
	}
	if f.notGrowing > 0 {
		bad = append(bad, fmt.Sprintf("%s later waits not %g times the one before", n(f.notGrowing), MinBackoffGrowth))
	}
	if len(f.firstWaits) > 0 {
		ev += "; first resend after " + quantiles(f.firstWaits)
	}
	if f.chains > 0 {
		ev += fmt.Sprintf("; %d messages NACKed again after a resend", f.chains)
	}
	if len(bad) > 0 {
		return report.VerdictFail, strings.Join(bad, "; ") + "; " + ev
	}
	return report.VerdictPass, ev + ": all sent again, backing off"
}

func judgeFinal(fs []*facts) (string, string) {
	f := fs[0]
	total := 0
	var codes []string
	for _, c := range sortedKeys(f.finalNacks) {
		total += f.finalNacks[c]
		codes = append(codes, c+" "+n(f.finalNacks[c]))
	}
	if total == 0 {
		return report.VerdictSkip, "no final NACK was written"
	}
	ev := fmt.Sprintf("%s final NACKs (%s)", n(total), strings.Join(codes, ", "))
	if f.finalResent > 0 {
		return report.VerdictFail, fmt.Sprintf("%s messages sent again after a final NACK (e.g. %q %s after %s); %s",
			n(f.finalResent), f.finalEx, dur(f.finalExAfter), f.finalExCode, ev)
	}
	return report.VerdictPass, ev + ": none sent again"
}

func judgeDuplicates(fs []*facts) (string, string) {
	dups, acks := 0, 0
	ex, exWhen := "", time.Duration(0)
	for _, f := range fs {
		dups += f.dupIDs
		acks += f.acks
		if f.dupEx != "" && ex == "" {
			ex, exWhen = f.dupEx, f.dupWhen
		}
	}
	if dups > 0 {
		return report.VerdictFail, fmt.Sprintf("%s messages sent again after their ACK reached the client (%s; e.g. %q %s after its ACK)",
			n(dups), perScenario(fs, func(f *facts) int { return f.dupIDs }), ex, dur(exWhen))
	}
	return report.VerdictPass, fmt.Sprintf("no message sent again after its ACK in %s (%s ACKs)", scenarios(len(fs)), n(acks))
}

// scenarios says "1 scenario" or "n scenarios".
func scenarios(k int) string { return strconv.Itoa(k) + " scenario" + plural(k) }

// plural is "s" unless k is 1.
func plural(k int) string {
	if k == 1 {
		return ""
	}
	return "s"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
