package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ccsbench/ccsbench/report"
)

// scrape fetches and parses the Prometheus text at url.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// metricValue returns the value of the sample of family name whose labels
// include want, and whether there is one.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		}
	}
	return 0, false
}

// TestRunMetrics scrapes --metrics-addr during a run: counts, NACKs by
// code, pending, the last interval's percentiles and the run's labels, at
// most what the results file says at the end.
func TestRunMetrics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runCmd([]string{"--conns", "2", "--rate", "2000", "--duration", "3s", "--interval", "200ms",
			"--fake-nack", "BAD_REGISTRATION=0.05", "--metrics-addr", "127.0.0.1:0", "--json", path, "--progress=false"}, &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`metrics on (http://\S+/metrics)`)
	var url string
	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if url == "" {
			if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
				url = m[1]
			}
		}
		if url != "" {
			var err error
			if fams, err = scrape(url); err != nil {
				t.Fatalf("scrape %s: %v", url, err)
			}
			acked, _ := metricValue(fams, "ccsbench_acked_total", nil)
			nacks, _ := metricValue(fams, "ccsbench_nacks_total", map[string]string{"code": "BAD_REGISTRATION"})
			_, p99 := metricValue(fams, "ccsbench_interval_service_time_seconds", map[string]string{"percentile": "99"})
			if acked > 0 && nacks > 0 && p99 {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fams == nil {
		t.Fatalf("no metrics address announced on stderr: %q", stderr.String())
	}
	code := <-done
	if code != 0 {
		t.Fatalf("run = %d; stderr:\n%s", code, stderr.String())
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		atMost float64 // the final count; 0: only present
	}{
		{"ccsbench_acked_total", nil, float64(r.Counts.Acked)},
		{"ccsbench_messages_total", nil, float64(r.Counts.Messages)},
		{"ccsbench_nacks_total", map[string]string{"code": "BAD_REGISTRATION"}, float64(r.Counts.Nacks["BAD_REGISTRATION"])},
		{"ccsbench_pending", nil, 0},
		{"ccsbench_reconnects_total", nil, 0},
		{"ccsbench_acked_per_second", nil, 0},
		{"ccsbench_interval_service_time_seconds", map[string]string{"percentile": "50"}, 0},
		{"ccsbench_interval_response_time_seconds", map[string]string{"percentile": "99"}, 0},
		{"ccsbench_run_info", map[string]string{"client": "native", "target": "embedded", "shard": ""}, 0},
		{"process_cpu_seconds_total", nil, 0},
	} {
		v, ok := metricValue(fams, c.name, c.labels)
		switch {
		case !ok:
			t.Errorf("scrape lacks %s%v", c.name, c.labels)
		case c.atMost > 0 && (v <= 0 || v > c.atMost):
			t.Errorf("%s%v = %v during the run; want > 0 and at most the final %v", c.name, c.labels, v, c.atMost)
		}
	}
	if _, err := scrape(url); err == nil {
		t.Errorf("the metrics server still answers after the run")
	}
}
