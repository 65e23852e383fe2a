package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Schema is the version tag of the results file this package writes and the
// only one it reads.
const Schema = "ccsbench.result/v1"

// schemaFamily is the prefix shared by every version of the results schema.
const schemaFamily = "ccsbench.result/"

// Sentinel errors of the results file. Errors returned by this package wrap
// them, so callers test with errors.Is.
var (
	// ErrSchema reports a results file whose "schema" is missing, foreign or
	// of a version this build does not read.
	ErrSchema = errors.New("report: unsupported results schema")
	// ErrAccounting reports counts that break the accounting identity.
	ErrAccounting = errors.New("report: accounting identity broken")
	// ErrNoHistogram reports a result without an encoded histogram.
	ErrNoHistogram = errors.New("report: no histogram")
)

// SchemaError is returned for a file whose "schema" this build does not
// read: Found is the file's "schema" ("" when absent), Want the one this
// build reads (Schema, or JudgeSchema for scorecards; "" means Schema).
// It wraps ErrSchema.
type SchemaError struct {
	Found string
	Want  string
}

// Error states the schema found and the one supported.
func (e *SchemaError) Error() string {
	want, what, family := Schema, "results file", schemaFamily
	if e.Want == JudgeSchema {
		want, what, family = JudgeSchema, "judge scorecard", judgeFamily
	}
	switch {
	case e.Found == "":
		return fmt.Sprintf("not a ccsbench %s (no \"schema\" field; want %q)", what, want)
	case strings.HasPrefix(e.Found, family):
		return fmt.Sprintf("%s of schema %q: this ccsbench reads only %q (use a ccsbench version that knows %q)", what, e.Found, want, e.Found)
	default:
		return fmt.Sprintf("not a ccsbench %s (schema %q; want %q)", what, e.Found, want)
	}
}

// Unwrap returns ErrSchema.
func (e *SchemaError) Unwrap() error { return ErrSchema }

// Result is one run's results file, version Schema: the JSON contract
// that docs/RESULTS.md describes field by field. Latencies are in
// microseconds, durations in seconds, rates in messages per second.
type Result struct {
	// Schema is always the constant Schema in a valid file.
	Schema string `json:"schema"`
	// Tool identifies the program that measured.
	Tool Tool `json:"tool"`
	// Config holds every flag that shaped the run, by flag name. Values whose
	// key looks like a credential are redacted by Encode.
	Config map[string]any `json:"config"`
	// Target is "embedded" for the bundled fake, else "host:port".
	Target string `json:"target"`
	// StartedAt is the wall-clock start of the measured part of the run
	// (after any warm-up), written in RFC 3339.
	StartedAt time.Time `json:"started_at"`
	// DurationS is the measured duration in seconds.
	DurationS float64 `json:"duration_s"`
	// Shard says which shard of a sharded job the run was (ccsbench run
	// --shard, --job); absent for a whole run.
	Shard *Shard `json:"shard,omitempty"`
	// Shards lists, in the merge of a sharded job's results, the shards
	// merged and those missing; absent otherwise.
	Shards *ShardSet `json:"shards,omitempty"`
	// Start records the instant sending was set to begin (--start-at) and
	// how late it began; in a merge of shards, the latest of theirs.
	// Absent when the run started as soon as it was connected.
	Start *Start `json:"start,omitempty"`
	// Counts are the outcomes of every unique message and the events around them.
	Counts Counts `json:"counts"`
	// Throughput holds the achieved and offered rates.
	Throughput Throughput `json:"throughput"`
	// LatencyUS summarizes both latency histograms, in microseconds.
	LatencyUS Latency `json:"latency_us"`
	// Histograms are the two full histograms, base64 HdrHistogram V2
	// compressed, values in microseconds.
	Histograms Histograms `json:"histograms"`
	// Timeline has one point per interval (normally one second), in order.
	Timeline []TimelinePoint `json:"timeline"`
	// Connect describes how the connections were made; nil in files
	// written before it existed.
	Connect *Connect `json:"connect,omitempty"`
	// Gates are the verdicts of the run's --gate expressions, if any.
	Gates []GateResult `json:"gates,omitempty"`
	// Fake holds the embedded fake's own stats when it ran; absent otherwise.
	Fake json.RawMessage `json:"fake,omitempty"`

	// Label names the result in reports (a file name, say); it is not part
	// of the file. Reports fall back to "run N" when it is empty.
	Label string `json:"-"`
}

