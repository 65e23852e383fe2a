package workload

import (
	"errors"
	"strconv"
	"strings"
)

// MaxShards is the largest shard count ParseShard accepts. A Poisson
// shard draws the gaps of every message of the run, so its work per
// message grows with the count; 65536 is far beyond any number of machines
// a run is spread over.
const MaxShards = 1 << 16

// ErrShard is the sentinel every shard error wraps; test with errors.Is.
var ErrShard = errors.New("workload: bad shard")

// ShardError reports a shard that cannot be parsed or used. It wraps
// ErrShard.
type ShardError struct {
	// Shard is the offending input, or the shard as I/N.
	Shard string
	// Reason says what is wrong and what was expected.
	Reason string
}

// Error returns `workload: bad shard "SHARD": REASON`.
func (e *ShardError) Error() string {
	return ErrShard.Error() + " " + strconv.Quote(e.Shard) + ": " + e.Reason
}

// Unwrap returns ErrShard.
func (e *ShardError) Unwrap() error { return ErrShard }

// Shard is one of Count cooperating runs that together make up one run: a
// job spread over several processes or machines, each started with the
// same totals (connections, rate shape, arrivals, seed) and its own Index.
//
// Message number k of the whole run (0-based, in schedule order) belongs
// to shard k mod Count, so each shard sends every Count-th message and its
// rate is the run's rate divided by Count at every instant. The zero Shard
// stands for the whole run, like 0/1.
type Shard struct {
	// Index is this shard's number, 0 <= Index < Count.
	Index int `json:"index"`
	// Count is the number of shards, 1..MaxShards (0: the whole run).
	Count int `json:"count"`
}

// count returns Count, with the zero Shard's 0 read as 1.
func (sh Shard) count() int {
	if sh.Count == 0 {
		return 1
	}
	return sh.Count
}

// String returns the shard as "I/N", e.g. "2/8"; the zero Shard is "0/1".
// Invalid shards print as they are, e.g. "0/-2".
func (sh Shard) String() string {
	return strconv.Itoa(sh.Index) + "/" + strconv.Itoa(sh.count())
}

// Validate reports whether the shard is usable: 1 <= Count <= MaxShards
// and 0 <= Index < Count, or the zero Shard.
func (sh Shard) Validate() error {
	switch {
	case sh.Count < 0 || sh.Count > MaxShards:
		return &ShardError{sh.String(), "shard count must be between 1 and " + strconv.Itoa(MaxShards)}
	case sh.Index < 0 || sh.Index >= sh.count():
		return &ShardError{sh.String(), "index must be between 0 and the shard count minus 1"}
	}
	return nil
}

// ParseShard parses "I/N" (the --shard flag): decimal integers with
// 1 <= N <= MaxShards and 0 <= I <= N-1, no signs or spaces. Errors are
// *ShardError and wrap ErrShard.
func ParseShard(s string) (Shard, error) {
	fail := func(reason string) (Shard, error) { return Shard{}, &ShardError{s, reason} }
	is, ns, ok := strings.Cut(s, "/")
	if !ok {
		return fail(`missing "/" (want I/N, e.g. 0/4 for the first of 4 shards)`)
	}
	n, ok := parseShardNumber(ns)
	if !ok {
		return fail("shard count " + strconv.Quote(ns) + " is not a decimal number from 1 to " + strconv.Itoa(MaxShards))
	}
	i, ok := parseShardNumber(is)
	if !ok {
		return fail("index " + strconv.Quote(is) + " is not a decimal number")
	}
	switch {
	case n < 1 || n > MaxShards:
		return fail("shard count " + ns + " is not between 1 and " + strconv.Itoa(MaxShards))
	case i >= n:
		return fail("index " + is + " is not below the shard count " + ns + " (indexes run from 0 to N-1)")
	}
	return Shard{Index: i, Count: n}, nil
}

// parseShardNumber parses 1 to 6 decimal digits (enough for MaxShards).
func parseShardNumber(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// Set implements flag.Value.
func (sh *Shard) Set(s string) error {
	v, err := ParseShard(s)
	if err != nil {
		return err
	}
	*sh = v
	return nil
}

// Share returns how many of the first total messages of the run belong to
// the shard: the k < total with k mod Count == Index. The shares of all
// shards add up to total and differ by at most one, the lower indexes
// taking the larger shares. It splits a --messages budget as the schedule
// does; see Conns for connections. An invalid shard's share is 0.
func (sh Shard) Share(total uint64) uint64 {
	if sh.Validate() != nil {
		return 0
	}
	i, n := uint64(sh.Index), uint64(sh.count())
	if total <= i {
		return 0
	}
	return (total-i-1)/n + 1
}

// Conns returns the shard's share of total connections, split as evenly
// as possible: total/Count each, and one more for the first total mod
// Count shards. A share of 0 would leave a shard with messages due and no
// connection to send them on, so when total < Count Conns returns an
// error (a *ShardError) instead: use fewer shards or more connections.
func (sh Shard) Conns(total int) (int, error) {
	if err := sh.Validate(); err != nil {
		return 0, err
	}
	if total < sh.count() {
		return 0, &ShardError{sh.String(), strconv.Itoa(total) + " connections cannot be split over " +
			strconv.Itoa(sh.count()) + " shards: every shard needs at least one"}
	}
	return int(sh.Share(uint64(total))), nil
}

// NewShardSchedule returns the shard's part of the schedule that
// NewSchedule(p, arrivals, seed) gives the whole run: its n-th time is the
// whole run's time number n·Count + Index. Merged, the schedules of the
// Count shards are therefore the whole run's schedule, time for time,
// provided p's due times never decrease as the count grows: a Schedule
// raises a time that would go backwards to the one before it, and a shard
// can only do so with its own times. ConstantPacer's times never decrease
// by construction (a division by a constant, then rounding); the other
// pacers invert their hits function with floating-point formulas, and a
// search over 5·10^8 consecutive times of every kind, at rates up to 10^9
// msgs/s and up to 35 days into a run, found no decrease.
//
// Uniform arrivals compute Due(n·Count + Index) directly, so a shard costs
// no more per message than the whole run. Poisson arrivals must draw the
// exponential gaps of the messages of the other shards too, in order (the
// times are their running sums), but invert the pacer only at the shard's
// own messages: a few nanoseconds per message of the run. Every shard must
// be given the same seed; derive per-shard seeds for anything else with
// DeriveSeed. An invalid shard (see Validate) schedules nothing: Next
// returns Never.
func NewShardSchedule(p Pacer, arrivals Arrivals, seed uint64, sh Shard) *Schedule {
	s := NewSchedule(p, arrivals, seed)
	if sh.Validate() != nil {
		s.last = Never
		return s
	}
	s.first, s.stride = uint64(sh.Index), uint64(sh.count())
	return s
}

// DeriveSeed returns a seed for the index-th of several cooperating
// random streams (a shard's message choices or backoff jitter, say) from
// the run's seed. It is a bijection of index for a fixed seed, so shards
// never share a derived seed, and its output looks unrelated to its
// inputs: a SplitMix64 finalizer (Steele, Lea and Flood, 2014) applied
// twice. The shard schedules themselves must use the run's seed, not a
// derived one.
func DeriveSeed(seed, index uint64) uint64 {
	return mix64(seed ^ mix64(index+1))
}

// mix64 is the SplitMix64 output function: an invertible scrambling of
// all 64 bits.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}
