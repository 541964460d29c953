package sim

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Dist is a distribution of durations (latencies, cold-start penalties,
// wait times). Samples are drawn from a source the caller owns, so that a
// simulation with a given seed draws the same values whatever the number
// of goroutines.
type Dist interface {
	// Sample draws one duration using src.
	Sample(src rand.Source) time.Duration
	// Mean is the distribution's mean.
	Mean() time.Duration
	// String describes the distribution in profile syntax.
	String() string
}

// Constant is a duration that never varies.
type Constant time.Duration

// Sample returns the constant.
func (c Constant) Sample(rand.Source) time.Duration { return time.Duration(c) }

// Mean returns the constant.
func (c Constant) Mean() time.Duration { return time.Duration(c) }

func (c Constant) String() string { return time.Duration(c).String() }

// Exponential durations with the given mean (distuv.Exponential).
type Exponential struct {
	MeanD time.Duration
	// Offset is added to every sample: a floor below which no call returns.
	Offset time.Duration
}

// Sample draws one duration.
func (e Exponential) Sample(src rand.Source) time.Duration {
	if e.MeanD <= 0 {
		return e.Offset
	}
	x := distuv.Exponential{Rate: 1 / e.MeanD.Seconds(), Src: src}.Rand()
	return e.Offset + seconds(x)
}

// Mean returns the mean including the offset.
func (e Exponential) Mean() time.Duration { return e.Offset + e.MeanD }

func (e Exponential) String() string {
	return fmt.Sprintf("{dist: exponential, mean: %s%s}", e.MeanD, offsetString(e.Offset))
}

// LogNormal durations: the logarithm of the duration in seconds is normal
// with mean Mu and standard deviation Sigma (distuv.LogNormal). The median
// is exp(Mu) seconds.
type LogNormal struct {
	Mu, Sigma float64
	Offset    time.Duration
}

// Sample draws one duration.
func (l LogNormal) Sample(src rand.Source) time.Duration {
	return l.Offset + seconds(distuv.LogNormal{Mu: l.Mu, Sigma: l.Sigma, Src: src}.Rand())
}

// Mean returns exp(Mu + Sigma²/2) seconds plus the offset.
func (l LogNormal) Mean() time.Duration {
	return l.Offset + seconds(distuv.LogNormal{Mu: l.Mu, Sigma: l.Sigma}.Mean())
}

// Median returns exp(Mu) seconds plus the offset.
func (l LogNormal) Median() time.Duration { return l.Offset + seconds(math.Exp(l.Mu)) }

func (l LogNormal) String() string {
	return fmt.Sprintf("{dist: lognormal, median: %s, sigma: %s%s}", seconds(math.Exp(l.Mu)),
		strconv.FormatFloat(l.Sigma, 'g', 6, 64), offsetString(l.Offset))
}

// Gamma durations with shape Shape and the given mean (distuv.Gamma with
// Alpha = Shape, Beta = Shape / mean).
type Gamma struct {
	Shape  float64
	MeanD  time.Duration
	Offset time.Duration
}

// Sample draws one duration.
func (g Gamma) Sample(src rand.Source) time.Duration {
	if g.MeanD <= 0 {
		return g.Offset
	}
	return g.Offset + seconds(distuv.Gamma{Alpha: g.Shape, Beta: g.Shape / g.MeanD.Seconds(), Src: src}.Rand())
}

// Mean returns the mean including the offset.
func (g Gamma) Mean() time.Duration { return g.Offset + g.MeanD }

func (g Gamma) String() string {
	return fmt.Sprintf("{dist: gamma, shape: %s, mean: %s%s}", strconv.FormatFloat(g.Shape, 'g', 6, 64), g.MeanD,
		offsetString(g.Offset))
}

// Empirical resamples observed durations (the bootstrap): every sample is
// one of the observations, each equally likely.
type Empirical struct {
	// Values, sorted ascending; at least one.
	Values []time.Duration
	// Source names where the values came from (a CSV file), for String.
	Source string
}

// NewEmpirical returns the empirical distribution of values (copied and
// sorted). It panics on an empty list.
func NewEmpirical(values []time.Duration, source string) *Empirical {
	if len(values) == 0 {
		panic("sim: empirical distribution without values")
	}
	v := slices.Clone(values)
	slices.Sort(v)
	return &Empirical{Values: v, Source: source}
}

// Sample draws one of the observed values.
func (e *Empirical) Sample(src rand.Source) time.Duration {
	return e.Values[uniformIndex(src, len(e.Values))]
}

// Mean returns the mean of the observations.
func (e *Empirical) Mean() time.Duration {
	var s float64
	for _, v := range e.Values {
		s += float64(v)
	}
	return time.Duration(math.Round(s / float64(len(e.Values))))
}

func (e *Empirical) String() string {
	if e.Source != "" {
		return fmt.Sprintf("{dist: empirical, csv: %s} (%d values)", e.Source, len(e.Values))
	}
	return fmt.Sprintf("{dist: empirical} (%d values)", len(e.Values))
}

// CountDist is a distribution of counts: the number of items of a map
// state.
type CountDist interface {
	Sample(src rand.Source) uint32
	Mean() float64
	String() string
}

// ConstantCount always gives the same count.
type ConstantCount uint32

// Sample returns the count.
func (c ConstantCount) Sample(rand.Source) uint32 { return uint32(c) }

// Mean returns the count.
func (c ConstantCount) Mean() float64 { return float64(c) }

func (c ConstantCount) String() string { return strconv.FormatUint(uint64(c), 10) }

// PoissonCount draws counts from a Poisson distribution (distuv.Poisson).
type PoissonCount struct{ Lambda float64 }

// Sample draws one count.
func (p PoissonCount) Sample(src rand.Source) uint32 {
	if p.Lambda <= 0 {
		return 0
	}
	return uint32(distuv.Poisson{Lambda: p.Lambda, Src: src}.Rand())
}

// Mean returns Lambda.
func (p PoissonCount) Mean() float64 { return p.Lambda }

func (p PoissonCount) String() string {
	return fmt.Sprintf("{dist: poisson, mean: %s}", strconv.FormatFloat(p.Lambda, 'g', 6, 64))
}

// UniformCount draws counts uniformly from Min to Max inclusive.
type UniformCount struct{ Min, Max uint32 }

// Sample draws one count.
func (u UniformCount) Sample(src rand.Source) uint32 {
	return u.Min + uint32(uniformIndex(src, int(u.Max-u.Min)+1))
}

// Mean returns the midpoint.
func (u UniformCount) Mean() float64 { return (float64(u.Min) + float64(u.Max)) / 2 }

func (u UniformCount) String() string {
	return fmt.Sprintf("{dist: uniform, min: %d, max: %d}", u.Min, u.Max)
}

// seconds converts a float number of seconds to a Duration, saturating.
func seconds(x float64) time.Duration {
	ns := x * 1e9
	switch {
	case !(ns > 0): // also NaN
		return 0
	case ns >= math.MaxInt64/2:
		return math.MaxInt64 / 2
	}
	return time.Duration(math.Round(ns))
}

func offsetString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return ", offset: " + d.String()
}

// uniform01 draws a float64 in [0, 1) from src, as math/rand/v2 does.
func uniform01(src rand.Source) float64 {
	return float64(src.Uint64()<<11>>11) / (1 << 53)
}

// uniformIndex draws an int in [0, n) from src (n > 0), without bias.
func uniformIndex(src rand.Source, n int) int {
	if n <= 1 {
		return 0
	}
	// Lemire's multiply-and-reject.
	hi, lo := bits.Mul64(src.Uint64(), uint64(n))
	if lo < uint64(n) {
		thresh := -uint64(n) % uint64(n)
		for lo < thresh {
			hi, lo = bits.Mul64(src.Uint64(), uint64(n))
		}
	}
	return int(hi)
}
