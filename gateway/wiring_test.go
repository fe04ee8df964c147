package gateway

import (
	"sync"
	"testing"

	"roamgate/session"
)

// A scrape's gauges share one count of the sessions while it is fresh, and
// count again once it is not; concurrent gauges (the registry collects in
// parallel) all get the same count.
func TestScrapeSharesOneCount(t *testing.T) {
	var mu sync.Mutex
	counts := 0
	count := func() session.Stats {
		mu.Lock()
		defer mu.Unlock()
		counts++
		return session.Stats{Active: counts, Crisis: 10 * counts}
	}

	s := &sharedStats{stats: count, fresh: 1 << 62}
	var wg sync.WaitGroup
	got := make([]session.Stats, 8)
	for i := range got {
		wg.Go(func() { got[i] = s.get() })
	}
	wg.Wait()
	for i, st := range got {
		if st.Active != 1 || st.Crisis != 10 {
			t.Errorf("gauge %d got Active %d, Crisis %d; want the one count (1, 10)", i, st.Active, st.Crisis)
		}
	}
	if counts != 1 {
		t.Errorf("%d counts for one scrape, want 1", counts)
	}

	s = &sharedStats{stats: count, fresh: 0}
	first, second := s.get(), s.get()
	if first.Active == second.Active {
		t.Errorf("a count that is no longer fresh was reused (Active %d twice)", first.Active)
	}
}
