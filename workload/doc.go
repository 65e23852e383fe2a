// Package workload decides what ccsbench sends and when: pacers (rate
// shapes), arrival schedules and downstream message generation. It imports
// nothing else of the project.
//
// # Pacers
//
// A Pacer describes the intended rate r(t), in messages per second, as a
// function of the time elapsed since the start of a run. Its cumulative hits
// function H(t) = ∫₀ᵗ r is what the pacer really answers for: message n
// (0-based) is due at Due(n) = H⁻¹(n+1), or Never once the rate has fallen
// to 0 for good. Due is computed from n alone, never by accumulating
// intervals, so a long run does not drift; it is also the intended send
// time from which the driver measures response time, correcting for
// coordinated omission as wrk2 does.
//
// The pacers are value structs: ConstantPacer (Freq 0 means unlimited),
// LinearPacer (a ramp, then a plateau), StepPacer (rising or falling steps up
// to a limit) and SinePacer. Each is a ContinuousPacer and a Validator, and
// ConstantPacer an UnlimitedPacer: the driver asks those two interfaces
// whether a pacer is usable and whether it needs a schedule at all.
// Constant, linear and step pacers invert H in closed form; the sine's H
// has no closed-form inverse, so it is inverted numerically within one
// period after removing whole periods exactly. Rates may touch 0 (a ramp
// or steps down to 0, a sine whose amplitude equals its mean).
// ParseRateShape reads the command-line syntax described in
// RateShapeHelp, and every pacer's String gives that syntax back.
//
// # Schedules
//
// A Schedule turns a Pacer into a stream of intended send times. Uniform
// arrivals are the pacer's own Due times. Poisson arrivals time-rescale a
// unit-rate Poisson process (cumulative sums of exponential draws from a
// seeded PCG generator) through H⁻¹, which gives a non-homogeneous Poisson
// process whose intensity follows the rate shape exactly and is the same for
// the same seed. Next allocates nothing.
//
// # Shards
//
// A run can be spread over several processes: a Shard is one of Count
// parts of the run, and message number k of the run (in schedule order)
// belongs to shard k mod Count. NewShardSchedule gives a shard its part of
// the run's schedule from the run's pacer, arrivals and seed, so that the
// shards' times merged are the run's times, one for one: with uniform
// arrivals a shard computes Due(k) for its own k only; with Poisson
// arrivals it draws every gap of the run (the times are running sums) and
// inverts the pacer at its own messages only. ParseShard reads "I/N",
// Shard.Conns splits the run's connections (every shard needs one) and
// Shard.Share its message budget; DeriveSeed gives each shard its own seed
// for everything but the schedule.
//
// # Messages
//
// A Generator appends compact downstream JSON for a caller-chosen message id:
// a registration id from a pool of ToPool FCM-like tokens (precomputed from
// the seed, chosen with a Zipf skew of any exponent >= 0 by Walker's alias
// method), a data object of exactly PayloadBytes of keys plus values (filled
// once, from the seed), and the optional fields time_to_live (0 written
// explicitly), collapse_key (escaped), priority, delay_while_idle and
// delivery_receipt_requested. A fraction InvalidRate of messages, chosen by
// the seeded generator, carry one defect each that CCS answers with NACK
// INVALID_JSON. Everything but the registration id, the message id and the
// choice of defect is precomputed, so AppendJSON costs a few appends and no
// allocation. A Generator belongs to one goroutine; Clone makes cheap
// per-connection copies that share the precomputed data. AppendJSON is Draw
// (the random choices, a five-byte Drawn) followed by AppendMessage (the
// bytes, with no randomness), so a caller that must send a message again
// keeps its Drawn and rebuilds the same payload instead of storing it.
package workload
