package promstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// Version is what /api/v1/status/buildinfo reports: the Prometheus release
// whose PromQL engine the store embeds (module v0.304.2 = Prometheus 3.4.2).
const Version = "3.4.2"

// maxPoints is Prometheus' limit of points per series in a range query.
const maxPoints = 11000

// Error types of the Prometheus API.
const (
	errorBadData  = "bad_data"
	errorExec     = "execution"
	errorCanceled = "canceled"
	errorTimeout  = "timeout"
	errorInternal = "internal"
)

// Prometheus' boundary times for open ranges.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

type apiError struct {
	typ string
	err error
}

type response struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     any              `json:"result"`
}

// Handler serves the subset of the Prometheus HTTP API meshdrill and
// Grafana use, with Prometheus' JSON shapes and error types.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/v1/query", s.wrap(s.query))
	mux.HandleFunc("/api/v1/query_range", s.wrap(s.queryRange))
	mux.HandleFunc("/api/v1/labels", s.wrap(s.labelNames))
	mux.HandleFunc("/api/v1/label/{name}/values", s.wrap(s.labelValues))
	mux.HandleFunc("/api/v1/series", s.wrap(s.seriesAPI))
	mux.HandleFunc("/api/v1/targets", s.wrap(s.targetsAPI))
	mux.HandleFunc("/api/v1/status/buildinfo", s.wrap(s.buildInfo))
	mux.HandleFunc("/api/v1/status/config", s.wrap(func(*http.Request) (any, []string, []string, *apiError) {
		return map[string]string{"yaml": s.configYAML()}, nil, nil, nil
	}))
	mux.HandleFunc("/api/v1/rules", s.wrap(func(*http.Request) (any, []string, []string, *apiError) {
		return s.rulesAPI(), nil, nil, nil
	}))
	mux.HandleFunc("/api/v1/alerts", s.wrap(func(*http.Request) (any, []string, []string, *apiError) {
		return map[string]any{"alerts": s.alertsAPI()}, nil, nil, nil
	}))
	mux.HandleFunc("/api/v1/query_exemplars", s.wrap(func(*http.Request) (any, []string, []string, *apiError) {
		return []any{}, nil, nil, nil
	}))
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Prometheus Server is Ready.\n"))
	})
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("Prometheus Server is Healthy.\n"))
	})
	return mux
}

type apiFunc func(r *http.Request) (data any, warnings, infos []string, aerr *apiError)

func (s *Store) wrap(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, response{Status: "error", ErrorType: errorBadData, Error: fmt.Sprintf("error parsing form values: %v", err)})
			return
		}
		data, warnings, infos, aerr := f(r)
		if aerr != nil {
			writeJSON(w, statusFor(aerr.typ), response{Status: "error", ErrorType: aerr.typ, Error: aerr.err.Error(), Data: data, Warnings: warnings, Infos: infos})
			return
		}
		writeJSON(w, http.StatusOK, response{Status: "success", Data: data, Warnings: warnings, Infos: infos})
	}
}

