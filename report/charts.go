package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart geometry, in points of the SVG canvas.
const (
	chartWidth  = 9 * vg.Inch
	chartHeight = 4 * vg.Inch
	// spectrumPointsPerDecade is the density of the percentile spectrum
	// along its 1/(1-q) axis.
	spectrumPointsPerDecade = 40
)

// palette gives one colour per run, chosen to stay distinguishable for
// common colour-vision deficiencies (Okabe-Ito).
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // bluish green
	{0xCC, 0x79, 0xA7, 0xff}, // reddish purple
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky blue
	{0x00, 0x00, 0x00, 0xff}, // black
	{0xF0, 0xE4, 0x42, 0xff}, // yellow
}

// runColor returns the colour of the i-th run.
func runColor(i int) color.Color { return palette[i%len(palette)] }

// chartFont is the sans-serif face used for all chart text.
var chartFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// series is one run's line in a chart; dashed draws it dashed.
type series struct {
	label  string
	xys    plotter.XYs
	dashed bool
}

// newPlot returns a plot with the house style: sans-serif text, a grid, the
// legend in the top-left corner.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, st := range []*font.Font{
		&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font,
	} {
		size := st.Size
		*st = chartFont
		st.Size = size
	}
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.Padding = vg.Points(8)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(8)
	p.Legend.YOffs = vg.Points(-4)
	p.Legend.ThumbnailWidth = vg.Points(24)
	p.Legend.Padding = vg.Points(4)
	grid := plotter.NewGrid()
	grid.Horizontal.Color = color.Gray{Y: 0xdd}
	grid.Vertical.Color = color.Gray{Y: 0xdd}
	p.Add(grid)
	return p
}

// addSeries draws each series as a line in its run's colour, with a legend.
func addSeries(p *plot.Plot, ss []series, idx []int) error {
	for k, s := range ss {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return fmt.Errorf("report: chart %q: %w", s.label, err)
		}
		l.Color = runColor(idx[k])
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.label, l)
	}
	return nil
}

// renderSVG draws p on an SVG canvas and returns the document without its
// XML prolog, ready to be inlined in HTML.
func renderSVG(p *plot.Plot) ([]byte, error) {
	c := vgsvg.NewWith(vgsvg.UseWH(chartWidth, chartHeight))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: rendering chart: %w", err)
	}
	b := buf.Bytes()
	if i := bytes.Index(b, []byte("<svg")); i > 0 {
		b = b[i:]
	}
	return b, nil
}

// latencyUnit picks a display unit for values up to maxUS microseconds and
// returns its name and size in microseconds.
func latencyUnit(maxUS float64) (string, float64) {
	switch {
	case maxUS >= 1e6:
		return "s", 1e6
	case maxUS >= 1e3:
		return "ms", 1e3
	}
	return "µs", 1
}

// spectrumPoints samples h along HdrHistogram's percentile spectrum: x is
// 1/(1-q) from 1 (q=0) to the total count (where the max sits), y the value
// at q in microseconds.
func spectrumPoints(h *hdrhistogram.Histogram) plotter.XYs {
	n := float64(h.TotalCount())
	var xys plotter.XYs
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/spectrumPointsPerDecade)
		if x >= n {
			break
		}
		q := 1 - 1/x
		xys = append(xys, plotter.XY{X: x, Y: float64(quantile(h, q))})
	}
	xys = append(xys, plotter.XY{X: max(n, 1), Y: float64(h.Max())})
	return xys
}

// spectrumTicks marks 0%, 90%, 99%, 99.9%... on the 1/(1-q) axis, with
// unlabelled minor ticks between the decades.
type spectrumTicks struct{}

// Ticks implements plot.Ticker.
func (spectrumTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for d := 0; ; d++ {
		base := math.Pow(10, float64(d))
		if base > hi*1.0001 {
			break
		}
		ticks = append(ticks, plot.Tick{Value: base, Label: spectrumLabel(d)})
		for m := 2; m < 10; m++ {
			if v := base * float64(m); v <= hi {
				ticks = append(ticks, plot.Tick{Value: v})
			}
		}
	}
	return ticks
}

