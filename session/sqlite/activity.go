package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"iter"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"roamgate/session"
)

// Activity — where a session was seen last, its counters, its sealed device —
// is written far more often than anything else: every move of every device.
// Updating the session's row in place cost a whole page written to the WAL
// and again at the checkpoint per move, so that at 100 000 sessions the
// store's writes took 29 % of the CPU under roaming load. Instead Touch
// appends a row to the activity table (a few appended pages per commit, as
// durable as before: the same group commit), and a fold applies the appended
// rows in the background, each session's newest values once, in rowid
// order, so that a page is written once for all the sessions on it (twice
// where one of the fold's transactions ends on it). It applies them to the
// session's row in presence (migrations/0007_presence.sql), not in sessions:
// ~230 bytes a session, not ~600 with the sealed token, so a quarter of the
// pages to rewrite (3 700 against 14 300 at 100 000 sessions). Get and Live
// read current_sessions (sessions joined with presence) with the activity
// not yet folded applied on top, from one snapshot, so the fold changes
// nothing a reader sees.

const (
	// foldRows: once this many touches were appended since the last fold,
	// the next begins (at most ~40 MB of log). A fold writes each page
	// of presence it touches once, however many of its sessions moved, so
	// folding seldom costs less: at 100 000 sessions BenchmarkFold gave
	// 10.9–11.4 µs of CPU and 1 100 bytes written a touch for a log of
	// 65 535 touches, 7.4–9.4 µs and 590 bytes for 262 143
	// (docs/BENCHMARKS.md). At the rates of a town the timer (foldEvery)
	// decides; this bounds the log under a flood.
	foldRows = 1 << 18
	// foldEvery: touches appended are folded at the latest this long after.
	foldEvery = 30 * time.Second
	// foldSessions is how many sessions one fold transaction updates, and
	// foldPause the rest the fold takes after each: at ~15 µs a session a
	// transaction holds the core for about a millisecond, and the RADIUS
	// answers that arrived meanwhile go next (with GOMAXPROCS 1, as in
	// make bench-radius, a transaction of 2 048 sessions held the only P
	// ~30 ms).
	foldSessions = 64
	foldPause    = 200 * time.Microsecond
)

const touchSQL = `INSERT INTO activity (sid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device)
	SELECT rowid, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM sessions WHERE id = ?`

const activityColumns = `seq, sid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device, sealed_device IS NULL`

// The fold reads of each touch in the log only its sequence number, its
// session's rowid and which of octets and device it has (foldScanSQL, on
// a reader: the writer is not held for it), picks per session the touches
// whose values are the newest, and has SQLite apply them in chunks, in
// rowid order: foldApplySQL takes a chunk as a JSON array of [touch,
// touch with input octets, … output octets, … device] sequence numbers (0:
// none), so that the values never leave SQLite. Then it removes the log
// up to the last touch it applied, oldest first, foldRemove rows a
// transaction: a range of the log is a run of its pages, whereas the
// touches of a chunk of sessions are spread over all of them (removing
// them with their chunk rewrote each page of the log once per chunk, and
// doubled the fold's CPU in BenchmarkFold). The ID of each touch must
// be the presence row's: the row of a session that took a deleted one's
// rowid over is left alone, and so are the older session's octets and
// device. jsonb_each hands each element to ->> as JSONB; json_each made
// it text again for each ->> (BenchmarkFold: 11.3–12.8 against 11.9–13.7
// µs of CPU a touch). It was ~20 µs per touch at 100 000 sessions
// (BenchmarkFold) when the log's rows went through database/sql into a
// map of every row's values and back one UPDATE each.
const foldScanSQL = `SELECT seq, sid, (input_octets IS NOT NULL) | ((output_octets IS NOT NULL) << 1) | ((sealed_device IS NOT NULL) << 2)
	FROM activity WHERE seq BETWEEN ? AND ? ORDER BY seq`

const foldApplySQL = `UPDATE presence SET
	current_location = m.current_location, ap = m.ap, last_seen = m.last_seen, roams = m.roams,
	input_octets = coalesce((SELECT input_octets FROM activity WHERE seq = j.value ->> 1 AND id = m.id), presence.input_octets),
	output_octets = coalesce((SELECT output_octets FROM activity WHERE seq = j.value ->> 2 AND id = m.id), presence.output_octets),
	nas_addr = m.nas_addr, nas_id = m.nas_id, acct_session_id = m.acct_session_id,
	sealed_device = coalesce((SELECT sealed_device FROM activity WHERE seq = j.value ->> 3 AND id = m.id), presence.sealed_device)
FROM jsonb_each(?) AS j JOIN activity AS m ON m.seq = j.value ->> 0
WHERE presence.sid = m.sid AND presence.id = m.id`

