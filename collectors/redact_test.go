package collectors

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "http://127.0.0.1:9090/api/v1/query", "http://127.0.0.1:9090/api/v1/query"},
		{"userinfo", "https://admin:s3cret@prom.example:9090/x", "https://prom.example:9090/x"},
		{"user only", "https://admin@prom.example/x", "https://prom.example/x"},
		{"token param", "http://h/api?query=up&access_token=abc123", "http://h/api?query=up&access_token=REDACTED"},
		{"order kept", "http://h/?b=1&api_key=k&a=2", "http://h/?b=1&api_key=REDACTED&a=2"},
		{"aws presigned", "http://h/o?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA", "http://h/o?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"},
		{"sig", "http://h/o?sig=abc&sign=1", "http://h/o?sig=REDACTED&sign=1"},
		{"case", "http://h/?Password=x", "http://h/?Password=REDACTED"},
		{"escaped name", "http://h/?pass%77ord=x", "http://h/?password=REDACTED"},
		{"no value", "http://h/?token", "http://h/?token"},
		{"unparseable keeps no secrets", "http://u:p@h:port:bad/?token=x", "http://h:port:bad/"},
		{"unparseable control char", "http://user:pw@h/\x7f?token=x", "http://h/\x7f"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Redact(tt.in))
		})
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("https://admin:s3cret@prom.example:9090/x?token=s3cret")
	f.Add("http://u:s3cret@h:port:bad/?token=s3cret")
	f.Fuzz(func(t *testing.T, raw string) {
		// Whatever the input, a password in the userinfo never survives.
		in := "http://user:s3cret@" + raw
		if out := Redact(in); containsSecret(out) {
			t.Fatalf("Redact(%q) = %q still holds the password", in, out)
		}
	})
}

func containsSecret(s string) bool {
	for i := 0; i+len("user:s3cret@") <= len(s); i++ {
		if s[i:i+len("user:s3cret@")] == "user:s3cret@" {
			return true
		}
	}
	return false
}
