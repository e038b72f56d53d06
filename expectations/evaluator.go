package expectations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Env is what the evaluator runs against: evidence sources, an injector and
// a clock. Nil sources are allowed; an expectation that needs one is ERROR.
type Env struct {
	Metrics MetricSource
	Logs    LogSource
	Traces  TraceSource
	// Alerts by source name: "prometheus", "alertmanager".
	Alerts   map[string]AlertSource
	Injector Injector
	Clock    Clock
	// ScrapeInterval is the metrics backend's measured scrape interval (0 =
	// unknown). Metric windows shorter than it allows are widened, and rate
	// windows too short for it are refused.
	ScrapeInterval time.Duration
	// Progress, when set, is told what each drill is doing and waiting for.
	Progress func(Progress)
}

// Progress is one step of a drill, for live output.
type Progress struct {
	Drill   string
	Stage   string // "baseline", "inject", "await", "checked" (one expectation decided), "done"
	Message string
	Check   string // await and checked: the expectation, "signal: name"
	Until   time.Time
}

// Result is the verdict on one expectation of a drill, with its evidence.
type Result struct {
	Signal   string
	Name     string
	Verdict  Verdict
	Expected string
	Got      string
	Query    string
	Window   string
	Reason   string // blind spots: why the signal cannot carry the event
	Fix      string // blind spots: what would make it visible
	Raw      string // the raw answer behind Got, on failure
	Note     string // how the window was chosen, when meshdrill changed it
	Polls    int
	Elapsed  time.Duration // from the end of the injection to the evidence
}

// DrillResult is the verdict on one drill.
type DrillResult struct {
	Name      string
	Kind      string
	Target    string
	Verdict   Verdict
	Client    Result
	Results   []Result
	Injection Injection
}

// Report is the outcome of a run.
type Report struct {
	Suite    string
	RunID    string
	Started  time.Time
	Finished time.Time
	Drills   []DrillResult
}

// Verdicts lists the drills' verdicts in order.
func (r Report) Verdicts() []Verdict {
	vs := make([]Verdict, len(r.Drills))
	for i, d := range r.Drills {
		vs[i] = d.Verdict
	}
	return vs
}

// Run evaluates every drill of the suite, concurrently but bounded. The
// suite must have passed Validate.
func Run(ctx context.Context, s Suite, env Env, runID string) Report {
	s = s.WithDefaults()
	if env.Clock == nil {
		env.Clock = WallClock
	}
	rep := Report{Suite: s.Name, RunID: runID, Started: env.Clock.Now()}
	rep.Drills = make([]DrillResult, len(s.Drills))
	// The slots bound the drills sending traffic at once; a drill gives its
	// slot back once its traffic is sent, so waiting for evidence (mostly
	// sleeping between polls) never holds up another drill's injection.
	sem := make(chan struct{}, s.Defaults.Concurrency)
	var wg sync.WaitGroup
	for i, d := range s.Drills {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acquired := false
			select {
			case sem <- struct{}{}:
				acquired = true
			case <-ctx.Done():
			}
			release := func() {
				if acquired {
					acquired = false
					<-sem
				}
			}
			defer release()
			rep.Drills[i] = runDrill(ctx, s, d, &env, runID, release)
		}()
	}
	wg.Wait()
	rep.Finished = env.Clock.Now()
	return rep
}

func (env *Env) progress(p Progress) {
	if env.Progress != nil {
		env.Progress(p)
	}
}

