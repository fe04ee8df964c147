package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"net/netip"
	"slices"
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
// rows to the sessions rows in the background, each session's newest values
// once, in rowid order, so that a page is written once for all the sessions
// on it. Get and Live read the sessions rows with the activity not yet folded
// applied on top, from one snapshot, so the fold changes nothing a reader
// sees.

const (
	// foldRows: once this many touches were appended since the last fold,
	// the next begins (at most ~10 MB of log; a few seconds at the rate
	// make bench-radius asks).
	foldRows = 1 << 16
	// foldEvery: touches appended are folded at the latest this long after.
	foldEvery = 30 * time.Second
	// foldChunk is how many sessions one fold transaction updates: the
	// writer is held for a few milliseconds at a time, and sign-ins queue
	// behind it no longer than that.
	foldChunk = 2048
)

const touchSQL = `INSERT INTO activity (sid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device)
	SELECT rowid, id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM sessions WHERE id = ?`

const activityColumns = `seq, sid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device, sealed_device IS NULL`

const foldSQL = `UPDATE sessions SET
	current_location = ?, ap = ?, last_seen = ?, roams = ?,
	input_octets = coalesce(?, input_octets), output_octets = coalesce(?, output_octets),
	nas_addr = ?, nas_id = ?, acct_session_id = ?, sealed_device = coalesce(?, sealed_device)
	WHERE rowid = ? AND id = ?`

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

func (a activity) foldArgs() []any {
	var device any
	if a.device != nil {
		device = a.device
	}
	var in, out any
	if a.in.Valid {
		in = a.in.Int64
	}
	if a.out.Valid {
		out = a.out.Int64
	}
	var seen any
	if a.lastSeen.Valid {
		seen = a.lastSeen.Int64
	}
	return []any{a.location, a.ap, seen, a.roams, in, out, a.nasAddr, a.nasID, a.acctSess, device, a.sid, a.id}
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

// ActivityLog reports the touches appended since the last fold began and
// how many folds failed (their activity stays in the log; readers apply it
// and the next fold tries again), for metrics.
func (s *Store) ActivityLog() (unfolded int64, foldFailures uint64) {
	return s.unfolded.Load(), s.foldErrors.Load()
}

// appended counts touches for the fold, and starts it once foldRows wait.
func (s *Store) appended(n int) {
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
			if s.unfolded.Load() == 0 {
				continue
			}
		case <-s.foldNow:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := s.fold(ctx); err != nil {
			// The log keeps the activity, and readers apply it; the next
			// fold tries again.
			s.foldErrors.Add(1)
		}
		cancel()
	}
}

// fold applies the activity log to the sessions rows and removes what it
// applied. Any part of it may fail or be cut off by a crash: applying a
// session's newest values again gives the same row, so the next fold just
// does it again.
func (s *Store) fold(ctx context.Context) error {
	s.foldMu.Lock()
	defer s.foldMu.Unlock()
	s.unfolded.Store(0)
	pending, last, err := pendingActivity(ctx, s.r, `SELECT `+activityColumns+` FROM activity ORDER BY seq`)
	if err != nil {
		return wrap("fold", err)
	}
	if last == 0 {
		return nil
	}
	keys := make([]sessionKey, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	// In rowid order: the rows of one page are written together.
	slices.SortFunc(keys, func(a, b sessionKey) int {
		return cmp.Or(cmp.Compare(a.sid, b.sid), cmp.Compare(a.id, b.id))
	})
	for {
		n := min(len(keys), foldChunk)
		if err := s.foldChunk(ctx, keys[:n], pending, n == len(keys), last); err != nil {
			return wrap("fold", err)
		}
		keys = keys[n:]
		if len(keys) == 0 {
			return nil
		}
	}
}

// foldChunk updates the sessions of keys in one transaction; the last one
// also removes the log up to last.
func (s *Store) foldChunk(ctx context.Context, keys []sessionKey, pending map[sessionKey]activity, lastChunk bool, last int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if len(keys) > 0 {
		st, err := tx.PrepareContext(ctx, foldSQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, k := range keys {
			if _, err := st.ExecContext(ctx, pending[k].foldArgs()...); err != nil {
				return err
			}
		}
	}
	if lastChunk {
		if _, err := tx.ExecContext(ctx, `DELETE FROM activity WHERE seq <= ?`, last); err != nil {
			return err
		}
	}
	return tx.Commit()
}
