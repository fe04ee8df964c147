package ratelimit_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/ratelimit"
)

func newClock() *testtool.Clock {
	return testtool.NewClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
}

// TestWindow: Max events in a period that opens with the key's first event;
// the next waits until the period ends, and the key then starts afresh.
// Keys are counted apart.
func TestWindow(t *testing.T) {
	clk := newClock()
	l := ratelimit.New(ratelimit.Window{Max: 3, Per: time.Minute}, 100, clk.Now)
	for i := range 3 {
		if ok, w := l.Allow("a"); !ok {
			t.Fatalf("event %d refused (wait %v), want %d free", i+1, w, 3)
		}
		clk.Add(10 * time.Second)
	}
	// 30 s after the first event: 30 s left of its minute.
	if ok, w := l.Allow("a"); ok || w != 30*time.Second {
		t.Fatalf("4th event: %v, wait %v; want refused for 30s", ok, w)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key was limited by a's events")
	}
	clk.Add(29 * time.Second)
	if w := l.Wait("a"); w != time.Second {
		t.Fatalf("wait 1 s before the period ends = %v", w)
	}
	clk.Add(time.Second)
	for i := range 3 {
		if ok, w := l.Allow("a"); !ok {
			t.Fatalf("new period, event %d refused (wait %v)", i+1, w)
		}
	}
	if ok, w := l.Allow("a"); ok || w != time.Minute {
		t.Fatalf("new period, 4th event: %v, wait %v; want refused for a minute", ok, w)
	}
}

// TestBackoff: after Free events a key waits Base, twice as long after
// each further one, never longer than Max; Reset and Forget clear it.
func TestBackoff(t *testing.T) {
	clk := newClock()
	p := ratelimit.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	l := ratelimit.New(p, 100, clk.Now)
	for range p.Free {
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("wait before %d events = %v", p.Free, w)
		}
		l.Add("k")
	}
	want := p.Base
	for range 20 {
		if w := l.Wait("k"); w != want {
			t.Fatalf("wait = %v, want %v", w, want)
		}
		clk.Add(want)
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("wait after waiting %v = %v", want, w)
		}
		l.Add("k")
		want = min(2*want, p.Max)
	}
	if want != p.Max {
		t.Fatalf("delay never reached %v", p.Max)
	}
	l.Reset("k")
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("wait after Reset = %v", w)
	}
	for range p.Free + 1 {
		l.Add("k")
	}
	if w := l.Wait("k"); w != 2*p.Base {
		t.Fatalf("wait = %v, want %v", w, 2*p.Base)
	}
	clk.Add(p.Forget)
	l.Add("k")
	if w := l.Wait("k"); w != 0 {
		t.Fatalf("an event %v after the last one counted on the old ones: wait %v", p.Forget, w)
	}
}

func TestBackoffDelay(t *testing.T) {
	p := ratelimit.Backoff{Free: 2, Base: time.Second, Max: 5 * time.Second}
	for n, want := range []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := p.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestBounded: a flood of new keys keeps the table at its size, and the
// keys that are slowed down the most stay slowed down: a flood cannot wash
// an attacker's record out.
func TestBounded(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy ratelimit.Policy
	}{
		{"window", ratelimit.Window{Max: 2, Per: time.Minute}},
		{"backoff", ratelimit.Backoff{Free: 2, Base: time.Second, Max: time.Minute, Forget: time.Hour}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			const size = 1000
			l := ratelimit.New(tt.policy, size, clk.Now)
			for range 3 {
				l.Add("slowed")
			}
			before := l.Wait("slowed")
			if before == 0 {
				t.Fatal("the key is not slowed down")
			}
			for i := range 10 * size {
				l.Add(strconv.Itoa(i))
				if n := l.Len(); n > size {
					t.Fatalf("%d keys remembered, size %d", n, size)
				}
			}
			if w := l.Wait("slowed"); w != before {
				t.Errorf("after the flood the slowed key waits %v, want %v", w, before)
			}
		})
	}
}

// TestExpiredGoFirst: a full table drops the records its policy has
// forgotten before it drops any other.
func TestExpiredGoFirst(t *testing.T) {
	clk := newClock()
	l := ratelimit.New(ratelimit.Window{Max: 1, Per: time.Minute}, 4, clk.Now)
	l.Add("old1")
	l.Add("old2")
	clk.Add(time.Minute)
	l.Add("new1")
	l.Add("new2")
	l.Add("new3") // full: the two old ones go
	for _, k := range []string{"new1", "new2", "new3"} {
		if l.Wait(k) == 0 {
			t.Errorf("%s was forgotten", k)
		}
	}
	if n := l.Len(); n != 3 {
		t.Errorf("Len = %d, want 3", n)
	}
}

func TestConcurrent(t *testing.T) {
	l := ratelimit.New(ratelimit.Window{Max: 100, Per: time.Hour}, 4096, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Add(fmt.Sprint(g, i))
			}
		})
	}
	wg.Wait()
	if allowed != 100 {
		t.Errorf("%d events allowed, want 100", allowed)
	}
}

func ExampleLimiter() {
	// The admin's rule for failed passwords: five free, then one second,
	// doubling, up to 15 minutes.
	l := ratelimit.New(ratelimit.Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}, 1<<16, nil)
	for range 7 {
		l.Add("ops\x00192.0.2.7")
	}
	fmt.Println(l.Wait("ops\x00192.0.2.7") > time.Second)
	// Output: true
}
