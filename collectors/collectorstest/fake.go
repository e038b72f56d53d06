package collectorstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Mock is one expected request and the answer to it. A request matches when
// method and path are equal and every value in Form equals the request's form
// value (query string and urlencoded body). A mock may match many times; it
// must match at least once.
type Mock struct {
	Method string // "" = any
	Path   string
	Form   url.Values
	Status int // 0 = 200
	Header http.Header
	Body   []byte
	// Handler, when set, answers instead of Status/Header/Body.
	Handler http.HandlerFunc
}

// Fake is a loopback HTTP backend that answers with its mocks and fails the
// test on a request no mock matches and, at cleanup, on any unused mock.
type Fake struct {
	t     testing.TB
	srv   *httptest.Server
	mu    sync.Mutex
	mocks []*mock
}

type mock struct {
	Mock
	used int
}

// NewFake starts a Fake on a free loopback port; it stops at test cleanup.
func NewFake(t testing.TB, mocks ...Mock) *Fake {
	t.Helper()
	f := &Fake{t: t}
	for _, m := range mocks {
		f.Add(m)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, m := range f.mocks {
			if m.used == 0 {
				t.Errorf("fake backend: mock never used: %s %s %v", m.Method, m.Path, m.Form)
			}
		}
	})
	return f
}

// Add registers another mock; earlier mocks win when several match.
func (f *Fake) Add(m Mock) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mocks = append(f.mocks, &mock{Mock: m})
	return f
}

// URL is the base URL of the fake.
func (f *Fake) URL() string { return f.srv.URL }

// Requests returns how many times each mock matched, in registration order.
func (f *Fake) Requests() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(f.mocks))
	for i, m := range f.mocks {
		out[i] = m.used
	}
	return out
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake backend: bad form in %s %s: %v", r.Method, r.URL, err)
	}
	m := f.match(r)
	if m == nil {
		f.t.Errorf("fake backend: unexpected request %s %s form=%v", r.Method, r.URL.Path, r.Form)
		http.Error(w, "no mock matches this request", http.StatusNotImplemented)
		return
	}
	if m.Handler != nil {
		m.Handler(w, r)
		return
	}
	for k, vs := range m.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := m.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(m.Body)
}

func (f *Fake) match(r *http.Request) *mock {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.mocks {
		if m.Method != "" && !strings.EqualFold(m.Method, r.Method) {
			continue
		}
		if m.Path != r.URL.Path || !formMatches(m.Form, r.Form) {
			continue
		}
		m.used++
		return m
	}
	return nil
}

func formMatches(want, got url.Values) bool {
	for k, vs := range want {
		if fmt.Sprint(vs) != fmt.Sprint(got[k]) {
			return false
		}
	}
	return true
}
