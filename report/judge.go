package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// JudgeSchema is the version tag of the scorecard file `ccsbench judge`
// writes, and the only one ReadJudgement reads.
const JudgeSchema = "ccsbench.judge/v1"

// judgeFamily is the prefix shared by every version of the judge schema.
const judgeFamily = "ccsbench.judge/"

// Verdicts of a judge rule.
const (
	// VerdictPass: the client did what the rule asks.
	VerdictPass = "pass"
	// VerdictFail: it did not; the evidence says where.
	VerdictFail = "fail"
	// VerdictSkip: the rule's scenario was not run, or the client never
	// connected in it.
	VerdictSkip = "skip"
)

// Judgement is the scorecard of one client by `ccsbench judge`: what ran,
// what the fake measured in each scenario, and a verdict with evidence
// for each rule. Durations are in seconds, latencies in microseconds,
// rates in messages per second. The JSON field names are a contract.
type Judgement struct {
	// Schema is always JudgeSchema in a valid file.
	Schema string `json:"schema"`
	// Tool identifies the judging program; Tool.Client names the client.
	Tool Tool `json:"tool"`
	// Client is the client judged.
	Client JudgeClient `json:"client"`
	// Config holds the judge's settings (messages, scenarios, timeouts),
	// by flag name; never credentials.
	Config map[string]any `json:"config"`
	// StartedAt is the wall-clock start of the first scenario.
	StartedAt time.Time `json:"started_at"`
	// DurationS is the whole judgement, in seconds.
	DurationS float64 `json:"duration_s"`
	// Scenarios are the scenarios run, in order.
	Scenarios []JudgeScenario `json:"scenarios"`
	// Rules are the verdicts, in the judge's order.
	Rules []JudgeRule `json:"rules"`
	// JudgeErrors are failures of the judge itself (the fake's accounting
	// broken, its observer out of step with its counters): not the
	// client's fault, and they make the verdicts unreliable.
	JudgeErrors []string `json:"judge_errors,omitempty"`

	// Label names the judgement in reports (a file name); not part of the
	// file.
	Label string `json:"-"`
}

// JudgeClient describes the client judged.
type JudgeClient struct {
	// Name is the client's name in scorecards.
	Name string `json:"name"`
	// Command is the program and arguments run for each scenario; empty
	// for a built-in client run in process.
	Command []string `json:"command,omitempty"`
	// InProcess reports a built-in client (ccsbench judge --client).
	InProcess bool `json:"in_process"`
	// Log is the file holding the client's output, if it was kept.
	Log string `json:"log,omitempty"`
}

// JudgeRule is one rule's verdict.
type JudgeRule struct {
	// ID is the rule's identifier (a contract: "handshake", "window"...).
	ID string `json:"id"`
	// Verdict is VerdictPass, VerdictFail or VerdictSkip.
	Verdict string `json:"verdict"`
	// Evidence is one line with the numbers behind the verdict.
	Evidence string `json:"evidence"`
}

// JudgeScenario is what the fake saw of the client in one scenario.
type JudgeScenario struct {
	// Name is the scenario ("throughput", "window", "drain"...).
	Name string `json:"name"`
	// Messages, Rate and Receipts are what the client was asked for
	// (CCS_MESSAGES, CCS_RATE in messages per second, CCS_RECEIPTS).
	Messages int     `json:"messages"`
	Rate     float64 `json:"rate"`
	Receipts bool    `json:"receipts"`
	// Exit is the client's exit status (-1: ended by a signal, or it could
	// not be started); TimedOut reports that the judge stopped it at the
	// scenario timeout.
	Exit     int  `json:"exit"`
	TimedOut bool `json:"timed_out"`
	// DurationS is the time from the client's start to its exit.
	DurationS float64 `json:"duration_s"`
	// Connections counts connections bound; Logins the SASL identities
	// they used, in the form SENDER, SENDER@gcm.googleapis.com...;
	// AuthFailures the logins refused.
	Connections  uint64            `json:"connections"`
	Logins       map[string]uint64 `json:"logins"`
	AuthFailures uint64            `json:"auth_failures"`
	// UniqueIDs counts distinct message ids read; Received every
	// downstream message read, resends included.
	UniqueIDs uint64 `json:"unique_ids"`
	Received  uint64 `json:"received"`
	// Acks counts ACKs written; Nacks NACKs written, by code.
	Acks  uint64            `json:"acks"`
	Nacks map[string]uint64 `json:"nacks"`
	// AckedPerS is ACKs written per second, from the first message read
	// to the last answer written.
	AckedPerS float64 `json:"acked_per_s"`
	// MaxPending is the most messages of one connection pending when one
	// was read (itself included); WindowViolations the messages read with
	// 100 or more before them unanswered.
	MaxPending       uint64 `json:"max_pending"`
	WindowViolations uint64 `json:"window_violations"`
	// Drains and Drops count connections drained and dropped by the fake.
	Drains uint64 `json:"drains"`
	Drops  uint64 `json:"drops"`
	// UpstreamSent and UpstreamAcked count distinct upstream messages
	// sent and ACKed; ReceiptsSent and ReceiptsAcked the same of delivery
	// receipts.
	UpstreamSent  uint64 `json:"upstream_sent"`
	UpstreamAcked uint64 `json:"upstream_acked"`
	ReceiptsSent  uint64 `json:"receipts_sent"`
	ReceiptsAcked uint64 `json:"receipts_acked"`
	// UpstreamAckUS is the time from sending an upstream message or
	// receipt to its ACK; DrainReactionUS from a drain's notice (the
	// control message or first CONNECTION_DRAINING NACK written) to the
	// next message on another connection; ResendDelayUS from a drop or a
	// SERVICE_UNAVAILABLE NACK to the message's next arrival. Nil when
	// there was nothing to measure.
	UpstreamAckUS   *Spread `json:"upstream_ack_us,omitempty"`
	DrainReactionUS *Spread `json:"drain_reaction_us,omitempty"`
	ResendDelayUS   *Spread `json:"resend_delay_us,omitempty"`
	// Fake is the fake's own stats for the scenario.
	Fake json.RawMessage `json:"fake,omitempty"`
}

