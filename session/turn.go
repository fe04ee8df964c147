package session

import (
	"sync"
	"time"
)

// The background writers — the Manager's flush, the SQLite store's group
// commits of background touches and its fold, the history writer, index
// compaction — take turns: one piece of work at a time, each a fraction
// of a millisecond, and between two turns backgroundRest in which none
// runs. With GOMAXPROCS 1, as in make bench-radius, Go's scheduler polls
// the network for the RADIUS readers only when no goroutine is runnable
// (or sysmon does, every 20 µs to 10 ms), so a writer that rested by
// sleeping let the next writer run, and the RADIUS answers waited for
// them in a row (docs/BENCHMARKS.md). While all wait for a turn, none is
// runnable and the answers go first.
//
// A turn may be taken only around work that waits for no other
// goroutine: never while waiting for a connection, a lock another writer
// may hold while it waits for a turn, or another writer's result.
var background struct {
	mu   sync.Mutex
	last time.Time // when the last turn ended
}

// backgroundRest is the least time between two turns.
const backgroundRest = 100 * time.Microsecond

// BackgroundTurn waits for the background writers' turn, and for
// backgroundRest after the last one ended. BackgroundDone ends it.
func BackgroundTurn() {
	background.mu.Lock()
	if d := backgroundRest - time.Since(background.last); d > 0 {
		time.Sleep(d)
	}
}

// BackgroundDone ends the turn BackgroundTurn took.
func BackgroundDone() {
	background.last = time.Now()
	background.mu.Unlock()
}