// spectrumLabel labels decade d of the 1/(1-q) axis: 0%, 90%, 99%, 99.9%...
func spectrumLabel(d int) string {
	switch d {
	case 0:
		return "0%"
	case 1:
		return "90%"
	case 2:
		return "99%"
	}
	return "99." + strings.Repeat("9", d-2) + "%"
}

// spectrumChart plots the percentile spectrum of each histogram (nil or empty
// ones are skipped, keeping run colours stable). It returns nil when no
// histogram has values.
func spectrumChart(title string, names []string, hists []*hdrhistogram.Histogram) ([]byte, error) {
	var ss []series
	var idx []int
	maxUS, maxX := 0.0, 1.0
	for i, h := range hists {
		if h == nil || h.TotalCount() == 0 {
			continue
		}
		ss = append(ss, series{label: names[i], xys: spectrumPoints(h)})
		idx = append(idx, i)
		maxUS = max(maxUS, float64(h.Max()))
		maxX = max(maxX, float64(h.TotalCount()))
	}
	if len(ss) == 0 {
		return nil, nil
	}
	unit, size := latencyUnit(maxUS)
	for _, s := range ss {
		for j := range s.xys {
			s.xys[j].Y /= size
		}
	}
	p := newPlot(title, "percentile", "latency ("+unit+")")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = spectrumTicks{}
	p.X.Min = 1
	p.X.Max = math.Pow(10, math.Ceil(math.Log10(maxX)))
	if p.X.Max <= 1 {
		p.X.Max = 10
	}
	p.Y.Min = 0
	p.Y.Tick.Marker = plainTicks{}
	if err := addSeries(p, ss, idx); err != nil {
		return nil, err
	}
	p.Y.Max *= 1.05
	return renderSVG(p)
}

// timelineValue extracts one per-interval value from a timeline point; prev
// is the previous point's TS (0 for the first) so rates can be formed.
type timelineValue func(pt TimelinePoint, prevTS float64) (float64, bool)

// perSecond turns a per-interval count into a rate.
func perSecond(count func(TimelinePoint) uint64) timelineValue {
	return func(pt TimelinePoint, prev float64) (float64, bool) {
		d := pt.TS - prev
		if d <= 0 {
			return 0, false
		}
		return float64(count(pt)) / d, true
	}
}

// timeLine is one line per run of a time chart: the value it plots, a
// suffix to the run's name in the legend when a chart has several lines,
// and whether it is drawn dashed.
type timeLine struct {
	suffix string
	val    timelineValue
	dashed bool
}

// timeChart plots values of every run's timeline against seconds since
// its start, one line per run and timeLine. yScale divides the values for
// display. It returns nil when there is nothing to show: no run has a
// timeline, or every value is zero.
func timeChart(title, yLabel string, names []string, results []*Result, lines []timeLine, yScale float64) ([]byte, error) {
	var ss []series
	var idx []int
	nonZero := false
	for i, r := range results {
		for _, line := range lines {
			var xys plotter.XYs
			prev := 0.0
			for _, pt := range r.Timeline {
				if v, ok := line.val(pt, prev); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					xys = append(xys, plotter.XY{X: pt.TS, Y: v / yScale})
					nonZero = nonZero || v != 0
				}
				prev = pt.TS
			}
			if len(xys) == 0 {
				continue
			}
			label := names[i]
			if len(lines) > 1 {
				label += line.suffix
			}
			ss = append(ss, series{label: label, xys: xys, dashed: line.dashed})
			idx = append(idx, i)
		}
	}
	if !nonZero {
		return nil, nil
	}
	p := newPlot(title, "time since start (s)", yLabel)
	p.X.Min = 0
	p.Y.Min = 0
	p.Y.Tick.Marker = plainTicks{}
	if err := addSeries(p, ss, idx); err != nil {
		return nil, err
	}
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
	p.Y.Max *= 1 + 0.09*float64(len(ss)+1) // headroom for the legend
	return renderSVG(p)
}

// plainTicks is plot.DefaultTicks with plain labels: no exponent notation
// and no trailing zeros (5000 rather than 5e+03 or 5000.00).
type plainTicks struct{}

// Ticks implements plot.Ticker.
func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		if v, err := strconv.ParseFloat(ticks[i].Label, 64); err == nil {
			ticks[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ticks
}
