package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/meshdrill/meshdrill/expectations"
)

// progress shows, on stderr, what each drill is doing and what it waits for
// until when: live lines on a terminal, one line per step otherwise.
type progress struct {
	handle func(expectations.Progress)
	wait   func()
}

func newProgress(ctx context.Context, g *globals, drills []string) progress {
	if g.quiet {
		return progress{handle: func(expectations.Progress) {}, wait: func() {}}
	}
	if f, ok := g.rawStderr.(*os.File); ok && isTerminal(f) {
		return liveProgress(ctx, g.progressOut, drills)
	}
	return progress{handle: progressPrinter(g.stderr), wait: func() {}}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// drillState is what one drill's live line says.
type drillState struct {
	mu      sync.Mutex
	msg     string
	pending []string // expectations still waiting for evidence
	until   string
}

func (s *drillState) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		return fmt.Sprintf("waiting for %s (deadline %s)", strings.Join(s.pending, "; "), s.until)
	}
	return s.msg
}

func liveProgress(ctx context.Context, w io.Writer, drills []string) progress {
	p := mpb.NewWithContext(ctx, mpb.WithOutput(w), mpb.WithWidth(1))
	bars := map[string]*mpb.Bar{}
	states := map[string]*drillState{}
	for _, name := range drills {
		st := &drillState{msg: "queued"}
		states[name] = st
		bars[name] = p.New(1, mpb.SpinnerStyle(),
			mpb.PrependDecorators(decor.Name(name, decor.WC{W: 22, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return st.text() })),
			mpb.BarFillerClearOnComplete(),
		)
	}
	handle := func(ev expectations.Progress) {
		st, ok := states[ev.Drill]
		if !ok {
			return
		}
		st.mu.Lock()
		switch ev.Stage {
		case "baseline", "inject":
			st.msg = ev.Message
		case "await":
			st.pending = append(st.pending, ev.Check)
			st.until = ev.Until.Format("15:04:05")
		case "checked":
			st.pending = slices.DeleteFunc(st.pending, func(c string) bool { return c == ev.Check })
		case "done":
			st.msg, st.pending = ev.Message, nil
		}
		st.mu.Unlock()
		if ev.Stage == "done" {
			bars[ev.Drill].SetCurrent(1)
		}
	}
	wait := func() {
		for _, b := range bars {
			if !b.Completed() {
				b.Abort(false)
			}
		}
		p.Wait()
	}
	return progress{handle: handle, wait: wait}
}

func drillNames(s expectations.Suite) []string {
	names := make([]string, len(s.Drills))
	for i, d := range s.Drills {
		names[i] = d.Name
	}
	return names
}
