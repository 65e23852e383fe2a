package report

import (
	"io"
	"testing"
)

func BenchmarkSummarize(b *testing.B) {
	r := baseFixture.build(b)
	h, err := DecodeHistogram(r.Histograms.Service)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Summarize(h)
	}
}

func BenchmarkEncodeHistogram(b *testing.B) {
	r := baseFixture.build(b)
	h, err := DecodeHistogram(r.Histograms.Service)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeHistogram(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseGate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseGate("p99<5ms,rate>4900,unresolved==0,rp999<=20ms"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMerge(b *testing.B) {
	x, y := baseFixture.build(b), slowFixture.build(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Merge(x, y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteHTML(b *testing.B) {
	x, y := baseFixture.build(b), slowFixture.build(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteHTML(io.Discard, x, y); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteSummary(b *testing.B) {
	r := baseFixture.build(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteSummary(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
