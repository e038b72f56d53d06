package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Query is one PromQL expression of a dashboard, as Grafana would send it
// before variable expansion.
type Query struct {
	Dashboard string // file name, as in List
	Panel     string // panel title; "variable NAME" for a template variable's query
	RefID     string
	Expr      string
}

// model is the part of a Grafana dashboard JSON model the queries live in.
type model struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// labelValuesRE matches Grafana's label_values(SELECTOR, LABEL) variable query.
var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// Queries returns every PromQL expression of every dashboard: panel targets,
// and the selector inside each label_values() variable query.
func Queries() ([]Query, error) {
	var out []Query
	for _, name := range List() {
		b, err := FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read dashboard %q: %w", name, err)
		}
		var m model
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("dashboard %q: %w", name, err)
		}
		for _, p := range m.Panels {
			for _, t := range p.Targets {
				out = append(out, Query{Dashboard: name, Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
		for _, v := range m.Templating.List {
			if v.Type != "query" {
				continue
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				// Older models store the query as a plain string.
				if err := json.Unmarshal(v.Query, &q.Query); err != nil {
					return nil, fmt.Errorf("dashboard %q: variable %q: %w", name, v.Name, err)
				}
			}
			sel := q.Query
			if mm := labelValuesRE.FindStringSubmatch(q.Query); mm != nil {
				sel = mm[1]
			}
			out = append(out, Query{Dashboard: name, Panel: "variable " + v.Name, Expr: sel})
		}
	}
	return out, nil
}

// grafanaVarRE matches $name, ${name} and ${name:format}.
var grafanaVarRE = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-z]+)?\}|\$([a-zA-Z0-9_]+)`)

// Expand replaces Grafana variables in expr as Grafana would with every
// variable set to All: interval variables ($__rate_interval, $__interval,
// $__range) become 5m, the others the regex ".*". The result is plain PromQL,
// for validating the dashboards or running their queries elsewhere.
func Expand(expr string) string {
	return grafanaVarRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVarRE.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return ".*"
	})
}
