package judge

import (
	"fmt"
	"strings"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
)

// Names of the scenarios, a contract: --scenarios takes them and
// CCS_SCENARIO carries them.
const (
	Throughput = "throughput"
	Window     = "window"
	Upstream   = "upstream"
	Receipts   = "receipts"
	Drain      = "drain"
	Drop       = "drop"
	Retry      = "retry"
	Final      = "final"
)

// Settings of the scenarios.
const (
	// WindowAckDelay is how long the fake holds every answer in the
	// window scenario: long enough that a client without flow control
	// piles up more than 100 pending messages.
	WindowAckDelay = 20 * time.Millisecond
	// UpstreamRate is the rate of upstream messages per connection in the
	// upstream scenario, in messages per second.
	UpstreamRate = 200
	// DrainGrace is how long after telling a client that a connection
	// drains the fake still takes messages on it as being in the
	// pipeline; later ones break drain-moves.
	DrainGrace = 500 * time.Millisecond
	// DrainDeadline ends a draining connection whatever its client does,
	// so that a client that keeps sending there is not stuck forever.
	DrainDeadline = 3 * time.Second
	// RetryShare is the share of messages NACKed SERVICE_UNAVAILABLE in
	// the retry scenario.
	RetryShare = 0.05
	// FinalShare is the share of registration ids NACKed
	// BAD_REGISTRATION, and another of DEVICE_UNREGISTERED, in the final
	// scenario.
	FinalShare = 0.05
	// DefaultPacedFor is how long the paced scenarios (upstream, receipts)
	// ask the client to take: CCS_RATE is CCS_MESSAGES divided by it, so
	// that upstream traffic flows while messages do.
	DefaultPacedFor = 5 * time.Second
	// Seed seeds the fake's random choices in every scenario, so that a
	// judgement can be repeated.
	Seed = 1
)

// Scenario is one scenario: the fake's behaviour and what the client is
// asked for.
type Scenario struct {
	// Name is the scenario's name.
	Name string
	// Doc says in a line what the fake does.
	Doc string
	// Paced scenarios ask for CCS_RATE = messages / paced-for; the others
	// for 0 (as fast as the client can).
	Paced bool
	// Receipts asks the client for delivery receipts (CCS_RECEIPTS=1).
	Receipts bool
	// fake returns the fake's configuration for n messages (credentials,
	// TLS and the observer are added by Run).
	fake func(n int) fakeccs.Config
}

// Scenarios lists every scenario, in the order Run runs them.
var Scenarios = []Scenario{
	{Name: Throughput, Doc: "no faults: how fast the client is",
		fake: func(int) fakeccs.Config { return fakeccs.Config{} }},
	{Name: Window, Doc: fmt.Sprintf("every answer held %v, so that the window fills", WindowAckDelay),
		fake: func(int) fakeccs.Config { return fakeccs.Config{AckDelay: WindowAckDelay} }},
	{Name: Upstream, Doc: fmt.Sprintf("%d upstream messages per second on each connection", UpstreamRate), Paced: true,
		fake: func(int) fakeccs.Config { return fakeccs.Config{UpstreamRate: UpstreamRate} }},
	{Name: Receipts, Doc: "a delivery receipt for every ACKed message that asks for one", Paced: true, Receipts: true,
		fake: func(int) fakeccs.Config { return fakeccs.Config{Receipts: true} }},
	{Name: Drain, Doc: fmt.Sprintf("CONNECTION_DRAINING every N/4 messages of the server, by control message and by NACK in turn, %v grace", DrainGrace),
		fake: func(n int) fakeccs.Config {
			return fakeccs.Config{DrainTotal: quarter(n), DrainAlternate: true, DrainGrace: DrainGrace, DrainDeadline: DrainDeadline}
		}},
	{Name: Drop, Doc: "the connection that reads every N/4-th message of the server closed abruptly",
		fake: func(n int) fakeccs.Config { return fakeccs.Config{DropTotal: quarter(n)} }},
	{Name: Retry, Doc: fmt.Sprintf("%g%% of messages NACKed SERVICE_UNAVAILABLE", RetryShare*100),
		fake: func(int) fakeccs.Config {
			return fakeccs.Config{Nack: []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: RetryShare}}}
		}},
	{Name: Final, Doc: fmt.Sprintf("%g%% of registration ids NACKed BAD_REGISTRATION, %g%% DEVICE_UNREGISTERED", FinalShare*100, FinalShare*100),
		fake: func(int) fakeccs.Config {
			return fakeccs.Config{BadRegistrationShare: FinalShare, UnregisteredShare: FinalShare}
		}},
}

// quarter is n/4, at least 1.
func quarter(n int) uint64 { return uint64(max(1, n/4)) }

// ScenarioNames lists the names of Scenarios, comma-separated.
func ScenarioNames() string {
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ",")
}

// ParseScenarios reads a comma-separated list of scenario names ("" or
// "all": every one) and returns them in run order.
func ParseScenarios(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nil, nil
	}
	want := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if scenario(part) == nil {
			return nil, fmt.Errorf("%w: unknown scenario %q (want some of %s)", ErrConfig, part, ScenarioNames())
		}
		want[part] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("%w: no scenario in %q", ErrConfig, s)
	}
	var out []string
	for _, sc := range Scenarios {
		if want[sc.Name] {
			out = append(out, sc.Name)
		}
	}
	return out, nil
}

// scenario returns the scenario named name, or nil.
func scenario(name string) *Scenario {
	for i := range Scenarios {
		if Scenarios[i].Name == name {
			return &Scenarios[i]
		}
	}
	return nil
}
