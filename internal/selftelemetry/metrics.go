package selftelemetry

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/meshdrill/meshdrill/expectations"
)

// The metrics PushMetrics pushes. They are gauges describing the last run:
// a push replaces the previous run's metrics of the same job and suite, so a
// verdict that went away does not linger.
const (
	// MetricDrillVerdict is 1 for a drill's verdict: {drill, kind, target, verdict}.
	MetricDrillVerdict = "meshdrill_drill_verdict"
	// MetricExpectationVerdict is 1 for an expectation's verdict, the client
	// row included: {drill, signal, expectation, verdict}.
	MetricExpectationVerdict = "meshdrill_expectation_verdict"
	// MetricEvidenceSeconds is, for each passing expectation, the time from the
	// end of the injection until its evidence was found: {drill, signal, expectation}.
	MetricEvidenceSeconds = "meshdrill_evidence_seconds"
	// MetricInjectedRequests is how many requests a drill sent: {drill}.
	MetricInjectedRequests = "meshdrill_injected_requests"
	// MetricRunTimestamp is when the run finished, in Unix seconds.
	MetricRunTimestamp = "meshdrill_run_timestamp_seconds"
	// MetricRunDuration is how long the run took.
	MetricRunDuration = "meshdrill_run_duration_seconds"
)

// MetricNames lists every metric PushMetrics pushes.
func MetricNames() []string {
	return []string{MetricDrillVerdict, MetricExpectationVerdict, MetricEvidenceSeconds,
		MetricInjectedRequests, MetricRunTimestamp, MetricRunDuration}
}

// GroupingSuite is the Pushgateway grouping label that holds the suite name
// (next to job), so runs of different suites under one job do not replace
// each other's metrics.
const GroupingSuite = "suite"

// Gatherer builds the registry PushMetrics pushes, for callers that expose
// the metrics some other way.
func Gatherer(rep expectations.Report) prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	drill := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricDrillVerdict,
		Help: "1 for the verdict of each drill of the last meshdrill run."}, []string{"drill", "kind", "target", "verdict"})
	exp := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricExpectationVerdict,
		Help: "1 for the verdict of each expectation (client outcome included) of the last meshdrill run."}, []string{"drill", "signal", "expectation", "verdict"})
	evidence := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricEvidenceSeconds,
		Help: "Seconds from the end of the injection until the evidence was found, for passing expectations."}, []string{"drill", "signal", "expectation"})
	injected := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricInjectedRequests,
		Help: "Requests each drill of the last meshdrill run sent."}, []string{"drill"})
	ts := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricRunTimestamp,
		Help: "When the last meshdrill run finished, in Unix seconds."})
	dur := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricRunDuration,
		Help: "How long the last meshdrill run took, in seconds."})
	reg.MustRegister(drill, exp, evidence, injected, ts, dur)

	for _, d := range rep.Drills {
		drill.WithLabelValues(d.Name, d.Kind, d.Target, d.Verdict.String()).Set(1)
		injected.WithLabelValues(d.Name).Set(float64(len(d.Injection.Requests)))
		for _, r := range append([]expectations.Result{d.Client}, d.Results...) {
			exp.WithLabelValues(d.Name, r.Signal, r.Name, r.Verdict.String()).Set(1)
			if r.Verdict == expectations.Pass && r.Elapsed > 0 {
				evidence.WithLabelValues(d.Name, r.Signal, r.Name).Set(r.Elapsed.Seconds())
			}
		}
	}
	if !rep.Finished.IsZero() {
		ts.Set(float64(rep.Finished.UnixNano()) / 1e9)
	}
	if !rep.Started.IsZero() && !rep.Finished.IsZero() {
		dur.Set(rep.Finished.Sub(rep.Started).Seconds())
	}
	return reg
}

// PushMetrics pushes the run's verdicts to a Pushgateway as gauges (see the
// Metric* constants), grouped by job and suite. It replaces (HTTP PUT) what
// the previous run of the same job and suite pushed. Scrape the Pushgateway
// with honor_labels: true so the job label survives.
func PushMetrics(ctx context.Context, pushgatewayURL, job string, rep expectations.Report) error {
	const what = "push metrics to the pushgateway"
	ep, err := parseEndpoint(what, pushgatewayURL)
	if err != nil {
		return err
	}
	if job == "" {
		return fmt.Errorf("%s: empty job name", what)
	}
	ctx, cancel := budget(ctx, what)
	defer cancel()
	p := push.New(ep.url.String(), job).Gatherer(Gatherer(rep)).Client(http.DefaultClient)
	if rep.Suite != "" {
		p = p.Grouping(GroupingSuite, rep.Suite)
	}
	if ep.auth {
		p = p.BasicAuth(ep.user, ep.pass)
	}
	if err := p.PushContext(ctx); err != nil {
		return callError(ctx, fmt.Sprintf("%s %s", what, ep), err)
	}
	return nil
}
