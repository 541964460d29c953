package sim

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Colours of the plots, one per outcome and per kind of time.
var (
	colSucceeded   = color.RGBA{R: 0x2c, G: 0x7f, B: 0xb8, A: 0xff}
	colCompensated = color.RGBA{R: 0xf0, G: 0x8c, B: 0x00, A: 0xff}
	colFailed      = color.RGBA{R: 0xd7, G: 0x30, B: 0x27, A: 0xff}
	colOther       = color.RGBA{R: 0x77, G: 0x77, B: 0x77, A: 0xff}
	colBackoff     = color.RGBA{R: 0xfd, G: 0xae, B: 0x61, A: 0xff}
	colWait        = color.RGBA{R: 0x99, G: 0xd5, B: 0x94, A: 0xff}
	colComp        = color.RGBA{R: 0xab, G: 0x64, B: 0xc8, A: 0xff}
)

func endingColor(e Ending) color.Color {
	switch e {
	case EndSucceeded:
		return colSucceeded
	case EndCompensated:
		return colCompensated
	case EndFailed, EndCompensationFailed:
		return colFailed
	}
	return colOther
}

// WritePlots draws the report into dir, each figure as SVG and PNG:
// latency-histogram (end-to-end latency of finished executions, with
// p50/p90/p99), latency-cdf (the distribution function per outcome) and
// states (mean time per execution each state spends running, backing
// off, waiting and compensating). It returns the files written.
func (r *Report) WritePlots(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, fig := range []struct {
		name string
		make func() (*plot.Plot, error)
	}{
		{"latency-histogram", r.histogramPlot},
		{"latency-cdf", r.cdfPlot},
		{"states", r.statesPlot},
	} {
		p, err := fig.make()
		if err != nil {
			return files, fmt.Errorf("plot %s: %w", fig.name, err)
		}
		written, err := save([][]*plot.Plot{{p}}, 16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, fig.name))
		files = append(files, written...)
		if err != nil {
			return files, err
		}
	}
	return files, nil
}

func (r *Report) title(what string) string {
	return fmt.Sprintf("%s — %s (%s executions)", r.Workflow, what, group(int64(r.Executions)))
}

func (r *Report) histogramPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.title("end-to-end latency")
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "executions"
	all := r.Samples()
	if len(all) == 0 {
		return p, nil
	}
	// The tail beyond p99.9 is cut so that the body stays readable.
	lo, hi := ms(all[0]), ms(quantile(all, 0.999))
	if hi <= lo {
		hi = lo + 1
	}
	const nbins = 60
	width := (hi - lo) / nbins
	bins := make([]plotter.HistogramBin, nbins)
	for i := range bins {
		bins[i].Min, bins[i].Max = lo+float64(i)*width, lo+float64(i+1)*width
	}
	cut := 0
	for _, x := range all {
		k := int((ms(x) - lo) / width)
		if k == nbins && ms(x) <= hi {
			k = nbins - 1
		}
		if k >= nbins {
			cut++
			continue
		}
		bins[k].Weight++
	}
	h, err := plotter.NewHistogram(plotter.XYs{{X: lo, Y: 0}, {X: hi, Y: 0}}, 1)
	if err != nil {
		return nil, err
	}
	h.Bins, h.Width = bins, width
	h.FillColor = color.RGBA{R: 0x9e, G: 0xca, B: 0xe1, A: 0xff}
	h.LineStyle.Width = vg.Points(0.3)
	p.Add(h)
	var top float64
	for _, b := range bins {
		top = max(top, b.Weight)
	}
	for _, q := range []struct {
		name  string
		v     float64
		color color.Color
	}{{"p50", r.Latency.P50MS, colSucceeded}, {"p90", r.Latency.P90MS, colCompensated}, {"p99", r.Latency.P99MS, colFailed}} {
		l, err := plotter.NewLine(plotter.XYs{{X: q.v, Y: 0}, {X: q.v, Y: top}})
		if err != nil {
			return nil, err
		}
		l.Color = q.color
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		l.Width = vg.Points(1.2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s %s", q.name, msString(q.v)), l)
	}
	p.Legend.Top = true
	if cut > 0 {
		p.X.Label.Text = fmt.Sprintf("latency (ms); %s executions beyond p99.9 (%s) not shown", group(int64(cut)), msString(hi))
	}
	return p, nil
}

