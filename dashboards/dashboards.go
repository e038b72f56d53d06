// Package dashboards ships meshdrill's Grafana dashboards inside the binary:
// "meshdrill drill results", over the metrics meshdrill pushes about its own
// runs (internal/selftelemetry), and "mesh security telemetry", over the Istio
// and Envoy metrics its drills look for. Both take their Prometheus data
// source from a template variable, so they import into any Grafana as is.
package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// FS holds the dashboards as Grafana JSON models, one file each at its root.
//
//go:embed *.json
var FS embed.FS

// List returns the dashboards' file names, sorted.
func List() []string {
	names, err := fs.Glob(FS, "*.json")
	if err != nil { // only for a malformed pattern
		panic(err)
	}
	sort.Strings(names)
	return names
}

// Export writes every dashboard into dir, creating it if needed, for Grafana's
// file provisioning or a manual import. Existing files of the same name are
// replaced.
func Export(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export dashboards: %w", err)
	}
	for _, name := range List() {
		b, err := FS.ReadFile(name)
		if err != nil {
			return fmt.Errorf("export dashboard %q: %w", name, err)
		}
		target := filepath.Join(dir, name)
		// Never write through a symlink or into a FIFO or device.
		if st, err := os.Lstat(target); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("export dashboard %q: %s exists and is not a regular file", name, target)
		}
		if err := os.WriteFile(target, b, 0o644); err != nil {
			return fmt.Errorf("export dashboard %q: %w", name, err)
		}
	}
	return nil
}
