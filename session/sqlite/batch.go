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

// restEvery is how many writes (statements, or touches where a statement
// appends several: writeReq.weight) a group commit of background writes
// runs in one of the background writers' turns (session.BackgroundTurn).
// The Manager's background writer hands over the moves of 64 sessions at
// once (TouchMany), ~20 µs of CPU each (make bench-radius, PROFILE), and
// with GOMAXPROCS 1, as there, nothing else ran until the commit: the
// RADIUS answers waited for 1–2 ms; 16 statements are ~0.3 ms. A commit
// with a write that a caller waits for (a sign-in, accounting) takes no
// turns: the rest between two turns can take a millisecond in an idle
// process (Go's network poller waits in whole milliseconds), and a burst
// of sign-ins would wait for every one.
const restEvery = 16

var errClosed = errors.New("store is closed")

// batcher is SQLite group commit for the writes callers wait on: sign-ins
// (Create) and accounting (Touch). With synchronous=FULL every commit costs
// an fsync (~0.2 ms here), which would cap durable writes at a few thousand
// a second. Concurrent writes are queued; one goroutine takes whatever is
// waiting, runs it in one transaction and commits once, and only then
// acknowledges each caller — so every acknowledged write is still durable,
// and a write that is alone pays no extra latency (nothing waits for a batch
// to fill).
type batcher struct {
	w     *sql.DB
	queue chan writeReq

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	done   chan struct{}

	// stmts are the queries prepared once, the loop's: parsing a query
	// again for every commit costs more than its one row.
	stmts   map[string]*sql.Stmt
	txStmts map[string]*sql.Stmt // the commit's, on its transaction

	// durable makes a commit durable before its writers are answered
	// (Store.durable: the syncer's fsync of the WAL).
	durable func() error
}

type writeReq struct {
	ctx    context.Context
	op     string // for errors: "create", "touch"
	query  string
	none   error // what no affected row means (ErrExists, ErrNotFound)
	args   []any
	result chan error
	// background: no one waits for this write but a background writer
	// (TouchMany), so that its commit may take turns (restEvery).
	background bool
	// weight is how many writes the statement does, in restEvery's
	// measure (0 counts as 1).
	weight int
	// check, if set, judges the statement's result instead of none.
	check func(tx *sql.Tx, res sql.Result) error
}

func newBatcher(w *sql.DB, durable func() error) *batcher {
	b := &batcher{w: w, queue: make(chan writeReq, maxBatch), done: make(chan struct{}), stmts: map[string]*sql.Stmt{}, txStmts: map[string]*sql.Stmt{}, durable: durable}
	go b.loop()
	return b
}

func newWriteReq(ctx context.Context, op, query string, none error, args ...any) writeReq {
	return writeReq{ctx: ctx, op: op, query: query, none: none, args: args, result: make(chan error, 1)}
}

// write runs req's query with its args in the next group commit and
// returns once it is committed; req.none is the error when it changed no
// row.
func (b *batcher) write(req writeReq) error {
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return wrap(req.op, errClosed)
	}
	select {
	case b.queue <- req:
	case <-req.ctx.Done():
		b.mu.RUnlock()
		return wrap(req.op, req.ctx.Err())
	}
	b.mu.RUnlock()
	// Wait for the commit even if ctx ends meanwhile: the caller must not
	// be told "failed" about a record that is then committed.
	return <-req.result
}

// writeAll is write for each of reqs, all queued before waiting, so that
// they share group commits; errs[i] (nil on entry) is reqs[i]'s result.
func (b *batcher) writeAll(reqs []writeReq, errs []error) {
	b.mu.RLock()
	for i, req := range reqs {
		if b.closed {
			errs[i] = wrap(req.op, errClosed)
			continue
		}
		select {
		case b.queue <- req:
		case <-req.ctx.Done():
			errs[i] = wrap(req.op, req.ctx.Err())
		}
	}
	b.mu.RUnlock()
	for i := range reqs {
		if errs[i] == nil { // queued
			errs[i] = <-reqs[i].result
		}
	}
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
	defer func() {
		for _, st := range b.stmts {
			st.Close()
		}
	}()
	batch := make([]writeReq, 0, maxBatch)
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

// commit runs the batch in one transaction. Each write gets its own result
// (ErrExists for a taken ID, ErrNotFound for a missing session, its
// context's error if it gave up before its turn); a failed commit fails all
// that were written.
func (b *batcher) commit(batch []writeReq) {
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
	// Prepared before the transaction takes the only connection.
	for i, req := range batch {
		if _, err := b.prepared(req.query); err != nil {
			results[i] = wrap(req.op, err)
		}
	}
	tx, err := b.w.BeginTx(context.Background(), nil)
	if err != nil {
		deliver(wrap("begin", err))
		return
	}
	clear(b.txStmts)
	rest := true
	for _, req := range batch {
		rest = rest && req.background
	}
	if rest {
		session.BackgroundTurn()
	}
	written := false
	done := 0 // writes in this turn
	for i, req := range batch {
		if results[i] != nil {
			continue
		}
		if rest && done >= restEvery {
			session.BackgroundDone()
			session.BackgroundTurn()
			done = 0
		}
		done += max(req.weight, 1)
		if err := req.ctx.Err(); err != nil {
			results[i] = wrap(req.op, err)
			continue
		}
		stmt, ok := b.txStmts[req.query]
		if !ok {
			stmt = tx.Stmt(b.stmts[req.query]) // closed with the transaction
			b.txStmts[req.query] = stmt
		}
		res, err := stmt.Exec(req.args...)
		if err != nil {
			results[i] = wrap(req.op, err)
			continue
		}
		if req.check != nil {
			err = req.check(tx, res)
		} else {
			err = affected(req.op, res, req.none)
		}
		if err != nil {
			results[i] = err
			continue
		}
		written = true
	}
	if rest {
		session.BackgroundDone()
	}
	if !written {
		tx.Rollback()
		deliver(nil)
		return
	}
	if err := tx.Commit(); err != nil {
		deliver(wrap("commit", err))
		return
	}
	if err := b.durable(); err != nil {
		// Committed, and readers see it, but perhaps not on disk:
		// the writers are told, as a failed fsync under FULL tells them.
		deliver(wrap("sync", err))
		return
	}
	deliver(nil)
}

// prepared is query prepared on the database, once. Not while a
// transaction holds the connection.
func (b *batcher) prepared(query string) (*sql.Stmt, error) {
	if st, ok := b.stmts[query]; ok {
		return st, nil
	}
	st, err := b.w.Prepare(query)
	if err != nil {
		return nil, err
	}
	b.stmts[query] = st
	return st, nil
}
