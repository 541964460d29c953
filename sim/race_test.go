//go:build race

package sim

// raceScale divides the executions of the statistical tests under the
// race detector, which runs them ten times slower; their intervals widen
// accordingly.
const raceScale = 4