// Spread summarizes measured durations, in microseconds.
type Spread struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// String formats s as "p50 1.2 ms, p99 3.4 ms, max 5 ms (n 120)".
func (s *Spread) String() string {
	if s == nil || s.N == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (n %s)", formatUS(s.P50), formatUS(s.P99), formatUS(s.Max), formatCount(uint64(s.N)))
}

// Passed reports whether no rule failed and the judge had no error of its
// own.
func (j *Judgement) Passed() bool {
	if len(j.JudgeErrors) > 0 {
		return false
	}
	for _, r := range j.Rules {
		if r.Verdict == VerdictFail {
			return false
		}
	}
	return true
}

// Failed returns the ids of the rules that failed, in order.
func (j *Judgement) Failed() []string {
	var out []string
	for _, r := range j.Rules {
		if r.Verdict == VerdictFail {
			out = append(out, r.ID)
		}
	}
	return out
}

// Scenario returns the scenario named name, or nil.
func (j *Judgement) Scenario(name string) *JudgeScenario {
	for i := range j.Scenarios {
		if j.Scenarios[i].Name == name {
			return &j.Scenarios[i]
		}
	}
	return nil
}

// PeekSchema returns the "schema" of a JSON document, or "" when it has
// none or is not a JSON object.
func PeekSchema(data []byte) string {
	var head struct {
		Schema string `json:"schema"`
	}
	if json.Unmarshal(data, &head) != nil {
		return ""
	}
	return head.Schema
}

// IsJudgeSchema reports whether schema is of the judge's family (any
// version).
func IsJudgeSchema(schema string) bool { return strings.HasPrefix(schema, judgeFamily) }

// DecodeJudgement reads one scorecard file from r. A file whose "schema"
// is not JudgeSchema is refused with a *SchemaError, which wraps
// ErrSchema. Unknown fields are ignored.
func DecodeJudgement(r io.Reader) (*Judgement, error) {
	j, err := decodeJudgement(r)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return j, nil
}

// decodeJudgement is DecodeJudgement; its errors say what is wrong with
// the file, for the caller to say which file.
func decodeJudgement(r io.Reader) (*Judgement, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading scorecard: %w", err)
	}
	if !json.Valid(data) {
		return nil, errors.New("scorecard file is not valid JSON")
	}
	if s := PeekSchema(data); s != JudgeSchema {
		return nil, &SchemaError{Found: s, Want: JudgeSchema}
	}
	j := new(Judgement)
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("scorecard file: %w", err)
	}
	return j, nil
}

// ReadJudgementFile decodes the scorecard at path (see DecodeJudgement)
// and sets its Label to the path.
func ReadJudgementFile(path string) (*Judgement, error) {
	j, err := readFile(path, decodeJudgement)
	if err != nil {
		return nil, err
	}
	j.Label = path
	return j, nil
}

// Encode writes j as indented JSON with the schema set to JudgeSchema.
// Configuration values whose key looks like a credential are written as
// "REDACTED"; j itself is not modified.
func (j *Judgement) Encode(w io.Writer) error {
	out := *j
	out.Schema = JudgeSchema
	out.Config = redactConfig(j.Config)
	if out.Config == nil {
		out.Config = map[string]any{}
	}
	if out.Scenarios == nil {
		out.Scenarios = []JudgeScenario{}
	}
	if out.Rules == nil {
		out.Rules = []JudgeRule{}
	}
	return writeIndented(w, &out, "scorecard")
}