// Shard identifies one shard of a sharded job: one of Count runs, started
// with the same flags but for the index, that together send what one run
// would have sent.
type Shard struct {
	// Index is the shard's number, 0 <= Index < Count.
	Index int `json:"index"`
	// Count is the number of shards of the job.
	Count int `json:"count"`
	// Job names the job; every shard of one job has the same.
	Job string `json:"job"`
}

// String returns "I/N of job JOB".
func (s *Shard) String() string {
	return fmt.Sprintf("%d/%d of job %s", s.Index, s.Count, s.Job)
}

// ShardSet describes the shards a merged result was made of.
type ShardSet struct {
	// Job names the job; Count is its number of shards.
	Job   string `json:"job"`
	Count int    `json:"count"`
	// Merged lists the shards merged, by index.
	Merged []MergedShard `json:"merged"`
	// Missing lists the indexes of the shards that were not there (a
	// merge with --allow-partial); empty when the job is complete.
	Missing []int `json:"missing,omitempty"`
}

// MergedShard is one shard of a merged result.
type MergedShard struct {
	// Index is the shard's index.
	Index int `json:"index"`
	// Source is where its result came from (the file's path).
	Source string `json:"source"`
	// SkewUS is its start skew in microseconds (see Start), absent when it
	// had no set start.
	SkewUS *float64 `json:"skew_us,omitempty"`
}

// Start is a run's set start: ccsbench run --start-at.
type Start struct {
	// At is the instant sending was set to begin; the run's time axis
	// (StartedAt, before any warm-up) starts there.
	At time.Time `json:"at"`
	// SkewUS is how much later than At sending began, in microseconds, by
	// the clock of the machine that ran it (the skew between machines also
	// holds their clocks' offsets, which no run can see).
	SkewUS float64 `json:"skew_us"`
}

// Tool identifies the measuring program.
type Tool struct {
	// Version is ccsbench's version.
	Version string `json:"version"`
	// Go is the Go version it was built with (runtime.Version()).
	Go string `json:"go"`
	// Client names the CCS client implementation ("native" by default).
	Client string `json:"client"`
}

// Counts are the run's counters. Every unique message ends in exactly one of
// acked, nacked (final code), stanza error, lost or unresolved, so
// Messages == Acked + Nacked + StanzaErrors + Lost + Unresolved; Check
// verifies it. Files written before lost existed read with Lost 0.
type Counts struct {
	// Messages is the number of unique downstream messages sent.
	Messages uint64 `json:"messages"`
	// Acked is the number of messages that ended in an ACK.
	Acked uint64 `json:"acked"`
	// Nacked is the number of messages that ended in a final NACK.
	Nacked uint64 `json:"nacked"`
	// Nacks breaks Nacked down by final NACK code (e.g. "BAD_REGISTRATION"),
	// so its values sum to Nacked. Unknown codes are cut to 64 bytes, and
	// past 32 of them the rest count under "OTHER".
	Nacks map[string]uint64 `json:"nacks"`
	// StanzaErrors is the number of messages that ended in a stanza error.
	StanzaErrors uint64 `json:"stanza_errors"`
	// Lost is the number of messages given up after their connection was
	// lost under them more times than the resend limit allows.
	Lost uint64 `json:"lost"`
	// Unresolved is the number of messages still pending when the drain
	// timeout ran out.
	Unresolved uint64 `json:"unresolved"`
	// Unsent is the number of messages due before the end of sending but
	// never sent: the target could not keep up (every window stayed
	// full). They are not part of Messages nor of the accounting identity.
	Unsent uint64 `json:"unsent"`
	// Retries counts resends of already-sent messages.
	Retries uint64 `json:"retries"`
	// Reconnects counts connections re-established after a loss or drain.
	Reconnects uint64 `json:"reconnects"`
	// Draining counts CONNECTION_DRAINING events (control or NACK).
	Draining uint64 `json:"draining"`
	// DrainTimeouts counts draining connections the client closed itself
	// because the server left them open past the drain close timeout.
	DrainTimeouts uint64 `json:"drain_timeouts"`
	// DialFailures counts failed attempts to open a replacement connection.
	DialFailures uint64 `json:"dial_failures"`
	// Disconnects counts connections that ended during the run by cause:
	// "stream_error:CONDITION", "stream_end", "eof", "syntax", "oversize",
	// "tls", "timeout", "reset", "drain_timeout", "other" (at most 33
	// causes). A draining connection the server closed is not one.
	Disconnects map[string]uint64 `json:"disconnects"`
	// Upstream counts upstream (device to server) messages received and ACKed.
	Upstream uint64 `json:"upstream"`
	// Receipts counts delivery receipts received and ACKed.
	Receipts uint64 `json:"receipts"`
	// Strays counts answers that matched no message awaiting one: outside
	// the identity. StrayKinds breaks them down by kind: "unknown_id",
	// "duplicate", "wrong_connection", "late" (after the drain deadline),
	// "no_id" (a stanza error naming no message, as a standard XMPP
	// server bounces what it cannot route).
	Strays     uint64            `json:"strays"`
	StrayKinds map[string]uint64 `json:"stray_kinds"`
	// ErrorConditions counts the stanza errors the target sent (outcomes
	// and strays) by RFC 6120 condition, "other" for any other; omitted
	// when there were none.
	ErrorConditions map[string]uint64 `json:"error_conditions,omitempty"`
}

