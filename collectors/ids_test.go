package collectors

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeTraceID(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"32 hex", "5b8efff798038103d269b633813fc700", "5b8efff798038103d269b633813fc700", ""},
		{"upper case", "5B8EFFF798038103D269B633813FC700", "5b8efff798038103d269b633813fc700", ""},
		{"64-bit jaeger id", "142ba98fb31b78d6", "0000000000000000142ba98fb31b78d6", ""},
		{"leading zeros dropped", "1", "00000000000000000000000000000001", ""},
		{"odd length", "abc", "00000000000000000000000000000abc", ""},
		{"spaces trimmed", " 00000000000000ff ", "000000000000000000000000000000ff", ""},
		{"base64 std padded (tempo)", "W47/95gDgQPSabYzgT/HAA==", "5b8efff798038103d269b633813fc700", ""},
		{"base64 raw url", "W47_95gDgQPSabYzgT_HAA", "5b8efff798038103d269b633813fc700", ""},
		{"base64 of 8 bytes", "FCupj7MbeNY=", "0000000000000000142ba98fb31b78d6", ""},
		{"empty", "", "", "empty"},
		{"all zeros", "00000000000000000000000000000000", "", "all zeros"},
		{"too long hex", "5b8efff798038103d269b633813fc700aa", "", "want up to 32 hex digits"},
		{"not an id", "trace-please", "", "want up to 32 hex digits or base64 of 16 bytes"},
		{"base64 of wrong size", "AAAwOQ==", "", "base64 of 16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizeTraceID(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestNormalizeSpanID(t *testing.T) {
	got, err := NormalizeSpanID("2")
	require.NoError(t, err)
	assert.Equal(t, "0000000000000002", got)
	got, err = NormalizeSpanID("ZeJUQlDRHGQ=") // 8 bytes base64
	require.NoError(t, err)
	assert.Len(t, got, 16)
	_, err = NormalizeSpanID("5b8efff798038103d269b633813fc700")
	require.ErrorContains(t, err, "span id")
}

func FuzzNormalizeTraceID(f *testing.F) {
	for _, s := range []string{"5b8efff798038103d269b633813fc700", "142ba98fb31b78d6", "1", "W47/95gDgQPSabYzgT/HAA==", "FCupj7MbeNY=", "", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := NormalizeTraceID(in)
		if err != nil {
			return
		}
		if len(got) != 32 || !isHex(got) || got != lower(got) {
			t.Fatalf("NormalizeTraceID(%q) = %q: not 32 lower-case hex digits", in, got)
		}
		again, err := NormalizeTraceID(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, got, again, err)
		}
	})
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
