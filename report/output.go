package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/meshdrill/meshdrill/expectations"
)

// Stdout is the OutputSpec path that means "write to standard output".
const Stdout = "-"

// renderers are the machine-readable formats --output accepts. The console
// format is not here: it is what a run prints anyway.
var renderers = map[string]func(io.Writer, expectations.Report) error{
	"json":     JSON,
	"junit":    JUnit,
	"markdown": Markdown,
}

// Formats lists the formats ParseOutputSpec accepts, sorted.
func Formats() []string {
	out := make([]string, 0, len(renderers))
	for f := range renderers {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// OutputSpec is one --output flag: a format and where to write it.
type OutputSpec struct {
	Format string // json, junit or markdown
	Path   string // a file path, or "-" for standard output
}

func (o OutputSpec) String() string { return o.Format + "=" + o.Path }

// ParseOutputSpec parses FORMAT=PATH, as in --output json=report.json or
// --output markdown=- ("-" is standard output). A bare FORMAT means
// standard output too.
func ParseOutputSpec(s string) (OutputSpec, error) {
	format, path, hasPath := strings.Cut(s, "=")
	format = strings.TrimSpace(format)
	if _, ok := renderers[format]; !ok {
		if format == "" {
			return OutputSpec{}, fmt.Errorf("output %q: missing format: want FORMAT=PATH with FORMAT one of %s", s, strings.Join(Formats(), ", "))
		}
		return OutputSpec{}, fmt.Errorf("output %q: unknown format %q: want one of %s", s, format, strings.Join(Formats(), ", "))
	}
	if !hasPath {
		path = Stdout
	}
	if path == "" {
		return OutputSpec{}, fmt.Errorf("output %q: empty path: give a file, or %q for standard output", s, Stdout)
	}
	return OutputSpec{Format: format, Path: path}, nil
}

// WriteOutputs renders the report once per spec, "-" going to os.Stdout. It
// is WriteOutputsTo with the process's standard output.
func WriteOutputs(specs []OutputSpec, rep expectations.Report) error {
	return WriteOutputsTo(os.Stdout, specs, rep)
}

// WriteOutputsTo renders the report once per spec, writing "-" to stdout and
// each file atomically: the report goes to a temporary file in the same
// directory, which is then renamed over the target, so an interrupted run
// never leaves half a report. Specs are checked before anything is written:
// two specs naming the same file, or more than one writing to stdout, are an
// error. Every spec is attempted; the errors are joined.
func WriteOutputsTo(stdout io.Writer, specs []OutputSpec, rep expectations.Report) error {
	if err := checkSpecs(specs); err != nil {
		return err
	}
	var errs []error
	for _, o := range specs {
		var buf bytes.Buffer
		if err := renderers[o.Format](&buf, rep); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o, err))
			continue
		}
		if o.Path == Stdout {
			if _, err := stdout.Write(buf.Bytes()); err != nil {
				errs = append(errs, fmt.Errorf("output %s: %w", o, err))
			}
			continue
		}
		if err := writeFileAtomic(o.Path, buf.Bytes()); err != nil {
			errs = append(errs, fmt.Errorf("output %s: %w", o, err))
		}
	}
	return errors.Join(errs...)
}

// CheckOutputs refuses, before any run, outputs that could not be written:
// an unknown format, two outputs to one place, more than one to stdout, a
// folder that does not exist or a path that is a folder.
func CheckOutputs(specs []OutputSpec) error {
	if err := checkSpecs(specs); err != nil {
		return err
	}
	for _, o := range specs {
		if o.Path == Stdout {
			continue
		}
		// Writing replaces the file (temp file + rename): never replace a
		// device, a FIFO or a symlink, which would destroy what is there.
		if st, err := os.Lstat(o.Path); err == nil {
			switch {
			case st.IsDir():
				return fmt.Errorf("output %s: %s is a folder", o, o.Path)
			case st.Mode()&os.ModeSymlink != 0:
				return fmt.Errorf("output %s: %s is a symlink; give the file it points to", o, o.Path)
			case !st.Mode().IsRegular():
				return fmt.Errorf("output %s: %s is not a regular file", o, o.Path)
			}
		}
		if st, err := os.Stat(filepath.Dir(o.Path)); err != nil || !st.IsDir() {
			return fmt.Errorf("output %s: the folder %s does not exist", o, filepath.Dir(o.Path))
		}
	}
	return nil
}

// checkSpecs refuses unknown formats and two outputs to one place.
func checkSpecs(specs []OutputSpec) error {
	seen := map[string]OutputSpec{}
	for _, o := range specs {
		if _, ok := renderers[o.Format]; !ok {
			return fmt.Errorf("output %s: unknown format %q: want one of %s", o, o.Format, strings.Join(Formats(), ", "))
		}
		key := o.Path
		if key != Stdout {
			if abs, err := filepath.Abs(o.Path); err == nil {
				key = abs
			}
			// A folder reached through a symlink is the same folder.
			if dir, err := filepath.EvalSymlinks(filepath.Dir(key)); err == nil {
				key = filepath.Join(dir, filepath.Base(key))
			}
		}
		if prev, ok := seen[key]; ok {
			return fmt.Errorf("outputs %s and %s write to the same place", prev, o)
		}
		seen[key] = o
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory (a rename is atomic only within one file system). The file
// ends up 0644, not CreateTemp's 0600: a report is meant to be read by CI.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	// Sync before rename, or a crash can leave the new name on an empty file.
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return nil
}