// DisconnectTotal is the sum of Disconnects.
func (c *Counts) DisconnectTotal() uint64 { return sumCounts(c.Disconnects) }

// sumCounts adds the values of m.
func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// Throughput holds rates in messages per second over DurationS.
type Throughput struct {
	// AckedPerS is acked messages per second.
	AckedPerS float64 `json:"acked_per_s"`
	// OfferedPerS is the rate the pacer offered, in messages per second.
	OfferedPerS float64 `json:"offered_per_s"`
}

// Latency summarizes the two latencies of a run.
type Latency struct {
	// Service is ack time minus actual send time.
	Service LatencySummary `json:"service"`
	// Response is ack time minus intended send time (corrected for
	// coordinated omission).
	Response LatencySummary `json:"response"`
}

// LatencySummary holds percentiles of one latency histogram, in microseconds.
type LatencySummary struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Histograms holds the run's full histograms, each a base64 HdrHistogram V2
// compressed encoding (EncodeHistogram) of microsecond values. Handshake
// holds the handshake times (see Connect); it is empty in files written
// before it existed.
type Histograms struct {
	Service   string `json:"service"`
	Response  string `json:"response"`
	Handshake string `json:"handshake,omitempty"`
}

// Connect describes how a run made its connections.
type Connect struct {
	// Conns is the number of connections the run held.
	Conns int `json:"conns"`
	// AllConnectedS is the time in seconds from the first dial to the
	// last of the initial connections authenticated and bound (sending
	// starts then).
	AllConnectedS float64 `json:"all_connected_s"`
	// Handshakes counts the connections made, replacements included;
	// HandshakeUS summarizes how long each took from the start of its
	// dial to bound (TCP, TLS, stream, SASL, bind), in microseconds. The
	// full histogram is Histograms.Handshake.
	Handshakes  uint64         `json:"handshakes"`
	HandshakeUS LatencySummary `json:"handshake_us"`
}

// TimelinePoint is one interval of the run's timeline. TS is the end of the
// interval in seconds since StartedAt; the interval starts at the previous
// point's TS (0 for the first). Sent, Acked, Nacked and Disconnects count
// events within the interval; Pending is the number of unanswered messages
// at its end and PendingPeak the most at once within it; P99US and RP99US
// are the service-time and response-time p99 of the interval, in
// microseconds (0 without ACKs). Files written before PendingPeak,
// RP99US and Disconnects existed read with them 0.
type TimelinePoint struct {
	TS          float64 `json:"t_s"`
	Sent        uint64  `json:"sent"`
	Acked       uint64  `json:"acked"`
	Nacked      uint64  `json:"nacked"`
	Pending     uint64  `json:"pending"`
	PendingPeak uint64  `json:"pending_peak"`
	Disconnects uint64  `json:"disconnects"`
	P99US       float64 `json:"p99_us"`
	RP99US      float64 `json:"rp99_us"`
}

// Decode reads one results file from r. A file whose "schema" is not Schema
// is refused with a *SchemaError naming the version found and the one
// supported. Unknown fields are ignored.
func Decode(r io.Reader) (*Result, error) {
	res, err := decodeResult(r)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return res, nil
}

