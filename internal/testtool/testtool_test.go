package testtool

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// outcome records how a helper ended a test, without ending this one. It
// has the methods the helpers call; any other would panic.
type outcome struct {
	testing.TB
	fatal, skip string
}

func (o *outcome) Helper()                      {}
func (o *outcome) Fatal(args ...any)            { o.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (o *outcome) Fatalf(f string, args ...any) { o.fatal = fmt.Sprintf(f, args...); runtime.Goexit() }
func (o *outcome) Skip(args ...any)             { o.skip = fmt.Sprint(args...); runtime.Goexit() }

// run calls f with an outcome in its own goroutine, as the testing package
// runs a test, and returns how it ended.
func run(f func(testing.TB)) *outcome {
	o := &outcome{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(o)
	}()
	<-done
	return o
}

func TestMissing(t *testing.T) {
	for _, tt := range []struct {
		ci         string
		fail, skip bool
	}{
		{"true", true, false},
		{"", false, true},
		{"false", false, true},
	} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			o := run(func(tb testing.TB) { Need(tb, "roamgate-no-such-tool", "roamgate-pkg") })
			if (o.fatal != "") != tt.fail || (o.skip != "") != tt.skip {
				t.Fatalf("fatal %q, skip %q; want fail %v, skip %v", o.fatal, o.skip, tt.fail, tt.skip)
			}
			if msg := o.fatal + o.skip; !strings.Contains(msg, "roamgate-no-such-tool") || !strings.Contains(msg, "roamgate-pkg") {
				t.Errorf("message %q names neither the tool nor its package", msg)
			}
		})
	}
	t.Setenv("CI", "true")
	if o := run(func(tb testing.TB) { Need(tb, "go", "golang") }); o.fatal != "" || o.skip != "" {
		t.Errorf("a present tool: fatal %q, skip %q", o.fatal, o.skip)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, 5*time.Second, "the third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
	start := time.Now()
	o := run(func(tb testing.TB) { Eventually(tb, 50*time.Millisecond, "never", func() bool { return false }) })
	if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want 50ms", took)
	}
	if !strings.Contains(o.fatal, "never") {
		t.Errorf("failure %q does not say what was awaited", o.fatal)
	}
	if Poll(20*time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported a false condition as met")
	}
}

func TestLogBuffer(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "%d\n", i)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 800 || b.Len() != 1600 {
		t.Errorf("%d lines, %d bytes; want 800, 1600", got, b.Len())
	}
}

func TestCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"result", "qtype"})
	reg.MustRegister(c)
	c.WithLabelValues("ok", "A").Add(2)
	c.WithLabelValues("ok", "AAAA").Add(3)
	c.WithLabelValues("refused", "A").Add(5)
	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{nil, 10},
		{[]string{"result", "ok"}, 5},
		{[]string{"result", "ok", "qtype", "A"}, 2},
		{[]string{"qtype", "A"}, 7},
	} {
		if got := Counter(t, reg, "x_total", tt.labels...); got != tt.want {
			t.Errorf("Counter(%v) = %v, want %v", tt.labels, got, tt.want)
		}
	}
	for _, labels := range [][]string{{"result", "nodata"}, {"reslut", "ok"}, {"result"}} {
		if o := run(func(tb testing.TB) { Counter(tb, reg, "x_total", labels...) }); o.fatal == "" {
			t.Errorf("Counter(%v) did not fail", labels)
		}
	}
	if o := run(func(tb testing.TB) { Counter(tb, reg, "y_total") }); o.fatal == "" {
		t.Error("Counter of an unknown name did not fail")
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	c := NewClock(start)
	c.Add(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Errorf("after Add: %v", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("after Set: %v", got)
	}
}

// TestProcessCPUCountsWork: work on the CPU shows in ProcessCPU, and it
// never goes back.
func TestProcessCPUCountsWork(t *testing.T) {
	start := ProcessCPU(t)
	deadline := time.Now().Add(5 * time.Second)
	x := uint64(1)
	for ProcessCPU(t)-start < 20*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("5 s of spinning added %v of CPU time", ProcessCPU(t)-start)
		}
		for range 100_000 {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	if x == 0 {
		t.Log(x) // keep the loop
	}
	if now := ProcessCPU(t); now < start {
		t.Fatalf("ProcessCPU went back from %v to %v", start, now)
	}
}

// TestProcessWrittenCountsWrites: bytes written to a file show in
// ProcessWritten, at least as many as were written.
func TestProcessWrittenCountsWrites(t *testing.T) {
	start, ok := ProcessWritten(t)
	if !ok {
		t.Skip("this kernel does not count the bytes a process writes (/proc/self/io)")
	}
	const n = 1 << 20
	if err := os.WriteFile(filepath.Join(t.TempDir(), "written"), make([]byte, n), 0o600); err != nil {
		t.Fatal(err)
	}
	if now, _ := ProcessWritten(t); now-start < n {
		t.Fatalf("ProcessWritten grew by %d after writing %d bytes", now-start, n)
	}
}
