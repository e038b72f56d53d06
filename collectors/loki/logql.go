package loki

import (
	"fmt"
	"regexp"
	"strings"
)

// matcherRE is the start of a label matcher inside a stream selector.
var matcherRE = regexp.MustCompile("^\\s*[A-Za-z_][A-Za-z0-9_]*\\s*(=~|!~|!=|=)\\s*[\"`]")

// CheckLogQL gives a query a light syntax check, because Loki's own parser
// cannot be used here: quotes ("…" with escapes, `…` raw) are closed,
// brackets are balanced and nested properly, and there is a stream selector
// with at least one matcher ({app="x"}). Loki remains the judge of the rest.
func CheckLogQL(q string) error {
	if strings.TrimSpace(q) == "" {
		return fmt.Errorf("logql: empty query")
	}
	type open struct {
		c   byte
		pos int
	}
	var stack []open
	selector := false
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; c {
		case '"', '`':
			end := closeQuote(q, i)
			if end < 0 {
				return fmt.Errorf("logql: unterminated string starting at col %d", i+1)
			}
			i = end
		case '(', '[', '{':
			stack = append(stack, open{c, i})
			if c == '{' && matcherRE.MatchString(q[i+1:]) {
				selector = true
			}
		case ')', ']', '}':
			if len(stack) == 0 || stack[len(stack)-1].c != closing[c] {
				return fmt.Errorf("logql: unbalanced %q at col %d", c, i+1)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		o := stack[len(stack)-1]
		return fmt.Errorf("logql: %q at col %d is never closed", o.c, o.pos+1)
	}
	if !selector {
		return fmt.Errorf(`logql: no stream selector with a matcher, such as {app="x"}`)
	}
	return nil
}

// closeQuote returns the index of the quote closing the string opening at i.
func closeQuote(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch {
		case quote == '"' && q[j] == '\\':
			j++ // skip the escaped byte
		case q[j] == quote:
			return j
		}
	}
	return -1
}