// foldRemoveSQL removes the log up to a sequence number.
const foldRemoveSQL = `DELETE FROM activity WHERE seq <= ?`

// foldRemove is how many touches one transaction removes from the log, and
// foldWindow how many a round of the fold plans at most: a fold cut off
// (its deadline, a crash) loses no more work than that. 4 096 a
// transaction held the only P for several milliseconds (a sleeping
// goroutine's wake-ups late by 4.0–8.0 ms at the 99th percentile in
// BenchmarkFoldPaced, 2.6–3.6 ms with 512).
const (
	foldRemove = 512
	foldWindow = foldRows
)

// foldScanRows is how many touches of the log the fold's plan reads
// between two rests, and how many sessions' plans it writes: 1 024 were
// 2.5–3.4 ms of CPU here (BenchmarkFoldPaced), so about a millisecond.
const foldScanRows = 256

// newest are the touches of one session's rowid whose values a fold
// applies: the newest, the newest with input octets, with output octets,
// with a device (sequence numbers, 0 for none).
type newest [4]int64

// activity is one appended row, or several of one session's folded into
// the values the last of them leaves.
type activity struct {
	seq, sid                 int64
	id, location, ap         string
	lastSeen                 sql.NullInt64
	roams                    int64
	in, out                  sql.NullInt64
	nasAddr, nasID, acctSess string
	device                   []byte // nil: keep the one before
}

func scanActivity(row scanner) (activity, error) {
	var a activity
	var keep bool
	err := row.Scan(&a.seq, &a.sid, &a.id, &a.location, &a.ap, &a.lastSeen, &a.roams,
		&a.in, &a.out, &a.nasAddr, &a.nasID, &a.acctSess, &a.device, &keep)
	if err == nil && !keep && a.device == nil {
		a.device = []byte{} // an empty device, not "keep"
	}
	return a, err
}

// then is a followed by b: b's values, where b has none a's.
func (a activity) then(b activity) activity {
	if !b.in.Valid {
		b.in = a.in
	}
	if !b.out.Valid {
		b.out = a.out
	}
	if b.device == nil {
		b.device = a.device
	}
	return b
}

// apply does to r what folding a into its row does.
func (a activity) apply(r *session.Record) {
	r.CurrentLocation, r.AP = a.location, a.ap
	r.LastSeen = fromNanos(a.lastSeen)
	r.Roams = int(a.roams)
	if a.in.Valid {
		r.InputOctets = uint64(a.in.Int64)
	}
	if a.out.Valid {
		r.OutputOctets = uint64(a.out.Int64)
	}
	r.NAS.Addr = netip.Addr{}
	if a.nasAddr != "" {
		r.NAS.Addr, _ = netip.ParseAddr(a.nasAddr) // as scan does
	}
	r.NAS.ID, r.NAS.AcctSessionID = a.nasID, a.acctSess
	if a.device != nil {
		r.SealedDevice = a.device
		if len(a.device) == 0 {
			r.SealedDevice = nil // as the driver reads an empty BLOB back
		}
	}
}

// sessionKey is a row of sessions as an activity row names it.
type sessionKey struct {
	sid int64
	id  string
}

// pendingActivity reads the activity not yet folded, in order, and returns
// each session's (by ID) as its rows leave it, and the last sequence number
// (0 if none). query selects activityColumns.
func pendingActivity(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) (map[sessionKey]activity, int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[sessionKey]activity{}
	var last int64
	for rows.Next() {
		a, err := scanActivity(rows)
		if err != nil {
			return nil, 0, err
		}
		k := sessionKey{a.sid, a.id}
		if prev, ok := out[k]; ok {
			a = prev.then(a)
		}
		out[k] = a
		last = max(last, a.seq)
	}
	return out, last, rows.Err()
}