func runDrill(ctx context.Context, s Suite, d Drill, env *Env, runID string, injected func()) DrillResult {
	t := s.Targets[d.Target]
	dr := DrillResult{Name: d.Name, Kind: d.Kind, Target: d.Target}
	checks, blind := planDrill(s, d)

	// 1. baseline: every check snapshots before any traffic.
	env.progress(Progress{Drill: d.Name, Stage: "baseline", Message: "reading baselines"})
	prepErr := make([]error, len(checks))
	for i, c := range checks {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		prepErr[i] = c.prepare(pctx, env)
		cancel()
	}

	// 2. inject.
	env.progress(Progress{Drill: d.Name, Stage: "inject", Message: fmt.Sprintf("sending %d %s requests to %s", d.Count, d.Kind, t.Address)})
	inj, err := env.Injector.Inject(ctx, d, runID)
	injected()
	dr.Injection = inj
	if err != nil {
		dr.Client = Result{Signal: SignalClient, Name: "client outcome", Verdict: Error, Expected: inj.Expected, Got: err.Error()}
		dr.Results = errResults(checks, blind, "no traffic was sent: "+err.Error())
		dr.Verdict = Worst(verdictsOf(dr)...)
		return dr
	}
	doneAt := env.Clock.Now()

	if ctx.Err() != nil {
		// Cancelled while sending: the requests cut short are not a
		// client outcome of the target, and the rest is not the drill.
		dr.Client = classify(d, inj)
		dr.Client.Verdict = Error
		dr.Client.Got = fmt.Sprintf("interrupted after %d of %d requests: %s", len(inj.Requests), d.Count, dr.Client.Got)
		dr.Results = errResults(checks, blind, "interrupted: the drill's traffic was not all sent")
		dr.Verdict = Worst(verdictsOf(dr)...)
		return dr
	}

	// 3. classify. Evidence is looked for only for the requests that
	// produced the drill's event (the expected rejection, or for latency and
	// control the expected success): FAIL means the event happened and its
	// evidence is missing.
	dr.Client = classify(d, inj)
	var events, through []SentRequest
	for _, r := range inj.Requests {
		switch r.Match {
		case Matched:
			events = append(events, r)
		case LetThrough:
			through = append(through, r)
		}
	}
	expectN := len(events)
	if expectN == 0 {
		expectN = d.Count
	}

	// 4. await: every check polls until it holds or its deadline passes.
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		base := Result{Signal: c.signal(), Name: c.title(), Expected: c.expected(expectN), Query: c.query()}
		switch {
		case prepErr[i] != nil:
			base.Verdict, base.Got = Error, "could not take a baseline: "+prepErr[i].Error()
			results[i] = base
			continue
		case len(events) == 0 && len(through) > 0:
			// Nothing was blocked, so there is no rejection to record. One
			// look shows what the signal holds for the let-through requests.
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = lookOnce(ctx, env, c, through, base)
			}()
			continue
		case len(events) == 0:
			base.Verdict, base.Got = Error, "no request produced the event, nothing to look for (see the client row)"
			results[i] = base
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = await(ctx, env, d, c, events, doneAt, base)
		}()
	}
	wg.Wait()
	dr.Results = append(results, blindResults(blind)...)
	dr.Verdict = Worst(verdictsOf(dr)...)
	env.progress(Progress{Drill: d.Name, Stage: "done", Message: dr.Verdict.String()})
	return dr
}

// windowed checks have their own window; fullWindow ones (absences) must
// hold for all of it rather than become true once.
type windowed interface {
	deadline(d Drill) time.Duration
	fullWindow() bool
}

func await(ctx context.Context, env *Env, d Drill, c check, events []SentRequest, injected time.Time, res Result) Result {
	window, full := d.Deadline, false
	if w, ok := c.(windowed); ok {
		window, full = w.deadline(d), w.fullWindow()
	}
	if min := min(minMetricWindow(env.ScrapeInterval), MaxDeadline); c.signal() == SignalMetrics && window < min {
		res.Note = fmt.Sprintf("window widened from %s to %s: a sample needs up to two scrape intervals (%s) to appear", window, min, env.ScrapeInterval)
		window = min
	}
	deadline := injected.Add(window)
	check := c.signal() + ": " + c.title()
	env.progress(Progress{Drill: d.Name, Stage: "await", Message: "waiting for " + check, Check: check, Until: deadline})
	wait := 100 * time.Millisecond
	if f, ok := c.(interface {
		firstPollAfter(time.Duration) time.Duration
	}); ok {
		if d := f.firstPollAfter(env.ScrapeInterval); d > 0 {
			_ = env.Clock.Sleep(ctx, min(d, deadline.Sub(env.Clock.Now())))
		}
	}
	var answered bool
	var last observation
	var lastErr error
	failed := 0 // polls that errored
	for {
		res.Polls++
		// Each poll has its own budget, so one hung backend call cannot eat
		// the whole deadline without being reported.
		pctx, cancel := context.WithTimeout(ctx, pollBudget(deadline.Sub(env.Clock.Now())))
		o := c.poll(pctx, env, events)
		cancel()
		if o.window != "" {
			res.Window = o.window
		}
		if o.err != nil {
			lastErr = o.err
			failed++
		} else {
			answered, last, lastErr = true, o, nil
		}
		if o.err == nil && (o.final || (o.held && !full)) {
			break
		}
		remaining := deadline.Sub(env.Clock.Now())
		if remaining <= 0 || ctx.Err() != nil {
			break
		}
		if err := env.Clock.Sleep(ctx, min(wait, remaining)); err != nil {
			break
		}
		if wait *= 2; wait > pollCap(d.PollInterval, env.ScrapeInterval) {
			wait = pollCap(d.PollInterval, env.ScrapeInterval)
		}
	}
	res.Elapsed = env.Clock.Now().Sub(injected)
	defer func() {
		env.progress(Progress{Drill: d.Name, Stage: "checked", Message: fmt.Sprintf("%s: %s", check, res.Verdict), Check: check})
	}()
	switch {
	case answered && last.held:
		res.Verdict, res.Got = Pass, last.got
	case answered:
		res.Verdict, res.Got, res.Raw = Fail, last.got, last.raw
		if !last.final {
			res.Got += fmt.Sprintf(" by the deadline (%s)", window)
		}
		if lastErr != nil {
			res.Got += fmt.Sprintf("; the last poll failed: %v", lastErr)
		}
	default:
		res.Verdict = Error
		if lastErr == nil {
			lastErr = errors.New("no answer before the deadline")
		}
		res.Got = fmt.Sprintf("could not tell: %v", lastErr)
	}
	// An absence holds only if every look in the whole window succeeded:
	// a backend that stopped answering for part of it could have missed
	// exactly what must not happen.
	if full && res.Verdict == Pass && failed > 0 {
		res.Verdict = Error
		res.Got = fmt.Sprintf("could not tell: %d of %d polls failed (last: %v); the others saw %s", failed, res.Polls, lastErr, last.got)
	}
	interrupted := ctx.Err() != nil && env.Clock.Now().Before(deadline)
	if interrupted && (res.Verdict != Pass || full) && !(answered && last.final) {
		// Stopped before the deadline: nobody waited long enough to say
		// the evidence is missing, or that it stayed absent.
		res.Verdict = Error
		res.Got = fmt.Sprintf("interrupted before the deadline (%s); so far: %s", window, res.Got)
	}
	return res
}

