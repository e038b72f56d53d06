package expectations

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Duration is a time.Duration written as "15s", "300ms" in suite files.
type Duration time.Duration

var durationType = reflect.TypeOf(Duration(0))

// PosError is one problem in a suite file, at a place a user can jump to.
type PosError struct {
	File   string
	Line   int
	Column int
	Field  string // the field's path, e.g. drills[0].inject.kind
	Msg    string
}

func (e PosError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// LoadError holds every problem found in one pass, sorted by position.
type LoadError struct{ Errs []PosError }

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Errs))
	for i, pe := range e.Errs {
		lines[i] = pe.Error()
	}
	return strings.Join(lines, "\n")
}

// strictDecoder turns a YAML AST into Go values by reflection: every unknown
// key, wrong type and bad scalar is collected with its line and column, and
// the position of every field is kept so later validation can point at it.
type strictDecoder struct {
	file string
	errs []PosError
	pos  map[string]*token.Position
	vars func(string) (string, bool)
	// checkClient validates expect_client texts (see LoadOptions).
	checkClient func(string) error
	// hasExpect: drills (by index) that list expectations in the file,
	// even if some did not convert.
	hasExpect map[int]bool
}

// scalarStruct is a struct that may also be written as a bare scalar,
// which then fills the named field ("- denied" for "- intent: denied").
type scalarStruct interface{ scalarField() string }

func (d *strictDecoder) errorf(p *token.Position, path, format string, a ...any) {
	pe := PosError{File: d.file, Field: path, Msg: fmt.Sprintf(format, a...)}
	if p != nil {
		pe.Line, pe.Column = p.Line, p.Column
	}
	d.errs = append(d.errs, pe)
}

// hasErr reports whether a problem was already recorded at path.
func (d *strictDecoder) hasErr(path string) bool {
	for _, e := range d.errs {
		if e.Field == path {
			return true
		}
	}
	return false
}

// at returns the recorded position of a field path (nil when unknown).
func (d *strictDecoder) at(path string) *token.Position {
	for p := path; p != ""; {
		if pos, ok := d.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return nil
}

func (d *strictDecoder) fieldErr(path, format string, a ...any) {
	d.errorf(d.at(path), path, format, a...)
}

func decodeFile(file string, data []byte, v any, vars func(string) (string, bool)) (*strictDecoder, error) {
	d := &strictDecoder{file: file, pos: map[string]*token.Position{}, vars: vars}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if len(data) > MaxSuiteSize {
		d.errorf(nil, "", "%d bytes, more than the %d a suite may have", len(data), MaxSuiteSize)
		return d, &LoadError{Errs: d.errs}
	}
	if line, depth := flowDepth(data); depth > MaxSuiteDepth {
		d.errorf(&token.Position{Line: line, Column: 1}, "", "nested more than %d levels deep", MaxSuiteDepth)
		return d, &LoadError{Errs: d.errs}
	}
	if !utf8.Valid(data) {
		d.errorf(nil, "", "not valid UTF-8")
		return d, &LoadError{Errs: d.errs}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			d.errorf(ye.GetToken().Position, "", "%s", ye.GetMessage())
		} else {
			d.errorf(nil, "", "%v", err)
		}
		return d, &LoadError{Errs: d.errs}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		d.errorf(nil, "", "the suite is empty")
		return d, &LoadError{Errs: d.errs}
	}
	if len(f.Docs) > 1 {
		d.errorf(pos(f.Docs[1].Body), "", "expected one YAML document, found %d", len(f.Docs))
		return d, &LoadError{Errs: d.errs}
	}
	d.decode(f.Docs[0].Body, reflect.ValueOf(v).Elem(), "")
	return d, nil
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		default:
			return n
		}
	}
}

func pos(n ast.Node) *token.Position {
	if n == nil || n.GetToken() == nil {
		return nil
	}
	return n.GetToken().Position
}