// decodeResult is Decode; its errors say what is wrong with the file,
// for the caller to say which file.
func decodeResult(r io.Reader) (*Result, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("results file is not valid JSON: %w", err)
		}
		return nil, fmt.Errorf("results file: %w", err)
	}
	if head.Schema == nil {
		return nil, &SchemaError{}
	}
	if *head.Schema != Schema {
		return nil, &SchemaError{Found: *head.Schema}
	}
	res := new(Result)
	if err := json.Unmarshal(data, res); err != nil {
		return nil, fmt.Errorf("results file: %w", err)
	}
	res.Counts.fillMaps()
	return res, nil
}

// ReadFile decodes the results file at path (see Decode) and sets the
// result's Label to the path. Errors name the path once:
// "report: r.json: results file is not valid JSON: ...".
func ReadFile(path string) (*Result, error) {
	res, err := readFile(path, decodeResult)
	if err != nil {
		return nil, err
	}
	res.Label = path
	return res, nil
}

// readFile decodes the file at path with decode, whose errors do not name
// a file; the error names path.
func readFile[T any](path string, decode func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("report: %w", err) // an *fs.PathError names the path
	}
	defer f.Close()
	v, err := decode(f)
	if err != nil {
		return zero, fmt.Errorf("report: %s: %w", path, err)
	}
	return v, nil
}

// Encode writes r as indented JSON with the schema set to Schema. Values of
// configuration keys that look like credentials (api-key, password, secret,
// token) are written as "REDACTED"; r itself is not modified.
func (r *Result) Encode(w io.Writer) error {
	out := *r
	out.Schema = Schema
	out.Counts.fillMaps()
	if out.Timeline == nil {
		out.Timeline = []TimelinePoint{}
	}
	out.Config = redactConfig(r.Config)
	if out.Config == nil {
		out.Config = map[string]any{}
	}
	return writeIndented(w, &out, "results")
}

// writeIndented writes v to w as indented JSON in one write; what names
// the document in errors.
func writeIndented(w io.Writer, v any, what string) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: encoding %s: %w", what, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: writing %s: %w", what, err)
	}
	return nil
}

// WriteFile encodes r (see Encode) into the file at path, replacing it.
func (r *Result) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := r.Encode(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// fillMaps makes nil maps empty, so that they are written as {}.
func (c *Counts) fillMaps() {
	for _, m := range []*map[string]uint64{&c.Nacks, &c.Disconnects, &c.StrayKinds} {
		if *m == nil {
			*m = map[string]uint64{}
		}
	}
}

// Check verifies the accounting of r: Messages == Acked + Nacked +
// StanzaErrors + Lost + Unresolved, and Nacked equals the sum of Nacks.
// The error wraps ErrAccounting and states both sides.
func (r *Result) Check() error {
	c := r.Counts
	var errs []error
	if sum := c.Acked + c.Nacked + c.StanzaErrors + c.Lost + c.Unresolved; sum != c.Messages {
		errs = append(errs, fmt.Errorf("%w: messages %d != acked %d + nacked %d + stanza_errors %d + lost %d + unresolved %d (= %d)",
			ErrAccounting, c.Messages, c.Acked, c.Nacked, c.StanzaErrors, c.Lost, c.Unresolved, sum))
	}
	if sum := sumCounts(c.Nacks); sum != c.Nacked {
		errs = append(errs, fmt.Errorf("%w: nacked %d != sum of nacks by code %d", ErrAccounting, c.Nacked, sum))
	}
	return errors.Join(errs...)
}

// redactConfig returns a copy of cfg with credential-like values replaced.
func redactConfig(cfg map[string]any) map[string]any {
	if cfg == nil {
		return nil
	}
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if isSecretKey(k) {
			if s, ok := v.(string); ok && s == "" {
				out[k] = s
			} else {
				out[k] = "REDACTED"
			}
			continue
		}
		out[k] = v
	}
	return out
}

// isSecretKey reports whether a configuration key names a credential.
func isSecretKey(k string) bool {
	k = strings.ToLower(k)
	k = strings.NewReplacer("-", "", "_", "", ".", "").Replace(k)
	for _, s := range []string{"apikey", "password", "secret", "token"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
