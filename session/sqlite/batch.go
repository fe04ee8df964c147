package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"roamgate/session"
)

// maxBatch bounds one group commit, so that a burst of sign-ins is
// acknowledged in slices rather than after one huge transaction.
const maxBatch = 256

var errClosed = errors.New("store is closed")

// batcher is SQLite group commit for sign-ins. With synchronous=FULL every
// commit costs an fsync (~0.2 ms here), which would cap durable sign-ins at a
// few thousand a second. Concurrent Creates are queued; one goroutine takes
// whatever is waiting, inserts it in one transaction and commits once, and
// only then acknowledges each caller — so every acknowledged sign-in is still
// durable, and a Create that is alone pays no extra latency (nothing waits
// for a batch to fill).
type batcher struct {
	w     *sql.DB
	queue chan createReq

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	done   chan struct{}
}

type createReq struct {
	ctx    context.Context
	args   []any
	result chan error
}

func newBatcher(w *sql.DB) *batcher {
	b := &batcher{w: w, queue: make(chan createReq, maxBatch), done: make(chan struct{})}
	go b.loop()
	return b
}

func (b *batcher) create(ctx context.Context, args []any) error {
	req := createReq{ctx: ctx, args: args, result: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return wrap("create", errClosed)
	}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		b.mu.RUnlock()
		return wrap("create", ctx.Err())
	}
	b.mu.RUnlock()
	// Wait for the commit even if ctx ends meanwhile: the caller must not
	// be told "failed" about a record that is then committed.
	return <-req.result
}

func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *batcher) loop() {
	defer close(b.done)
	batch := make([]createReq, 0, maxBatch)
	for first := range b.queue {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case req, ok := <-b.queue:
				if !ok {
					break drain
				}
				batch = append(batch, req)
			default:
				break drain
			}
		}
		b.commit(batch)
	}
}

// commit inserts the batch in one transaction. Each record gets its own
// result (ErrExists for a taken ID, its context's error if it gave up before
// its turn); a failed commit fails all that were inserted.
func (b *batcher) commit(batch []createReq) {
	results := make([]error, len(batch))
	// deliver answers every caller: its own error, else err.
	deliver := func(err error) {
		for i, req := range batch {
			if results[i] == nil {
				results[i] = err
			}
			req.result <- results[i]
		}
	}
	tx, err := b.w.BeginTx(context.Background(), nil)
	if err != nil {
		deliver(wrap("create", err))
		return
	}
	stmt, err := tx.Prepare(insertSQL)
	if err != nil {
		tx.Rollback()
		deliver(wrap("create", err))
		return
	}
	inserted := false
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i] = wrap("create", err)
			continue
		}
		res, err := stmt.Exec(req.args...)
		if err != nil {
			results[i] = wrap("create", err)
			continue
		}
		if err := affected("create", res, session.ErrExists); err != nil {
			results[i] = err
			continue
		}
		inserted = true
	}
	stmt.Close()
	if !inserted {
		tx.Rollback()
		deliver(nil)
		return
	}
	if err := tx.Commit(); err != nil {
		deliver(wrap("create", err))
		return
	}
	deliver(nil)
}