func pairs(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *strictDecoder) decode(n ast.Node, v reflect.Value, path string) {
	n = unwrap(n)
	if p := pos(n); p != nil {
		d.pos[path] = p
	}
	if _, ok := n.(*ast.AliasNode); ok {
		d.errorf(pos(n), path, "aliases are not supported in suite files")
		return
	}
	if _, ok := n.(*ast.NullNode); ok {
		return // leave the zero value: the default applies
	}
	if v.Type() == durationType {
		s, ok := d.scalar(n, path, "a duration such as 15s")
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(pos(n), path, "invalid duration %q (use a number and a unit: 300ms, 15s, 2m)", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		if ss, isSS := v.Addr().Interface().(scalarStruct); isSS {
			if _, scalar := d.scalarNode(n); scalar {
				idx := structFields(v.Type())[ss.scalarField()]
				d.decode(n, v.Field(idx), join(path, ss.scalarField()))
				return
			}
		}
		ps, ok := pairs(n)
		if !ok {
			d.errorf(pos(n), path, "expected a mapping, got %s", kindOf(n))
			return
		}
		fields := structFields(v.Type())
		seen := map[string]bool{}
		for _, p := range ps {
			key := p.Key.String()
			if k, ok := p.Key.(*ast.StringNode); ok {
				key = k.Value
			}
			kp := join(path, key)
			idx, ok := fields[key]
			if !ok {
				d.errorf(pos(p.Key), kp, "unknown field %q%s", key, suggest(key, fields))
				continue
			}
			if seen[key] {
				d.errorf(pos(p.Key), kp, "duplicate field %q", key)
				continue
			}
			seen[key] = true
			d.pos[kp] = pos(p.Key)
			d.decode(p.Value, v.Field(idx), kp)
		}
	case reflect.Map:
		ps, ok := pairs(n)
		if !ok {
			d.errorf(pos(n), path, "expected a mapping, got %s", kindOf(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, p := range ps {
			key := p.Key.String()
			if k, ok := p.Key.(*ast.StringNode); ok {
				key = k.Value
			}
			kp := join(path, key)
			if v.MapIndex(reflect.ValueOf(key)).IsValid() {
				d.errorf(pos(p.Key), kp, "duplicate key %q", key)
				continue
			}
			d.pos[kp] = pos(p.Key)
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(p.Value, ev, kp)
			v.SetMapIndex(reflect.ValueOf(key), ev)
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errorf(pos(n), path, "expected a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if s, ok := d.scalar(n, path, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		s, ok := d.scalar(n, path, "an integer")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			d.errorf(pos(n), path, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errorf(pos(n), path, "expected a finite number, got %q", s)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := d.scalar(n, path, "true or false")
		if !ok {
			return
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.errorf(pos(n), path, "expected true or false, got %q", s)
			return
		}
		v.SetBool(b)
	default:
		d.errorf(pos(n), path, "internal: cannot decode into %s", v.Type())
	}
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

func (d *strictDecoder) scalarNode(n ast.Node) (ast.Node, bool) {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode:
		return n, true
	}
	return n, false
}

// scalar returns a scalar's text with ${VAR} references expanded.
func (d *strictDecoder) scalar(n ast.Node, path, want string) (string, bool) {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.LiteralNode, *ast.InfinityNode, *ast.NanNode:
	default:
		d.errorf(pos(n), path, "expected %s, got %s", want, kindOf(n))
		return "", false
	}
	s := n.GetToken().Value
	if lit, ok := n.(*ast.LiteralNode); ok {
		s = lit.Value.Value
	}
	ok := true
	s = varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		if d.vars != nil {
			if val, found := d.vars(name); found {
				return val
			}
		}
		d.errorf(pos(n), path, "variable ${%s} is not set", name)
		ok = false
		return ref
	})
	return s, ok
}

func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	}
	return strings.ToLower(n.Type().String())
}

func structFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			out[tag] = i
		}
	}
	return out
}

// suggest names the closest known field, for typos.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if dd := editDistance(key, f); dd < bestD {
			best, bestD = f, dd
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known: %s)", strings.Join(names, ", "))
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// envLookup is the default source of ${VAR} values.
var envLookup = os.LookupEnv

// flowDepth is the deepest nesting of flow collections ([ and {, outside
// quotes) and of block indentation, with the line where it is reached: a
// cheap bound checked before the YAML parser, whose cost grows quickly with
// depth.
func flowDepth(data []byte) (line, depth int) {
	cur, ln := 0, 1
	var quote byte
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '\n':
			ln++
			if quote == '\'' || quote == '"' {
				continue
			}
			// block nesting: leading spaces of the next line, two per level
			j := i + 1
			for j < len(data) && data[j] == ' ' {
				j++
			}
			if lvl := (j - i - 1) / 2; lvl > depth && cur == 0 {
				line, depth = ln, lvl
			}
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case (c == '"' || c == '\'') && (i == 0 || bytes.IndexByte([]byte(" \t:[{,-\n"), data[i-1]) >= 0):
			quote = c
		case c == '#':
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i--
		case c == '[' || c == '{':
			cur++
			if cur > depth {
				line, depth = ln, cur
			}
		case c == ']' || c == '}':
			if cur > 0 {
				cur--
			}
		}
	}
	return line, depth
}
