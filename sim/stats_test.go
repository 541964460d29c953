package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestWilson(t *testing.T) {
	tests := []struct {
		k, n   int64
		lo, hi float64
	}{
		// Reference values (Wilson 1927; e.g. R's prop.test without
		// continuity correction).
		{50, 100, 0.4038315, 0.5961685},
		{0, 100, 0, 0.0369935},
		{100, 100, 0.9630065, 1},
		{1, 10, 0.0178762, 0.4041500},
		{940, 1000, 0.9235289, 0.9531035},
	}
	for _, tt := range tests {
		lo, hi := Wilson(tt.k, tt.n, z95)
		if math.Abs(lo-tt.lo) > 1e-6 || math.Abs(hi-tt.hi) > 1e-6 {
			t.Errorf("Wilson(%d, %d) = [%.7f, %.7f], want [%.7f, %.7f]", tt.k, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	if lo, hi := Wilson(0, 0, z95); lo != 0 || hi != 1 {
		t.Errorf("Wilson(0, 0) = [%v, %v], want [0, 1]", lo, hi)
	}
	if z := ZFor(0.95); math.Abs(z-z95) > 1e-9 {
		t.Errorf("ZFor(0.95) = %v", z)
	}
}

func TestQuantiles(t *testing.T) {
	s := []int64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for _, tt := range []struct {
		q    float64
		want int64
	}{{0, 10}, {0.1, 10}, {0.15, 20}, {0.5, 50}, {0.9, 90}, {0.99, 100}, {1, 100}} {
		if got := quantile(s, tt.q); got != tt.want {
			t.Errorf("quantile(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
	// The interval of the median of 1..1000 brackets 500 and is about
	// ±31 wide (1.96·√250).
	big := make([]int64, 1000)
	for i := range big {
		big[i] = int64(i + 1)
	}
	lo, hi := quantileCI(big, 0.5)
	if lo > 500 || hi < 500 || hi-lo < 55 || hi-lo > 70 {
		t.Errorf("median interval [%d, %d]", lo, hi)
	}
}

func TestKolmogorovSmirnov(t *testing.T) {
	src := rand.NewPCG(1, 2)
	draw := func(d Dist, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = d.Sample(src).Seconds()
		}
		return out
	}
	ln := LogNormal{Mu: math.Log(0.1), Sigma: 0.5}
	same := 0
	for range 20 {
		if _, p := KolmogorovSmirnov(draw(ln, 2000), draw(ln, 2000)); p > 0.01 {
			same++
		}
	}
	// Twenty pairs from one distribution: at p > 0.01 about 19.8 pass.
	if same < 18 {
		t.Errorf("only %d of 20 same-distribution pairs pass at p > 0.01", same)
	}
	shifted := LogNormal{Mu: math.Log(0.11), Sigma: 0.5}
	if d, p := KolmogorovSmirnov(draw(ln, 2000), draw(shifted, 2000)); p > 1e-4 {
		t.Errorf("a 10%% shift: D = %.3f, p = %.2g; want p < 1e-4", d, p)
	}
	// Reference values of the Kolmogorov survival function.
	for _, tt := range []struct{ lambda, q float64 }{{0.5, 0.9639}, {1, 0.2700}, {1.36, 0.0495}, {2, 0.00067}} {
		if q := kolmogorovQ(tt.lambda); math.Abs(q-tt.q) > 5e-4 {
			t.Errorf("Q(%v) = %.5f, want %.5f", tt.lambda, q, tt.q)
		}
	}
}

func TestDistMeans(t *testing.T) {
	src := rand.NewPCG(3, 4)
	emp := NewEmpirical([]time.Duration{10 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond}, "")
	tests := []struct {
		d    Dist
		mean time.Duration
	}{
		{Constant(42 * time.Millisecond), 42 * time.Millisecond},
		{Exponential{MeanD: 100 * time.Millisecond, Offset: 5 * time.Millisecond}, 105 * time.Millisecond},
		{LogNormal{Mu: math.Log(0.05), Sigma: 0.3}, seconds(distuv.LogNormal{Mu: math.Log(0.05), Sigma: 0.3}.Mean())},
		{Gamma{Shape: 3, MeanD: 90 * time.Millisecond}, 90 * time.Millisecond},
		{emp, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		if tt.d.Mean() != tt.mean {
			t.Errorf("%s: Mean() = %v, want %v", tt.d, tt.d.Mean(), tt.mean)
		}
		const n = 100_000
		var s, s2 float64
		for range n {
			x := tt.d.Sample(src).Seconds()
			s += x
			s2 += x * x
		}
		mean, lo, hi := meanCI(s, s2, n)
		half := (hi - lo) / 2 * z999 / z95
		if want := tt.mean.Seconds(); math.Abs(mean-want) > half+1e-12 {
			t.Errorf("%s: sample mean %.6fs, want %.6fs ± %.6f", tt.d, mean, want, half)
		}
	}
	seen := map[time.Duration]bool{}
	for range 1000 {
		seen[emp.Sample(src)] = true
	}
	if len(seen) != 3 {
		t.Errorf("empirical draws %d distinct values, want its 3", len(seen))
	}
	counts := []struct {
		c    CountDist
		mean float64
	}{{ConstantCount(4), 4}, {PoissonCount{Lambda: 2.5}, 2.5}, {UniformCount{Min: 2, Max: 6}, 4}}
	for _, tt := range counts {
		var s float64
		for range 100_000 {
			s += float64(tt.c.Sample(src))
		}
		if m := s / 100_000; math.Abs(m-tt.mean) > 0.02*tt.mean {
			t.Errorf("%s: mean %.3f, want %.3f", tt.c, m, tt.mean)
		}
	}
}

func TestUniformIndexUnbiased(t *testing.T) {
	src := rand.NewPCG(5, 6)
	var counts [3]int
	for range 300_000 {
		counts[uniformIndex(src, 3)]++
	}
	for i, c := range counts {
		if math.Abs(float64(c)-100_000) > 5*math.Sqrt(300_000*(1.0/3)*(2.0/3)) {
			t.Errorf("index %d drawn %d times of 300000", i, c)
		}
	}
	if seconds(math.Inf(1)) <= 0 || seconds(math.NaN()) != 0 || seconds(-1) != 0 {
		t.Error("seconds does not saturate")
	}
}
