package session

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// The background writers' turns never overlap, and between the end of
// one and the start of the next lies at least backgroundRest, in which no
// background writer runs (so that the RADIUS readers get the P).
func TestBackgroundTurnsAreExclusiveWithRests(t *testing.T) {
	type span struct{ start, end time.Time }
	var (
		mu    sync.Mutex
		spans []span
		wg    sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			for range 25 {
				BackgroundTurn()
				s := span{start: time.Now()}
				for time.Since(s.start) < 20*time.Microsecond {
				}
				s.end = time.Now()
				BackgroundDone()
				mu.Lock()
				spans = append(spans, s)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	for i := 1; i < len(spans); i++ {
		if gap := spans[i].start.Sub(spans[i-1].end); gap < backgroundRest {
			t.Fatalf("turn %d began %v after turn %d ended, want at least %v", i, gap, i-1, backgroundRest)
		}
	}
}
