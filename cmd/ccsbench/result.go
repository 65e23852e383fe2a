package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"runtime"
	"strings"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
)

// From the driver's result to the results file: the flags that shaped the
// run, and the driver's counts, rates, histograms and timeline in the
// shape of report.Result (schema report.Schema, see docs/RESULTS.md). The
// driver knows nothing of the results file; report knows nothing of the
// driver.

// runConfig records every flag that shaped the run, by name, with the
// effective values the driver used (messages: the run's or the job's
// total); never the API key.
func runConfig(fs *flag.FlagSet, eff driver.Config, messages uint64, target string) map[string]any {
	m := map[string]any{}
	fs.VisitAll(func(f *flag.Flag) {
		if outputFlags[f.Name] {
			return
		}
		if strings.HasPrefix(f.Name, "fake-") && target != "embedded" {
			return
		}
		var v any = f.Value.String()
		if g, ok := f.Value.(flag.Getter); ok {
			switch x := g.Get().(type) {
			case bool, int, uint64, float64:
				v = x
			case string:
				v = x
			}
		}
		m[f.Name] = v
	})
	m["target"] = target
	m["sender-id"] = eff.SenderID
	if len(eff.SenderIDs) > 0 {
		m["sender-id"] = strings.Join(eff.SenderIDs, ",")
	}
	m["duration"] = eff.Duration.String()
	m["warmup"] = eff.Warmup.String()
	m["messages"] = messages // the job's total for a shard, not its share
	m["rate-shape"] = fmt.Sprint(eff.Pacer)
	m["client"] = eff.Transport.Name()
	return m
}

// buildResult converts the driver's result into the results file, and
// the intervals after the warm-up for the hlog.
func buildResult(res *driver.Result, target string, conns int, config map[string]any, srv *fakeccs.Server) (*report.Result, []report.Interval, error) {
	c := res.Counts
	rr := &report.Result{
		Schema: report.Schema,
		Tool: report.Tool{
			Version: buildVersion(),
			Go:      runtime.Version(),
			Client:  res.Client,
		},
		Config:    config,
		Target:    target,
		StartedAt: res.MeasureStart,
		DurationS: res.Measured.Seconds(),
		Counts: report.Counts{
			Messages: c.Messages, Acked: c.Acked, Nacked: c.Nacked, Nacks: c.Nacks,
			StanzaErrors: c.StanzaErrors, Lost: c.Lost, Unresolved: c.Unresolved, Unsent: c.Unsent, Retries: c.Retries,
			Reconnects: c.Reconnects, Draining: c.Draining, DrainTimeouts: c.DrainTimeouts, DialFailures: c.DialFailures,
			Disconnects: c.Disconnects, Upstream: c.Upstream, Receipts: c.Receipts, Strays: c.Strays, StrayKinds: c.StrayKinds,
			ErrorConditions: c.ErrorConditions,
		},
		Throughput: report.Throughput{AckedPerS: res.AckedRate, OfferedPerS: res.OfferedRate},
		Connect: &report.Connect{
			Conns:         conns,
			AllConnectedS: res.AllConnected.Seconds(),
			Handshakes:    uint64(res.Handshakes.TotalCount()),
			HandshakeUS:   report.Summarize(res.Handshakes),
		},
		LatencyUS: report.Latency{
			Service:  report.Summarize(res.Service),
			Response: report.Summarize(res.Response),
		},
	}
	var err error
	if rr.Histograms.Service, err = report.EncodeHistogram(res.Service); err != nil {
		return nil, nil, err
	}
	if rr.Histograms.Response, err = report.EncodeHistogram(res.Response); err != nil {
		return nil, nil, err
	}
	if rr.Histograms.Handshake, err = report.EncodeHistogram(res.Handshakes); err != nil {
		return nil, nil, err
	}
	var ivs []report.Interval
	for i := range res.Intervals {
		iv := &res.Intervals[i]
		if iv.Warmup {
			continue
		}
		rr.Timeline = append(rr.Timeline, report.TimelinePoint{
			TS:          (iv.End - res.Warmup).Seconds(),
			Sent:        iv.Sent,
			Acked:       iv.Acked,
			Nacked:      iv.Nacked,
			Pending:     iv.Pending,
			PendingPeak: iv.PendingPeak,
			Disconnects: iv.Disconnects,
			P99US:       float64(iv.ServiceP99),
			RP99US:      float64(iv.ResponseP99),
		})
		if svc, rsp := iv.Histograms(); svc != nil {
			ivs = append(ivs, report.Interval{
				Start: res.Start.Add(iv.Start), End: res.Start.Add(iv.End),
				Service: svc, Response: rsp,
			})
		}
	}
	if srv != nil {
		if rr.Fake, err = json.Marshal(srv.Stats()); err != nil {
			return nil, nil, err
		}
	}
	return rr, ivs, nil
}
