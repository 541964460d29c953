//go:build !race

package sim

// raceScale divides the executions of the statistical tests under the
// race detector (see race_test.go).
const raceScale = 1
