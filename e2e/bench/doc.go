// Package bench measures a whole suite against the lab: twenty drills of
// mixed kinds (suite20.yaml) run by the evaluator at the suite's default
// concurrency, against the slowest of them alone. Running drills at once
// should cost little more than the slowest one; scripts/bench-suite.sh
// prints the ratio. The package has only tests and benchmarks.
package bench