// lookOnce reports what one poll finds for requests that were let through:
// the drill is NOT_ENFORCED, and its telemetry rows say so rather than
// FAIL, since the event they look for never happened.
func lookOnce(ctx context.Context, env *Env, c check, reqs []SentRequest, res Result) Result {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	o := c.poll(pctx, env, reqs)
	res.Polls, res.Verdict, res.Window = 1, NotEnforced, o.window
	res.Expected = "not applicable: the requests were let through, so there was nothing to record"
	if o.err != nil {
		res.Got = fmt.Sprintf("could not look: %v", o.err)
	} else {
		res.Got = fmt.Sprintf("for the %d let-through requests: %s", len(reqs), o.got)
	}
	return res
}

// pollCap is the longest wait between two polls: the suite's poll interval,
// but no more than a quarter of the scrape interval (at least 250ms), so
// evidence from a new scrape is seen soon after it lands.
func pollCap(interval, scrape time.Duration) time.Duration {
	if interval <= 0 {
		interval = time.Second
	}
	if scrape > 0 {
		interval = min(interval, max(scrape/4, 250*time.Millisecond))
	}
	return interval
}

// pollBudget bounds one poll: at least a second, at most ten.
func pollBudget(remaining time.Duration) time.Duration {
	return min(max(remaining, time.Second), 10*time.Second)
}

// classify turns the client's ground truth into the drill's client row:
// NOT_ENFORCED when any request was let through, ERROR when any did something
// else than the expected rejection.
func classify(d Drill, inj Injection) Result {
	r := Result{Signal: SignalClient, Name: "client outcome", Expected: fmt.Sprintf("%d× %s", d.Count, inj.Expected)}
	var matched, through, other int
	counts := map[string]int{}
	var order []string
	for _, q := range inj.Requests {
		switch q.Match {
		case Matched:
			matched++
		case LetThrough:
			through++
		default:
			other++
		}
		if counts[q.Outcome] == 0 {
			order = append(order, q.Outcome)
		}
		counts[q.Outcome]++
	}
	parts := make([]string, len(order))
	for i, o := range order {
		parts[i] = fmt.Sprintf("%d× %s", counts[o], o)
	}
	r.Got = strings.Join(parts, ", ")
	switch {
	case through > 0:
		r.Verdict = NotEnforced
		r.Got = fmt.Sprintf("%d of %d let through: %s", through, len(inj.Requests), r.Got)
	case other > 0 || len(inj.Requests) == 0:
		r.Verdict = Error
		r.Got = fmt.Sprintf("%d of %d unexpected: %s", other, len(inj.Requests), r.Got)
	default:
		r.Verdict = Pass
	}
	return r
}

func blindResults(bs []blindSpot) []Result {
	out := make([]Result, len(bs))
	for i, b := range bs {
		out[i] = Result{Signal: b.sig, Name: b.name, Verdict: BlindSpot, Expected: "-", Got: "cannot be recorded", Reason: b.reason, Fix: b.fix}
	}
	return out
}

func errResults(checks []check, bs []blindSpot, why string) []Result {
	out := make([]Result, 0, len(checks)+len(bs))
	for _, c := range checks {
		out = append(out, Result{Signal: c.signal(), Name: c.title(), Verdict: Error, Query: c.query(), Got: why})
	}
	return append(out, blindResults(bs)...)
}

func verdictsOf(dr DrillResult) []Verdict {
	vs := []Verdict{dr.Client.Verdict}
	for _, r := range dr.Results {
		vs = append(vs, r.Verdict)
	}
	return vs
}

// minMetricWindow is the shortest wait in which a counter that moved right
// after the baseline is sure to be scraped and queryable: two scrape
// intervals plus a second of ingestion lag.
func minMetricWindow(scrape time.Duration) time.Duration {
	if scrape <= 0 {
		return 0
	}
	return 2*scrape + time.Second
}
