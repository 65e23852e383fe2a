package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serveMetrics serves the live metrics of d on addr (--metrics-addr) at
// /metrics, in the Prometheus text format from a private registry, with
// the Go runtime's and the process's own metrics beside them. It returns
// a function that stops the server and the address it listens on.
func serveMetrics(addr string, d *driver.Driver, info prometheus.Labels) (stop func(), bound net.Addr, err error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		runCollector{d: d, info: prometheus.NewDesc("ccsbench_run_info", "The run being measured: client, target, and with --shard the shard, shard count and job; always 1.", nil, info)},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Serve returns when Shutdown is called, or when the listener
		// fails: then the run goes on without metrics.
		_ = hs.Serve(ln)
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	}, ln.Addr(), nil
}

// metricsInfo returns the labels of ccsbench_run_info.
func metricsInfo(o *runOptions, eff driver.Config, target string) prometheus.Labels {
	l := prometheus.Labels{"client": eff.Transport.Name(), "target": target, "shard": "", "shards": "", "job": ""}
	if eff.Shard.Count > 1 {
		l["shard"], l["shards"], l["job"] = strconv.Itoa(eff.Shard.Index), strconv.Itoa(eff.Shard.Count), o.job
	}
	return l
}

// runCollector exports a running driver's progress as metrics named
// ccsbench_*, read at each scrape from Driver.Progress (atomics) and
// Driver.Tallies (two small maps copied under their locks): the hot path
// pays nothing for them.
type runCollector struct {
	d    *driver.Driver
	info *prometheus.Desc
}

var _ prometheus.Collector = runCollector{}

// runMetric is one exported field of driver.Progress.
type runMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*driver.Progress) float64
}

// runCounter is a counter of driver.Progress, ccsbench_NAME_total.
func runCounter(name, help string, f func(*driver.Progress) uint64) runMetric {
	return runMetric{
		desc:  prometheus.NewDesc("ccsbench_"+name+"_total", help, nil, nil),
		kind:  prometheus.CounterValue,
		value: func(p *driver.Progress) float64 { return float64(f(p)) },
	}
}

// runGauge is a gauge of driver.Progress, ccsbench_NAME.
func runGauge(name, help string, f func(*driver.Progress) float64) runMetric {
	return runMetric{desc: prometheus.NewDesc("ccsbench_"+name, help, nil, nil), kind: prometheus.GaugeValue, value: f}
}

var (
	runMetrics = []runMetric{
		runGauge("elapsed_seconds", "Time since sending began (0 while connecting or waiting for --start-at).", func(p *driver.Progress) float64 { return p.Elapsed.Seconds() }),
		runCounter("messages", "Unique downstream messages created.", func(p *driver.Progress) uint64 { return p.Messages }),
		runCounter("sent", "Downstream stanzas written, resends included.", func(p *driver.Progress) uint64 { return p.Sent }),
		runCounter("acked", "Messages ended by an ACK.", func(p *driver.Progress) uint64 { return p.Acked }),
		runCounter("stanza_errors", "Messages ended by a stanza error.", func(p *driver.Progress) uint64 { return p.StanzaErrors }),
		runCounter("lost", "Messages given up after their connection ended under them more than --max-resends times.", func(p *driver.Progress) uint64 { return p.Lost }),
		runCounter("retries", "Resends of messages already sent.", func(p *driver.Progress) uint64 { return p.Retries }),
		runCounter("reconnects", "Replacement connections opened after a loss or a drain.", func(p *driver.Progress) uint64 { return p.Reconnects }),
		runCounter("upstream", "Upstream messages received and ACKed.", func(p *driver.Progress) uint64 { return p.Upstream }),
		runGauge("pending", "Messages sent or due without an outcome yet.", func(p *driver.Progress) float64 { return float64(p.Pending) }),
		runGauge("acked_per_second", "ACKs per second in the last complete interval (--interval).", func(p *driver.Progress) float64 { return p.Rate }),
	}
	runNacksDesc       = prometheus.NewDesc("ccsbench_nacks_total", "Messages ended by a final NACK, by code.", []string{"code"}, nil)
	runDisconnectsDesc = prometheus.NewDesc("ccsbench_disconnects_total", "Connections that ended during the run, by cause.", []string{"cause"}, nil)
	runServiceDesc     = prometheus.NewDesc("ccsbench_interval_service_time_seconds",
		"Service time (ACK - actual send) of the ACKs of the last complete interval, at the percentile; absent until an interval had ACKs.", []string{"percentile"}, nil)
	runResponseDesc = prometheus.NewDesc("ccsbench_interval_response_time_seconds",
		"Response time (ACK - intended send) of the ACKs of the last complete interval, at the percentile; absent until an interval had ACKs.", []string{"percentile"}, nil)
)

// Describe implements prometheus.Collector.
func (c runCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range runMetrics {
		ch <- m.desc
	}
	for _, d := range []*prometheus.Desc{runNacksDesc, runDisconnectsDesc, runServiceDesc, runResponseDesc, c.info} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c runCollector) Collect(ch chan<- prometheus.Metric) {
	p := c.d.Progress()
	for _, m := range runMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&p))
	}
	nacks, disc := c.d.Tallies()
	for code, n := range nacks {
		ch <- prometheus.MustNewConstMetric(runNacksDesc, prometheus.CounterValue, float64(n), code)
	}
	for cause, n := range disc {
		ch <- prometheus.MustNewConstMetric(runDisconnectsDesc, prometheus.CounterValue, float64(n), cause)
	}
	if p.P99 > 0 {
		for _, q := range []struct {
			name     string
			svc, rsp time.Duration
		}{{"50", p.P50, p.ResponseP50}, {"99", p.P99, p.ResponseP99}} {
			ch <- prometheus.MustNewConstMetric(runServiceDesc, prometheus.GaugeValue, q.svc.Seconds(), q.name)
			ch <- prometheus.MustNewConstMetric(runResponseDesc, prometheus.GaugeValue, q.rsp.Seconds(), q.name)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1)
}
