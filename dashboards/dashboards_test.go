package dashboards

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meshdrill/meshdrill/internal/selftelemetry"
)

const (
	resultsFile = "drill-results.json"
	meshFile    = "mesh-security.json"
)

func TestList(t *testing.T) {
	assert.Equal(t, []string{resultsFile, meshFile}, List())
}

func TestExport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "provisioning", "dashboards")
	require.NoError(t, Export(dir))
	for _, name := range List() {
		want, err := FS.ReadFile(name)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
}

// dashboard is what Grafana needs to import a dashboard and wire its panels
// to the chosen data source.
type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasource     `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int         `json:"id"`
		Type       string      `json:"type"`
		Title      string      `json:"title"`
		Datasource *datasource `json:"datasource"`
		GridPos    struct{ H, W, X, Y int }
		Targets    []struct {
			RefID      string      `json:"refId"`
			Expr       string      `json:"expr"`
			Datasource *datasource `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func TestDashboardsAreWellFormed(t *testing.T) {
	uids := map[string]bool{}
	for _, name := range List() {
		t.Run(name, func(t *testing.T) {
			b, err := FS.ReadFile(name)
			require.NoError(t, err)
			var d dashboard
			require.NoError(t, json.Unmarshal(b, &d))
			assert.NotEmpty(t, d.Title)
			assert.NotEmpty(t, d.UID)
			assert.LessOrEqual(t, len(d.UID), 40, "Grafana's uid limit")
			assert.False(t, uids[d.UID], "uid %q used twice", d.UID)
			uids[d.UID] = true
			assert.Positive(t, d.SchemaVersion)

			// The data source is a template variable, never a fixed uid.
			require.NotEmpty(t, d.Templating.List)
			ds := d.Templating.List[0]
			assert.Equal(t, "datasource", ds.Name)
			assert.Equal(t, "datasource", ds.Type)
			assert.JSONEq(t, `"prometheus"`, string(ds.Query))
			want := &datasource{Type: "prometheus", UID: "${datasource}"}
			for _, v := range d.Templating.List[1:] {
				assert.Equal(t, want, v.Datasource, "variable %q", v.Name)
			}

			ids := map[int]bool{}
			var cells [][2]int
			for _, p := range d.Panels {
				assert.False(t, ids[p.ID], "panel id %d used twice", p.ID)
				ids[p.ID] = true
				g := p.GridPos
				assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "panel %q: gridPos %+v", p.Title, g)
				for x := g.X; x < g.X+g.W; x++ {
					for y := g.Y; y < g.Y+g.H; y++ {
						assert.False(t, slices.Contains(cells, [2]int{x, y}), "panel %q overlaps another at %d,%d", p.Title, x, y)
						cells = append(cells, [2]int{x, y})
					}
				}
				if p.Type == "text" {
					continue
				}
				assert.Equal(t, want, p.Datasource, "panel %q", p.Title)
				require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
				refs := map[string]bool{}
				for _, tg := range p.Targets {
					assert.Equal(t, want, tg.Datasource, "panel %q %s", p.Title, tg.RefID)
					assert.NotEmpty(t, tg.Expr, "panel %q %s", p.Title, tg.RefID)
					assert.False(t, refs[tg.RefID], "panel %q: refId %q twice", p.Title, tg.RefID)
					refs[tg.RefID] = true
				}
			}
		})
	}
}

func TestQueriesParse(t *testing.T) {
	qs, err := Queries()
	require.NoError(t, err)
	require.NotEmpty(t, qs)
	for _, q := range qs {
		t.Run(q.Dashboard+"/"+q.Panel+"/"+q.RefID, func(t *testing.T) {
			_, err := parser.ParseExpr(Expand(q.Expr))
			assert.NoError(t, err, "%s", q.Expr)
		})
	}
}

// metricNames returns the metric names the dashboard's queries select.
func metricNames(t *testing.T, dashboard string) map[string]bool {
	t.Helper()
	qs, err := Queries()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, q := range qs {
		if q.Dashboard != dashboard {
			continue
		}
		expr, err := parser.ParseExpr(Expand(q.Expr))
		require.NoError(t, err)
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				names[vs.Name] = true
			}
			return nil
		})
	}
	return names
}

// TestResultsDashboardMatchesSelfTelemetry: the results dashboard reads
// exactly the metrics selftelemetry pushes, every one of them.
func TestResultsDashboardMatchesSelfTelemetry(t *testing.T) {
	names := metricNames(t, resultsFile)
	pushed := map[string]bool{}
	for _, n := range selftelemetry.MetricNames() {
		pushed[n] = true
	}
	assert.Equal(t, pushed, names)
}

func TestMeshDashboardCoversSecuritySignals(t *testing.T) {
	names := metricNames(t, meshFile)
	for _, n := range []string{
		"istio_requests_total",
		"istio_request_duration_milliseconds_bucket",
		"envoy_listener_ssl_fail_verify_error",
		"envoy_listener_ssl_fail_verify_no_cert",
		"envoy_listener_ssl_connection_error",
		"envoy_listener_no_filter_chain_match",
	} {
		assert.True(t, names[n], "no panel reads %s", n)
	}

	// Denials: server-side 403s by caller identity.
	qs, err := Queries()
	require.NoError(t, err)
	var denials string
	for _, q := range qs {
		if q.Dashboard == meshFile && q.Panel == "Denials by source principal" {
			denials = q.Expr
		}
	}
	require.NotEmpty(t, denials)
	expr, err := parser.ParseExpr(Expand(denials))
	require.NoError(t, err)
	agg, ok := expr.(*parser.AggregateExpr)
	require.True(t, ok, "denials is an aggregation")
	assert.Equal(t, []string{"source_principal"}, agg.Grouping)
	var matchers []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				matchers = append(matchers, m.String())
			}
		}
		return nil
	})
	assert.Subset(t, matchers, []string{`reporter="destination"`, `response_code="403"`})
}

func TestExpand(t *testing.T) {
	tests := []struct{ in, want string }{
		{`up{job=~"$job"}`, `up{job=~".*"}`},
		{`rate(x{ns=~"${namespace}"}[$__rate_interval])`, `rate(x{ns=~".*"}[5m])`},
		{`rate(x[${__range}])`, `rate(x[5m])`},
		{`sum(x{a=~"${a:regex}"})`, `sum(x{a=~".*"})`},
		{`no variables`, `no variables`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, Expand(tt.in))
		})
	}
}

func TestExportRefusesSymlinksAndSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim.txt")
	require.NoError(t, os.WriteFile(victim, []byte("keep"), 0o600))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, List()[0])))
	assert.ErrorContains(t, Export(dir), "not a regular file")
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "keep", string(b))
}