func statusFor(typ string) int {
	switch typ {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return 499 // Prometheus' "client closed connection"
	case errorTimeout:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

func writeJSON(w http.ResponseWriter, code int, v response) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(response{Status: "error", ErrorType: errorInternal, Error: fmt.Sprintf("error marshaling response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func invalidParam(err error, name string) *apiError {
	return &apiError{errorBadData, fmt.Errorf("invalid parameter %q: %w", name, err)}
}

func (s *Store) query(r *http.Request) (any, []string, []string, *apiError) {
	ts, err := parseTimeParam(r, "time", time.Now())
	if err != nil {
		return nil, nil, nil, invalidParam(err, "time")
	}
	ctx, cancel, aerr := timeoutContext(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	defer cancel()
	qs := r.FormValue("query")
	q, err := s.engine.NewInstantQuery(ctx, s.storage, nil, qs, ts)
	if err != nil {
		return nil, nil, nil, invalidParam(err, "query")
	}
	defer q.Close()
	return runQuery(ctx, q, qs)
}

func (s *Store) queryRange(r *http.Request) (any, []string, []string, *apiError) {
	start, err := parseTime(r.FormValue("start"))
	if err != nil {
		return nil, nil, nil, invalidParam(err, "start")
	}
	end, err := parseTime(r.FormValue("end"))
	if err != nil {
		return nil, nil, nil, invalidParam(err, "end")
	}
	if end.Before(start) {
		return nil, nil, nil, invalidParam(errors.New("end timestamp must not be before start time"), "end")
	}
	step, err := parseDuration(r.FormValue("step"))
	if err != nil {
		return nil, nil, nil, invalidParam(err, "step")
	}
	if step <= 0 {
		return nil, nil, nil, invalidParam(errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"), "step")
	}
	if end.Sub(start)/step > maxPoints {
		return nil, nil, nil, &apiError{errorBadData, errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}
	}
	ctx, cancel, aerr := timeoutContext(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	defer cancel()
	qs := r.FormValue("query")
	q, err := s.engine.NewRangeQuery(ctx, s.storage, nil, qs, start, end, step)
	if err != nil {
		return nil, nil, nil, invalidParam(err, "query")
	}
	defer q.Close()
	return runQuery(ctx, q, qs)
}

func runQuery(ctx context.Context, q promql.Query, qs string) (any, []string, []string, *apiError) {
	res := q.Exec(ctx)
	warnings, infos := res.Warnings.AsStrings(qs, 10, 10)
	if res.Err != nil {
		return nil, warnings, infos, execError(res.Err)
	}
	result := res.Value
	// An empty vector or matrix is "[]" in Prometheus' answer, never null.
	switch v := result.(type) {
	case promql.Vector:
		if v == nil {
			result = promql.Vector{}
		}
	case promql.Matrix:
		if v == nil {
			result = promql.Matrix{}
		}
	}
	return queryData{ResultType: res.Value.Type(), Result: result}, warnings, infos, nil
}

func execError(err error) *apiError {
	var eqc promql.ErrQueryCanceled
	var eqt promql.ErrQueryTimeout
	var es promql.ErrStorage
	switch {
	case errors.As(err, &eqc), errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	case errors.As(err, &eqt):
		return &apiError{errorTimeout, err}
	case errors.As(err, &es):
		return &apiError{errorInternal, err}
	}
	return &apiError{errorExec, err}
}

func timeoutContext(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	to := r.FormValue("timeout")
	if to == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := parseDuration(to)
	if err != nil {
		return nil, nil, invalidParam(err, "timeout")
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

func (s *Store) labelNames(r *http.Request) (any, []string, []string, *apiError) {
	q, ms, aerr := s.rangeQuerier(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	return labelUnion(ms, func(m ...*labels.Matcher) ([]string, error) {
		names, _, err := q.LabelNames(r.Context(), nil, m...)
		return names, err
	})
}

func (s *Store) labelValues(r *http.Request) (any, []string, []string, *apiError) {
	name := r.PathValue("name")
	if !model.LabelName(name).IsValid() {
		return nil, nil, nil, &apiError{errorBadData, fmt.Errorf("invalid label name: %q", name)}
	}
	q, ms, aerr := s.rangeQuerier(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	return labelUnion(ms, func(m ...*labels.Matcher) ([]string, error) {
		vals, _, err := q.LabelValues(r.Context(), name, nil, m...)
		return vals, err
	})
}

// labelUnion answers a label names or values request: the union of what list
// gives for each match[] set (all series when there is none), sorted.
func labelUnion(sets [][]*labels.Matcher, list func(m ...*labels.Matcher) ([]string, error)) (any, []string, []string, *apiError) {
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	seen := map[string]struct{}{}
	for _, m := range sets {
		got, err := list(m...)
		if err != nil {
			return nil, nil, nil, &apiError{errorExec, err}
		}
		for _, v := range got {
			seen[v] = struct{}{}
		}
	}
	return limitSorted(seen, nil), nil, nil, nil
}

func (s *Store) seriesAPI(r *http.Request) (any, []string, []string, *apiError) {
	if len(r.Form["match[]"]) == 0 {
		return nil, nil, nil, &apiError{errorBadData, errors.New("no match[] parameter provided")}
	}
	q, ms, aerr := s.rangeQuerier(r)
	if aerr != nil {
		return nil, nil, nil, aerr
	}
	seen := map[string]bool{}
	out := []labels.Labels{}
	for _, m := range ms {
		set := q.Select(r.Context(), true, nil, m...)
		for set.Next() {
			l := set.At().Labels()
			if k := l.String(); !seen[k] {
				seen[k] = true
				out = append(out, l)
			}
		}
	}
	return out, nil, nil, nil
}

// rangeQuerier parses start, end and match[] as Prometheus' metadata
// endpoints do.
func (s *Store) rangeQuerier(r *http.Request) (storage.Querier, [][]*labels.Matcher, *apiError) {
	start, err := parseTimeParam(r, "start", minTime)
	if err != nil {
		return nil, nil, invalidParam(err, "start")
	}
	end, err := parseTimeParam(r, "end", maxTime)
	if err != nil {
		return nil, nil, invalidParam(err, "end")
	}
	var sets [][]*labels.Matcher
	for _, m := range r.Form["match[]"] {
		ms, err := parser.ParseMetricSelector(m)
		if err != nil {
			return nil, nil, invalidParam(err, "match[]")
		}
		sets = append(sets, ms)
	}
	q, err := s.storage.Querier(start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return nil, nil, &apiError{errorExec, err}
	}
	return q, sets, nil
}

type activeTarget struct {
	DiscoveredLabels   map[string]string `json:"discoveredLabels"`
	Labels             map[string]string `json:"labels"`
	ScrapePool         string            `json:"scrapePool"`
	ScrapeURL          string            `json:"scrapeUrl"`
	GlobalURL          string            `json:"globalUrl"`
	LastError          string            `json:"lastError"`
	LastScrape         time.Time         `json:"lastScrape"`
	LastScrapeDuration float64           `json:"lastScrapeDuration"`
	Health             string            `json:"health"`
	ScrapeInterval     string            `json:"scrapeInterval"`
	ScrapeTimeout      string            `json:"scrapeTimeout"`
}

func (s *Store) targetsAPI(r *http.Request) (any, []string, []string, *apiError) {
	active := []activeTarget{}
	d := formatDuration(s.interval)
	wantActive := r.FormValue("state") == "" || r.FormValue("state") == "any" || r.FormValue("state") == "active"
	if wantActive {
		for _, t := range s.Targets() {
			active = append(active, activeTarget{
				DiscoveredLabels: map[string]string{
					"__address__":         t.Instance,
					"__metrics_path__":    metricsPath(t.URL),
					"__scheme__":          "http",
					"__scrape_interval__": d,
					"__scrape_timeout__":  d,
					"job":                 s.job,
				},
				Labels:             map[string]string{"instance": t.Instance, "job": s.job},
				ScrapePool:         s.job,
				ScrapeURL:          t.URL,
				GlobalURL:          t.URL,
				LastError:          t.LastError,
				LastScrape:         t.LastScrape,
				LastScrapeDuration: t.LastDuration.Seconds(),
				Health:             t.Health,
				ScrapeInterval:     d,
				ScrapeTimeout:      d,
			})
		}
	}
	return map[string]any{
		"activeTargets":       active,
		"droppedTargets":      []any{},
		"droppedTargetCounts": map[string]int{s.job: 0},
	}, nil, nil, nil
}

func (s *Store) buildInfo(*http.Request) (any, []string, []string, *apiError) {
	return map[string]string{
		"version":   Version,
		"revision":  "",
		"branch":    "",
		"buildUser": "meshdrill-lab",
		"buildDate": s.started.UTC().Format("20060102-15:04:05"),
		"goVersion": runtime.Version(),
	}, nil, nil, nil
}

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	return parseTime(v)
}

// parseTime accepts float Unix seconds or RFC 3339, as Prometheus does.
func parseTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(t)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTime.Format(time.RFC3339Nano):
		return minTime, nil
	case maxTime.Format(time.RFC3339Nano):
		return maxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration accepts float seconds or a Prometheus duration ("15s", "1m").
func parseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if ts > float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

func formatDuration(d time.Duration) string { return model.Duration(d).String() }