// withActivity calls fn with the records that rows' scan gives, with the
// activity not yet folded applied, read in one snapshot with them.
func (s *Store) withActivity(ctx context.Context, op string, idOnly string, query string, args []any, fn func(session.Record) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	actQuery, actArgs := `SELECT `+activityColumns+` FROM activity ORDER BY seq`, []any(nil)
	if idOnly != "" {
		actQuery = `SELECT ` + activityColumns + ` FROM activity WHERE id = ? ORDER BY seq`
		actArgs = []any{idOnly}
	}
	pending, _, err := pendingActivity(ctx, tx, actQuery, actArgs...)
	if err != nil {
		return wrap(op, err)
	}
	byID := make(map[string]activity, len(pending))
	for k, a := range pending {
		if prev, ok := byID[k.id]; !ok || prev.seq < a.seq {
			byID[k.id] = a // a rowid taken over keeps only the newest's
		}
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return wrap(op, err)
		}
		if a, ok := byID[r.ID]; ok {
			a.apply(&r)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// ActivityLog reports the touches in the log that no fold has applied yet
// and how many folds failed (their activity stays in the log; readers
// apply it and the next fold tries again), for metrics.
func (s *Store) ActivityLog() (unfolded int64, foldFailures uint64) {
	// A fold may take rows out before their append is counted.
	return max(s.logged.Load(), 0), s.foldErrors.Load()
}

// appended counts touches for the fold, and starts it once foldRows wait.
func (s *Store) appended(n int) {
	s.logged.Add(int64(n))
	if n > 0 && s.unfolded.Add(int64(n)) >= foldRows {
		select {
		case s.foldNow <- struct{}{}:
		default:
		}
	}
}

// folder folds the activity log when it has grown by foldRows, or
// foldEvery after a touch, until Close.
func (s *Store) folder() {
	defer close(s.foldDone)
	tick := time.NewTicker(foldEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.foldStop:
			return
		case <-tick.C:
			if s.logged.Load() <= 0 {
				continue
			}
		case <-s.foldNow:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.fold(ctx, true); err != nil {
			// The log keeps the activity, and readers apply it; the next
			// fold tries again.
			s.foldErrors.Add(1)
		}
		cancel()
	}
}

// fold applies the activity log to the presence rows and removes what it
// applied, a chunk at a time (pausing after each when pause is set), at
// most foldWindow touches of the log a round. Any part of it may fail or
// be cut off by a crash: applying a session's newest values again gives
// the same row, and the log goes oldest first, so that what is left of
// it, applied on top of the rows, still gives what the whole log does;
// the next fold does again what was not removed, no more than a round.
func (s *Store) fold(ctx context.Context, pause bool) error {
	return s.foldBy(ctx, pause, foldWindow)
}

// foldBy is fold with rounds of window touches.
func (s *Store) foldBy(ctx context.Context, pause bool, window int64) error {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	s.unfolded.Store(0)
	var first, end int64
	if err := s.r.QueryRowContext(ctx, `SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM activity`).Scan(&first, &end); err != nil {
		return wrap("fold", err)
	}
	if end == 0 {
		return nil
	}
	rest := func() error {
		if !pause {
			return nil
		}
		// A sleep, not runtime.Gosched: only a goroutine that parks lets
		// the scheduler poll the network for the RADIUS readers (a
		// yielding one is still runnable and runs again first).
		select {
		case <-time.After(foldPause):
			return nil
		case <-ctx.Done():
			return wrap("fold", ctx.Err())
		}
	}
	for first <= end {
		last := min(first+window-1, end)
		chunks, err := s.foldPlan(ctx, first, last, foldSessions, rest)
		if err != nil {
			return wrap("fold", err)
		}
		for _, c := range chunks {
			if err := s.foldApply(ctx, c); err != nil {
				return wrap("fold", err)
			}
			if err := rest(); err != nil {
				return err
			}
		}
		for upTo := first - 1; upTo < last; {
			upTo = min(upTo+foldRemove, last)
			n, err := s.foldExec(ctx, s.foldRemoveStmt, upTo) // foldRemoveSQL
			if err != nil {
				return wrap("fold", err)
			}
			s.logged.Add(-n)
			if err := rest(); err != nil {
				return err
			}
		}
		first = last + 1
	}
	return nil
}

// foldPlan reads the log from first to last and returns the JSON arrays
// foldApply takes, perChunk sessions each, in rowid order. It reads
// foldScanRows touches a query and calls rest after each: read in one
// query, a round's ~75 000 touches (30 s of make bench-radius's roaming
// load) were ~150 ms of CPU in one burst, which with one P held the
// RADIUS readers until each preemption (every 10 ms): the longest gaps in
// the execution trace of its fixed-rate pass when a fold fell into it,
// 10–20 ms each (docs/BENCHMARKS.md).
func (s *Store) foldPlan(ctx context.Context, first, last int64, perChunk int, rest func() error) ([][]byte, error) {
	bySid := map[int64]newest{}
	var sids sidSet
	for from := first; from <= last; from += foldScanRows {
		if err := s.foldScan(ctx, from, min(from+foldScanRows-1, last), bySid, &sids); err != nil {
			return nil, err
		}
		if err := rest(); err != nil {
			return nil, err
		}
	}
	var chunks [][]byte
	var b []byte
	planned := 0
	for sid := range sids.all() {
		if len(b) == 0 {
			b = make([]byte, 0, perChunk*48)
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j, seq := range bySid[sid] {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, seq, 10)
		}
		b = append(b, ']')
		if planned++; planned%perChunk == 0 {
			chunks = append(chunks, append(b, ']'))
			b = nil
		}
		if planned%foldScanRows == 0 {
			if err := rest(); err != nil {
				return nil, err
			}
		}
	}
	if len(b) > 0 {
		chunks = append(chunks, append(b, ']'))
	}
	return chunks, nil
}

// sidSet is a set of session rowids that lists them in order without
// sorting them: sorting the ~50 000 of a fold's round was one burst of
// ~12 ms of CPU (BenchmarkFoldPaced). Rowids are dense (SQLite gives a new
// row the largest rowid + 1), so a bit each below sidSetBits (2 MiB at
// most); the rest, never seen in practice, in a list sorted when listed.
type sidSet struct {
	words []uint64
	other []int64
}

const sidSetBits = 1 << 24

// add adds sid, which must not be in the set yet.
func (s *sidSet) add(sid int64) {
	if sid < 0 || sid >= sidSetBits {
		s.other = append(s.other, sid)
		return
	}
	w := int(sid / 64)
	if w >= len(s.words) {
		s.words = slices.Grow(s.words, w+1-len(s.words))[:w+1]
	}
	s.words[w] |= 1 << (sid % 64)
}

// all lists the set in order.
func (s *sidSet) all() iter.Seq[int64] {
	return func(yield func(int64) bool) {
		slices.Sort(s.other)
		i := 0
		for ; i < len(s.other) && s.other[i] < 0; i++ {
			if !yield(s.other[i]) {
				return
			}
		}
		for w, word := range s.words {
			for word != 0 {
				if !yield(int64(w*64 + bits.TrailingZeros64(word))) {
					return
				}
				word &= word - 1
			}
		}
		for _, sid := range s.other[i:] {
			if !yield(sid) {
				return
			}
		}
	}
}

// foldScan reads the touches from first to last (foldScanSQL) into
// bySid, each session's newest, and each session's rowid into sids.
func (s *Store) foldScan(ctx context.Context, first, last int64, bySid map[int64]newest, sids *sidSet) error {
	rows, err := s.r.QueryContext(ctx, foldScanSQL, first, last)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var seq, sid, has int64
		if err := rows.Scan(&seq, &sid, &has); err != nil {
			return err
		}
		n, seen := bySid[sid]
		if !seen {
			sids.add(sid)
		}
		n[0] = seq // in order: each is newer than the one before
		for i := range 3 {
			if has&(1<<i) != 0 {
				n[i+1] = seq
			}
		}
		bySid[sid] = n
	}
	return rows.Err()
}

// foldApply updates the sessions of one chunk in one transaction.
func (s *Store) foldApply(ctx context.Context, chunk []byte) error {
	_, err := s.foldExec(ctx, s.foldApplyStmt, string(chunk))
	return err
}

// foldExec runs one of the fold's statements on the writer's connection
// with synchronous=NORMAL (always, with a syncer), and does not have the
// syncer sync it: its commit is not fsynced. A fold commits ~1 000 times;
// an fsync is a system call that holds the Go scheduler's P while it waits
// (the only one, with GOMAXPROCS 1), and in a trace of make bench-radius
// the fold's system calls took 0.6 s of 13.
//
// That keeps every promise: a kill -9 loses nothing either way (the commit
// is in the kernel's cache), and on power loss the WAL keeps a prefix of
// its commits — the sync of a sign-in or a touch syncs the fold's commits
// before it, and a fold's commits lost after it leave rows that the log
// still holds, which the next fold applies again.
func (s *Store) foldExec(ctx context.Context, stmt *sql.Stmt, args ...any) (n int64, err error) {
	conn, err := s.w.Conn(ctx) // the only one: the batcher waits for it
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if s.syncer == nil {
		if err := fullToNormal(ctx, conn); err != nil {
			return 0, err
		}
		defer func() {
			if restore := normalToFull(conn); restore != nil {
				err = errors.Join(err, restore)
			}
		}()
	}
	// One statement, one of the background writers' turns: taken only
	// once the connection is held, as the batcher takes its turns only
	// inside its transaction on the same connection.
	session.BackgroundTurn()
	defer session.BackgroundDone()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // no-op after Commit
	// The statement prepared once on this connection (Open), not parsed
	// again: foldApplySQL took ~250 µs to prepare, 0.38 s of the fold's
	// 3.25 s in a profile of BenchmarkFold when every chunk prepared it.
	res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// fullToNormal and normalToFull switch the writer's connection of a store
// without a syncer to NORMAL for one of the fold's statements, and back.
func fullToNormal(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`)
	return err
}

func normalToFull(conn *sql.Conn) error {
	// Back to FULL before another writer gets the connection; if that
	// fails, the connection goes (a new one opens with FULL).
	_, err := conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`)
	if err != nil {
		conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return err
}
