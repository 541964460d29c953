package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Sweep is a what-if over one profile parameter: the same simulation at
// each of Values.
type Sweep struct {
	// Param is the override path ("fn.failure", "cost.transition").
	Param string
	// Values as written into the profile, and as numbers (durations in
	// seconds) for plotting.
	Values []string
	X      []float64
	// Unit is "s" when the values are durations.
	Unit string
}

// MaxSweepPoints bounds the values of one sweep.
const MaxSweepPoints = 1000

// ParseSweep reads PATH=FROM..TO:STEP (numbers or durations, TO
// included) or PATH=V1,V2,V3.
func ParseSweep(spec string) (*Sweep, error) {
	param, rng, ok := strings.Cut(spec, "=")
	if !ok || param == "" || rng == "" {
		return nil, fmt.Errorf("a sweep is PATH=FROM..TO:STEP or PATH=V1,V2,... (fn.failure=0..0.2:0.02), found %q", spec)
	}
	s := &Sweep{Param: param}
	if from, rest, ok := strings.Cut(rng, ".."); ok {
		to, step, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("sweep %s: a range needs a step: FROM..TO:STEP", param)
		}
		a, ua, err1 := sweepNumber(from)
		b, ub, err2 := sweepNumber(to)
		d, ud, err3 := sweepNumber(step)
		for _, err := range []error{err1, err2, err3} {
			if err != nil {
				return nil, fmt.Errorf("sweep %s: %v", param, err)
			}
		}
		if ua != ub || ub != ud {
			return nil, fmt.Errorf("sweep %s: FROM, TO and STEP must all be numbers or all durations", param)
		}
		if d <= 0 || b < a {
			return nil, fmt.Errorf("sweep %s: need FROM ≤ TO and STEP > 0", param)
		}
		n := int(math.Floor((b-a)/d+1e-9)) + 1
		if n > MaxSweepPoints {
			return nil, fmt.Errorf("sweep %s: %d points; at most %d", param, n, MaxSweepPoints)
		}
		s.Unit = ua
		for i := range n {
			x := a + float64(i)*d
			s.X = append(s.X, x)
			s.Values = append(s.Values, formatSweep(x, ua))
		}
		return s, nil
	}
	for _, v := range strings.Split(rng, ",") {
		x, u, err := sweepNumber(v)
		if err != nil {
			return nil, fmt.Errorf("sweep %s: %v", param, err)
		}
		if len(s.Values) > 0 && u != s.Unit {
			return nil, fmt.Errorf("sweep %s: values must all be numbers or all durations", param)
		}
		s.Unit = u
		s.X = append(s.X, x)
		s.Values = append(s.Values, strings.TrimSpace(v))
	}
	if len(s.Values) > MaxSweepPoints {
		return nil, fmt.Errorf("sweep %s: %d points; at most %d", param, len(s.Values), MaxSweepPoints)
	}
	return s, nil
}

// sweepNumber reads a number, or a duration as seconds (unit "s").
func sweepNumber(s string) (float64, string, error) {
	s = strings.TrimSpace(s)
	if x, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
		return x, "", nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d.Seconds(), "s", nil
	}
	return 0, "", fmt.Errorf("%q is neither a number nor a duration", s)
}

func formatSweep(x float64, unit string) string {
	if unit == "s" {
		return seconds(x).String()
	}
	// Twelve significant digits hide the binary noise of FROM + i·STEP.
	return strconv.FormatFloat(x, 'g', 12, 64)
}

// SweepPoint is the simulation at one value of a sweep.
type SweepPoint struct {
	Value  string  `json:"value"`
	X      float64 `json:"x"`
	Report *Report `json:"report"`
}

// SweepResult is a whole sweep.
type SweepResult struct {
	Param  string       `json:"param"`
	Unit   string       `json:"unit,omitempty"`
	Points []SweepPoint `json:"points"`
}

