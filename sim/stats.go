package sim

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// z95 is the 0.975 quantile of the standard normal distribution: the
// half-width of a two-sided 95% interval in standard errors.
const z95 = 1.959963984540054

// Wilson returns the Wilson score interval for k successes in n trials at
// the confidence whose two-sided normal quantile is z (1.96 for 95%).
// Unlike the normal approximation it stays inside [0, 1] and behaves at
// rates near 0 and 1, where workflow success rates live.
func Wilson(k, n int64, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = max(0, center-half), min(1, center+half)
	// Exact at the edges: no successes means the lower bound is 0.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// ZFor returns the two-sided normal quantile of a confidence level
// (1.96 for 0.95).
func ZFor(confidence float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
}

// quantile returns the q-quantile of sorted samples by the nearest-rank
// method: the smallest sample with at least q of the samples at or below
// it.
func quantile(sorted []int64, q float64) int64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	r := int(math.Ceil(q * float64(n)))
	return sorted[min(max(r, 1), n)-1]
}

// quantileCI returns a distribution-free 95% interval for the q-quantile
// of sorted samples: order statistics whose ranks bracket n·q by z
// binomial standard deviations.
func quantileCI(sorted []int64, q float64) (lo, hi int64) {
	n := len(sorted)
	if n == 0 {
		return 0, 0
	}
	nf := float64(n)
	sd := math.Sqrt(nf * q * (1 - q))
	l := int(math.Floor(nf*q - z95*sd))
	u := int(math.Ceil(nf*q + z95*sd))
	return sorted[min(max(l, 1), n)-1], sorted[min(max(u, 1), n)-1]
}

// meanCI returns the mean of xs and a 95% normal interval around it.
func meanCI(sum, sumSq float64, n int64) (mean, lo, hi float64) {
	if n == 0 {
		return 0, 0, 0
	}
	nf := float64(n)
	mean = sum / nf
	if n < 2 {
		return mean, mean, mean
	}
	v := max(0, (sumSq-nf*mean*mean)/(nf-1))
	half := z95 * math.Sqrt(v/nf)
	return mean, mean - half, mean + half
}

// KolmogorovSmirnov compares two samples: it returns the two-sample
// statistic D (gonum's stat.KolmogorovSmirnov, the largest distance
// between the empirical distribution functions) and the asymptotic
// p-value of the hypothesis that both come from one distribution
// (Stephens' small-sample correction, as in Numerical Recipes). The
// samples need not be sorted; they are not modified.
func KolmogorovSmirnov(x, y []float64) (d, p float64) {
	if len(x) == 0 || len(y) == 0 {
		return math.NaN(), math.NaN()
	}
	xs, ys := slices.Clone(x), slices.Clone(y)
	slices.Sort(xs)
	slices.Sort(ys)
	d = stat.KolmogorovSmirnov(xs, nil, ys, nil)
	ne := float64(len(xs)) * float64(len(ys)) / float64(len(xs)+len(ys))
	sq := math.Sqrt(ne)
	return d, kolmogorovQ((sq + 0.12 + 0.11/sq) * d)
}

// kolmogorovQ is the survival function of the Kolmogorov distribution:
// Q(λ) = 2 Σ_{j≥1} (−1)^{j−1} exp(−2 j² λ²).
func kolmogorovQ(lambda float64) float64 {
	if lambda < 0.2 {
		return 1
	}
	var sum, prev float64
	sign := 1.0
	for j := 1; j <= 100; j++ {
		term := sign * 2 * math.Exp(-2*float64(j*j)*lambda*lambda)
		sum += term
		if math.Abs(term) <= 1e-10*math.Abs(prev) || math.Abs(term) <= 1e-16*sum {
			return min(max(sum, 0), 1)
		}
		sign = -sign
		prev = term
	}
	return 1 // no convergence: λ is tiny
}
