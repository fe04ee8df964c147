package testtool

import (
	"testing"
	"time"
)

// Eventually waits until cond holds and fails the test if it does not
// within the given time; what names the condition in the failure. It
// polls: first at once, then at growing intervals up to 20 ms, so that a
// condition is seen soon after it holds (some tests time how soon) without
// spinning.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(within, cond) {
		t.Fatalf("not within %v: %s", within, what)
	}
}

// Poll is Eventually without the failure: it reports whether cond held
// within the given time, for a caller that says more when it did not.
func Poll(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for !cond() {
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, 20*time.Millisecond)
	}
	return true
}