// RunSweep runs the simulation at each value of sw, with the profile src
// decoded under sets plus PARAM=value. Every point uses the same seed:
// common random numbers, so that differences between points come from
// the parameter, not from the noise. Progress, if set, counts executions
// over the whole sweep.
func RunSweep(ctx context.Context, m *model.Machine, src *ProfileSource, sets []string, sw *Sweep, o Options) (*SweepResult, model.Findings, error) {
	res := &SweepResult{Param: sw.Param, Unit: sw.Unit}
	n := o.N
	if n == 0 {
		n = DefaultExecutions
	}
	progress := o.Progress
	for i, v := range sw.Values {
		p, fs := src.Decode(append(append([]string(nil), sets...), sw.Param+"="+v)...)
		if p == nil {
			return nil, fs, fmt.Errorf("sweep %s=%s: the profile is invalid", sw.Param, v)
		}
		po := o
		if progress != nil {
			base := i * n
			po.Progress = func(done, _ int) { progress(base+done, n*len(sw.Values)) }
		}
		r, err := Run(ctx, m, p, po)
		if err != nil {
			return nil, nil, fmt.Errorf("sweep %s=%s: %w", sw.Param, v, err)
		}
		res.Points = append(res.Points, SweepPoint{Value: v, X: sw.X[i], Report: r})
	}
	return res, nil, nil
}

// WriteText writes the sweep as a table.
func (s *SweepResult) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(s.Points) > 0 {
		r := s.Points[0].Report
		fmt.Fprintf(&b, "%s: sweep of %s, %s executions per point, seed %d\n\n", r.Workflow, s.Param,
			group(int64(r.Executions)), r.Seed)
	}
	tb := table{{s.Param, "succeeded", "95% CI", "compensated", "failed", "p50", "p99", "cost/exec"}}
	for _, p := range s.Points {
		r := p.Report
		rate, lo, hi := r.Rate(EndSucceeded)
		comp, _, _ := r.Rate(EndCompensated)
		failed, _, _ := r.Rate(EndFailed)
		cf, _, _ := r.Rate(EndCompensationFailed)
		tb = append(tb, []string{p.Value, pct(rate), fmt.Sprintf("[%s, %s]", pct(lo), pct(hi)), pct(comp), pct(failed + cf),
			msString(r.Latency.P50MS), msString(r.Latency.P99MS), dollars(r.Cost.PerExecution)})
	}
	tb.write(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the sweep as indented JSON.
func (s *SweepResult) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WritePlot draws the success rate (with its 95% interval) and the p99
// latency against the parameter into dir/sweep.svg and dir/sweep.png.
func (s *SweepResult) WritePlot(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	xlabel := s.Param
	if s.Unit != "" {
		xlabel += " (" + s.Unit + ")"
	}
	name := ""
	if len(s.Points) > 0 {
		name = s.Points[0].Report.Workflow + " — "
	}
	top := plot.New()
	top.Title.Text = name + "success rate and p99 latency against " + s.Param
	top.Y.Label.Text = "succeeded (%)"
	top.X.Label.Text = xlabel
	bottom := plot.New()
	bottom.Y.Label.Text = "p99 latency (ms)"
	bottom.X.Label.Text = xlabel
	rate := make(plotter.XYs, len(s.Points))
	errs := make(plotter.YErrors, len(s.Points))
	p99 := make(plotter.XYs, len(s.Points))
	for i, p := range s.Points {
		r, lo, hi := p.Report.Rate(EndSucceeded)
		rate[i] = plotter.XY{X: p.X, Y: 100 * r}
		errs[i] = struct{ Low, High float64 }{100 * (r - lo), 100 * (hi - r)}
		p99[i] = plotter.XY{X: p.X, Y: p.Report.Latency.P99MS}
	}
	for _, part := range []struct {
		p      *plot.Plot
		xys    plotter.XYs
		legend string
	}{{top, rate, "succeeded (bars: 95% CI)"}, {bottom, p99, "p99"}} {
		l, pts, err := plotter.NewLinePoints(part.xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = colSucceeded, colSucceeded
		if part.p == bottom {
			l.Color, pts.Color = colFailed, colFailed
		}
		part.p.Add(plotter.NewGrid(), l, pts)
		part.p.Legend.Add(part.legend, l, pts)
		part.p.Legend.Top = part.p == bottom
	}
	eb, err := plotter.NewYErrorBars(struct {
		plotter.XYs
		plotter.YErrors
	}{rate, errs})
	if err != nil {
		return nil, err
	}
	eb.Color = colSucceeded
	top.Add(eb)
	return save([][]*plot.Plot{{top}, {bottom}}, 16*vg.Centimeter, 16*vg.Centimeter, filepath.Join(dir, "sweep"))
}