func (r *Report) cdfPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.title("latency distribution by outcome")
	p.X.Label.Text = "latency (ms)"
	p.Y.Label.Text = "fraction of executions at or below"
	p.Y.Min, p.Y.Max = 0, 1
	minPos, maxV := math.Inf(1), 0.0
	for e := range EndStuck {
		for _, x := range r.samples[e] {
			if x > 0 {
				minPos = min(minPos, ms(x))
				break
			}
		}
		if s := r.samples[e]; len(s) > 0 {
			maxV = max(maxV, ms(s[len(s)-1]))
		}
	}
	logX := !math.IsInf(minPos, 1) && maxV/minPos > 100
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for e := range EndStuck {
		s := r.samples[e]
		if len(s) == 0 {
			continue
		}
		pts := cdfPoints(s, 1000)
		if logX {
			for i := range pts {
				pts[i].X = max(pts[i].X, minPos)
			}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = endingColor(e)
		l.Width = vg.Points(1.5)
		if e == EndCompensationFailed || e == EndTimedOut {
			l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%s)", e, group(int64(len(s)))), l)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Centimeter
	return p, nil
}

// cdfPoints is the empirical distribution function of sorted samples as
// a step line of at most about k steps.
func cdfPoints(sorted []int64, k int) plotter.XYs {
	n := len(sorted)
	step := max(1, n/k)
	pts := make(plotter.XYs, 0, 2*(n/step+2))
	prevY := 0.0
	for i := step - 1; ; i += step {
		if i >= n {
			i = n - 1
		}
		x := ms(sorted[i])
		y := float64(i+1) / float64(n)
		pts = append(pts, plotter.XY{X: x, Y: prevY}, plotter.XY{X: x, Y: y})
		prevY = y
		if i == n-1 {
			break
		}
	}
	return pts
}

func (r *Report) statesPlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = r.title("mean time per execution in each state")
	p.Y.Label.Text = "ms per execution"
	if len(r.States) == 0 {
		return p, nil
	}
	names := make([]string, len(r.States))
	parts := []struct {
		name  string
		color color.Color
		get   func(StateStats) float64
	}{
		{"running", colSucceeded, func(s StateStats) float64 { return s.RunMS }},
		{"backoff", colBackoff, func(s StateStats) float64 { return s.BackoffMS }},
		{"waiting", colWait, func(s StateStats) float64 { return s.WaitMS }},
		{"compensating", colComp, func(s StateStats) float64 { return s.CompensationMS }},
	}
	var below *plotter.BarChart
	width := vg.Length(math.Min(40, 400/float64(len(r.States)))) * vg.Millimeter / 4
	for _, part := range parts {
		vs := make(plotter.Values, len(r.States))
		for i, s := range r.States {
			vs[i] = part.get(s)
			names[i] = s.State
		}
		bc, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return nil, err
		}
		bc.Color = part.color
		bc.LineStyle.Width = 0
		if below != nil {
			bc.StackOn(below)
		}
		below = bc
		p.Add(bc)
		p.Legend.Add(part.name, bc)
	}
	p.NominalX(names...)
	if len(names) > 6 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign = draw.XRight
	}
	p.Legend.Top = true
	return p, nil
}

// save draws a grid of plots into PATH.svg and PATH.png.
func save(plots [][]*plot.Plot, w, h vg.Length, path string) ([]string, error) {
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 2 * vg.Millimeter}
	var files []string
	for _, format := range []string{"svg", "png"} {
		var buf bytes.Buffer
		var err error
		switch format {
		case "svg":
			c := vgsvg.New(w, h)
			drawTiles(plots, tiles, draw.New(c))
			_, err = c.WriteTo(&buf)
		case "png":
			c := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(144))}
			drawTiles(plots, tiles, draw.New(c))
			_, err = c.WriteTo(&buf)
		}
		if err != nil {
			return files, err
		}
		name := path + "." + format
		if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
			return files, err
		}
		files = append(files, name)
	}
	return files, nil
}

func drawTiles(plots [][]*plot.Plot, t draw.Tiles, dc draw.Canvas) {
	canvases := plot.Align(plots, t, dc)
	for i := range plots {
		for j := range plots[i] {
			if plots[i][j] != nil {
				plots[i][j].Draw(canvases[i][j])
			}
		}
	}
}
