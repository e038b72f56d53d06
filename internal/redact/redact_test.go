package redact

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSet(t *testing.T) {
	var s Set
	s.Add("s3cr3tTOKENvalue42")
	s.Add("pw") // too short to mask
	s.Add("hunter2pass")
	assert.Equal(t, `401 from http://x: {"error":"invalid credentials [REDACTED] for user"}`,
		s.String(`401 from http://x: {"error":"invalid credentials s3cr3tTOKENvalue42 for user"}`))
	assert.Equal(t, "pw stays", s.String("pw stays"))
	var buf bytes.Buffer
	fmt.Fprintf(s.Writer(&buf), "basic %s and %s\n", "hunter2pass", "s3cr3tTOKENvalue42")
	assert.Equal(t, "basic [REDACTED] and [REDACTED]\n", buf.String())
	var nilSet *Set
	assert.Equal(t, "x", nilSet.String("x"))
}

func TestAddURL(t *testing.T) {
	var s Set
	s.AddURL("http://user:pa55word@127.0.0.1:3100/loki/api/v1/push?token=qs-SECRET-1&x=1")
	assert.Equal(t, `Post "http://user:[REDACTED]@127.0.0.1:3100/loki/api/v1/push?token=[REDACTED]&x=1"`,
		s.String(`Post "http://user:pa55word@127.0.0.1:3100/loki/api/v1/push?token=qs-SECRET-1&x=1"`))
}
