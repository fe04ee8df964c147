package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"roamgate/session"
)

// Store is a session.Store in one SQLite file. It is safe for concurrent use.
type Store struct {
	// w is the one connection that writes. SQLite serialises writers anyway;
	// queueing them in database/sql instead of in SQLite's busy handler means
	// no writer ever sees SQLITE_BUSY and no transaction has to be retried.
	w *sql.DB
	// batcher commits concurrent Creates in one transaction.
	batcher *batcher
	// r are read-only connections. In WAL mode readers neither block the
	// writer nor each other, so Get and Live never queue behind a Create, and
	// a Live callback may call back into the store without deadlocking.
	r *sql.DB

	// The fold of the activity log (activity.go): touches appended since
	// the last, a nudge when there are foldRows, the folder's life, and
	// the folds that failed (the log keeps their activity).
	unfolded   atomic.Int64
	logged     atomic.Int64 // touches in the log that no fold applied yet
	foldNow    chan struct{}
	foldStop   chan struct{}
	foldDone   chan struct{}
	foldMu     sync.Mutex // one fold at a time
	foldErrors atomic.Uint64
	// The fold's statements, prepared once on the writer's connection.
	foldApplyStmt, foldRemoveStmt *sql.Stmt

	// path is the database file's absolute path; syncer its syncer
	// process (syncer.go), nil if it could not be started: then the
	// writer runs with synchronous=FULL and automatic checkpoints.
	path               string
	syncer             *syncer
	syncStats          syncStats
	ckptStop, ckptDone chan struct{}
	// Other databases the syncer checkpoints (CheckpointAlso), and the
	// connections the store checkpoints them with if the syncer died.
	othersMu sync.Mutex
	others   []string
	othersDB map[string]*sql.DB
}

var _ session.Store = (*Store)(nil)

const (
	// busyTimeout bounds how long a connection waits for a lock held by
	// another process (a second roamgate on the same file, a backup tool).
	busyTimeout = 10 * time.Second
	// maxReaders is the size of the read pool. Reads are point lookups and
	// the start-up scan; a few connections are plenty and each costs a page
	// cache.
	maxReaders = 4
	// writerCache is the writer's page cache: up to 32 MiB, taken as
	// pages are used. SQLite's default (2 MB) holds a few thousand
	// sessions' pages; beyond that every background write of a moved
	// session read its B-tree pages back with pread (16 % of the CPU at
	// 100 000 sessions under roaming load, make bench-radius PROFILE=…).
	writerCache = "cache_size(-32768)"
)

// Open opens the store at path, creating the file (mode 0600, and its
// directory, mode 0700) if needed, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, true)
}

// open is Open, with a syncer process if withSyncer (tests open stores
// without one too).
func open(ctx context.Context, path string, withSyncer bool) (*Store, error) {
	if path == "" {
		return nil, wrap("open", errors.New("empty path"))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, wrap("open", err)
	}
	// SQLite would create the file with mode 0644; create it first with 0600.
	// The -wal and -shm files take their mode from the database file.
	if err := createFile(abs); err != nil {
		return nil, wrap("open", err)
	}

	// Without its syncer the store works as well, with the fsyncs in
	// this process (see syncer.go).
	var p *syncer
	if withSyncer {
		p, _ = startSyncer(abs)
	}
	started := false
	defer func() {
		if p != nil && !started {
			p.close()
		}
	}()
	// FULL: a commit is on stable storage before it returns, so an
	// acknowledged sign-in survives kill -9 and power loss. With a
	// syncer, NORMAL and no automatic checkpoints: the store has the
	// syncer fsync the WAL after each commit, and checkpoint it.
	durability := []string{"synchronous(FULL)"}
	if p != nil {
		durability = []string{"synchronous(NORMAL)", "wal_autocheckpoint(0)"}
	}
	w, err := sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": append([]string{
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"journal_mode(WAL)",
			writerCache,
		}, durability...),
		// Writers take the write lock at BEGIN, never halfway through.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, wrap("open", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, wrap("open", err)
	}
	if mode != "wal" {
		w.Close()
		return nil, wrap("open", fmt.Errorf("journal mode is %q, want wal (does the file system support shared memory?)", mode))
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, wrap("migrate", err)
	}

	r, err := sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
			"query_only(1)",
		},
	}))
	if err != nil {
		w.Close()
		return nil, wrap("open", err)
	}
	r.SetMaxOpenConns(maxReaders)
	r.SetMaxIdleConns(maxReaders)
	r.SetConnMaxLifetime(0)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, wrap("open", err)
	}
	apply, err1 := w.PrepareContext(ctx, foldApplySQL)
	remove, err2 := w.PrepareContext(ctx, foldRemoveSQL)
	var left int
	err3 := r.QueryRowContext(ctx, `SELECT count(*) FROM activity`).Scan(&left)
	if err := errors.Join(err1, err2, err3); err != nil {
		for _, st := range []*sql.Stmt{apply, remove} {
			if st != nil {
				st.Close()
			}
		}
		r.Close()
		w.Close()
		return nil, wrap("open", err)
	}
	s := &Store{w: w, r: r, foldApplyStmt: apply, foldRemoveStmt: remove,
		foldNow: make(chan struct{}, 1), foldStop: make(chan struct{}), foldDone: make(chan struct{}),
		path: abs, syncer: p}
	if p != nil {
		// The migrations' commits, and whatever the file had.
		if err := s.durable(); err != nil {
			apply.Close()
			remove.Close()
			r.Close()
			w.Close()
			return nil, wrap("open", err)
		}
	}
	s.batcher = newBatcher(w, s.durable)
	s.unfolded.Store(int64(left)) // a log a crash left is folded at the first tick
	s.logged.Store(int64(left))
	go s.folder()
	if p != nil {
		s.ckptStop, s.ckptDone = make(chan struct{}), make(chan struct{})
		go s.checkpointer()
	}
	started = true
	return s, nil
}

// dsn builds a file: URI, so that any path (with '?', '#' or '%' in it)
// reaches SQLite intact.
func dsn(path string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

func createFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Close closes the store. The last connection to close checkpoints the WAL
// into the database file.
func (s *Store) Close() error {
	close(s.foldStop)
	<-s.foldDone
	if s.syncer != nil {
		close(s.ckptStop)
		<-s.ckptDone
	}
	s.batcher.close() // commits what is queued first
	// Fold what is left, so that the file on its own has every session as
	// it is (for a backup or sqlite3); readers would apply the log anyway.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := []error{s.fold(ctx, false), s.foldApplyStmt.Close(), s.foldRemoveStmt.Close()}
	if s.syncer != nil {
		// Before the last connection closes: it checkpoints the WAL
		// (with syncs, NORMAL) and removes it.
		errs = append(errs, s.syncer.close())
	}
	s.othersMu.Lock()
	for _, db := range s.othersDB {
		errs = append(errs, db.Close())
	}
	s.othersMu.Unlock()
	if err := errors.Join(append(errs, s.r.Close(), s.w.Close())...); err != nil {
		return wrap("close", err)
	}
	return nil
}

// synced is durable for a write outside the group commit, its error
// wrapped with op.
func (s *Store) synced(op string) error {
	if err := s.durable(); err != nil {
		return wrap(op+": sync", err)
	}
	return nil
}

func wrap(op string, err error) error {
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

const columns = `id, mac_key, random_mac, network, location, current_location, ap,
	created, expires, last_seen, input_octets, output_octets, roams, revoked, sealed_token,
	nas_addr, nas_id, acct_session_id, sealed_device, crisis`

// Create stores a new record; session.ErrExists if the ID is taken. The
// record is durable when Create returns. Concurrent Creates are committed
// together (group commit, see batch.go): one fsync acknowledges many.
func (s *Store) Create(ctx context.Context, r session.Record) error {
	args, err := createArgs(r)
	if err != nil {
		return wrap("create", err)
	}
	return s.batcher.write(newWriteReq(ctx, "create", insertSQL, session.ErrExists, args...))
}

// createArgs converts a record to the INSERT's arguments.
func createArgs(r session.Record) ([]any, error) {
	created, err1 := toNanos(r.Created)
	expires, err2 := toNanos(r.Expires)
	lastSeen, err3 := toNanos(r.LastSeen)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	sealed := r.SealedToken
	if sealed == nil {
		sealed = []byte{} // NOT NULL: an empty token is still a token (that never opens)
	}
	device := r.SealedDevice
	if device == nil {
		device = []byte{}
	}
	return []any{
		r.ID, string(r.MACKey), r.RandomMAC, r.Network, r.Location, r.CurrentLocation, r.AP,
		created, expires, lastSeen, int64(r.InputOctets), int64(r.OutputOctets), int64(r.Roams), r.Revoked, sealed,
		nasAddr(r.NAS.Addr), r.NAS.ID, r.NAS.AcctSessionID, device, r.Crisis,
	}, nil
}

const insertSQL = `INSERT INTO sessions (` + columns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

// Get returns the record with the given ID or session.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (session.Record, error) {
	var r session.Record
	found := false
	err := s.withActivity(ctx, "get", id, `SELECT `+columns+` FROM current_sessions WHERE id = ?`, []any{id},
		func(rec session.Record) error { r, found = rec, true; return nil })
	if err != nil {
		return session.Record{}, err
	}
	if !found {
		return session.Record{}, wrap("get", session.ErrNotFound)
	}
	return r, nil
}

// Ping tells whether the store answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM sessions LIMIT 1)`).Scan(&n); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Rebind moves a session to a new MAC key and token; session.ErrNotFound if
// absent.
func (s *Store) Rebind(ctx context.Context, id string, key session.MACKey, random bool, sealedToken []byte) error {
	if sealedToken == nil {
		sealedToken = []byte{}
	}
	res, err := s.w.ExecContext(ctx,
		`UPDATE sessions SET mac_key = ?, random_mac = ?, sealed_token = ? WHERE id = ?`,
		string(key), random, sealedToken, id)
	if err != nil {
		return wrap("rebind", err)
	}
	if err := affected("rebind", res, session.ErrNotFound); err != nil {
		return err
	}
	return s.synced("rebind")
}

// Touch records activity: CurrentLocation, AP, LastSeen and NAS are
// replaced, Roams is set to roams, octets are replaced when non-zero, the
// sealed device when not nil.
func (s *Store) Touch(ctx context.Context, id string, a session.Activity, roams int, sealedDevice []byte) error {
	req, err := touchReq(ctx, session.Touch{ID: id, Activity: a, Roams: roams, SealedDevice: sealedDevice})
	if err != nil {
		return err
	}
	// Through the group commit too: accounting waits for this write
	// (durable before the Accounting-Response), and many NASes report at
	// once.
	if err := s.batcher.write(req); err != nil {
		return err
	}
	s.appended(1)
	return nil
}

func touchReq(ctx context.Context, t session.Touch) (writeReq, error) {
	a := t.Activity
	lastSeen, err := toNanos(a.At)
	if err != nil {
		return writeReq{}, wrap("touch", err)
	}
	var device any // NULL keeps the stored value
	if t.SealedDevice != nil {
		device = t.SealedDevice
	}
	return newWriteReq(ctx, "touch", touchSQL, session.ErrNotFound,
		a.Location, a.AP, lastSeen, int64(t.Roams), octets(a.InputOctets), octets(a.OutputOctets),
		nasAddr(a.NAS.Addr), a.NAS.ID, a.NAS.AcctSessionID, device, t.ID), nil
}

// Revoke marks a session revoked; session.ErrNotFound if absent. Revoking a
// revoked session is not an error.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET revoked = 1, sealed_token = X'' WHERE id = ?`, id)
	if err != nil {
		return wrap("revoke", err)
	}
	if err := affected("revoke", res, session.ErrNotFound); err != nil {
		return err
	}
	return s.synced("revoke")
}

const deleteEndedSQL = `DELETE FROM sessions WHERE rowid IN (
	SELECT rowid FROM sessions WHERE expires < ?1
	UNION ALL SELECT rowid FROM sessions WHERE expires IS NULL
	UNION ALL SELECT rowid FROM sessions WHERE revoked != 0)`

// DeleteEnded removes the sessions that expired before the given time or were
// revoked, and returns how many.
func (s *Store) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	// A NULL expiry is the zero time, which is before any time. Each arm
	// is a search of an index (sessions_expires, sessions_revoked), not a
	// scan of every session (TestDeleteEndedUsesIndexes).
	res, err := s.w.ExecContext(ctx, deleteEndedSQL, bound(before))
	if err != nil {
		return 0, wrap("delete ended", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("delete ended", err)
	}
	return int(n), s.synced("delete ended")
}

// Live calls fn for every session that is not revoked and expires after now,
// in no particular order; it stops at fn's first error and returns it.
func (s *Store) Live(ctx context.Context, now time.Time, fn func(session.Record) error) error {
	return s.withActivity(ctx, "live", "", `SELECT `+columns+` FROM current_sessions WHERE revoked = 0 AND expires > ?`, []any{bound(now)}, fn)
}

type scanner interface{ Scan(dest ...any) error }

func scan(row scanner) (session.Record, error) {
	var (
		r                      session.Record
		key                    string
		random, revoked, cri   int64
		created, expires, seen sql.NullInt64
		in, out, roams         int64
		nas                    string
	)
	err := row.Scan(&r.ID, &key, &random, &r.Network, &r.Location, &r.CurrentLocation, &r.AP,
		&created, &expires, &seen, &in, &out, &roams, &revoked, &r.SealedToken,
		&nas, &r.NAS.ID, &r.NAS.AcctSessionID, &r.SealedDevice, &cri)
	if err != nil {
		return session.Record{}, err
	}
	if nas != "" {
		// A value that does not parse stays the zero address: it only
		// loses the Disconnect target, never grants anything.
		r.NAS.Addr, _ = netip.ParseAddr(nas)
	}
	r.MACKey = session.MACKey(key)
	r.RandomMAC = random != 0
	r.Revoked = revoked != 0
	r.Crisis = cri != 0
	r.Created, r.Expires, r.LastSeen = fromNanos(created), fromNanos(expires), fromNanos(seen)
	r.InputOctets, r.OutputOctets = uint64(in), uint64(out)
	r.Roams = int(roams)
	return r, nil
}

func nasAddr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// affected turns "no row changed" into the given sentinel.
func affected(op string, res sql.Result, none error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return wrap(op, none)
	}
	return nil
}

// octets maps "no value" (zero) to NULL and stores a uint64 bit for bit in
// SQLite's signed 64-bit INTEGER.
func octets(v uint64) any {
	if v == 0 {
		return nil
	}
	return int64(v)
}

// The times a Unix nanosecond count in an int64 can hold (1677-09-21 to
// 2262-04-11).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// toNanos maps the zero time to NULL and any other time to Unix nanoseconds.
func toNanos(t time.Time) (any, error) {
	ns, ok, err := nanos(t)
	if !ok {
		return nil, err
	}
	return ns, nil
}

// nanos is t in Unix nanoseconds; ok is false for the zero time (NULL) and
// for a time a column cannot hold (err).
func nanos(t time.Time) (ns int64, ok bool, err error) {
	if t.IsZero() {
		return 0, false, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, false, fmt.Errorf("time %s cannot be stored as Unix nanoseconds", t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), true, nil
}

// bound is t in Unix nanoseconds for a comparison, clamped to what a column
// can hold (the zero time is before every stored time).
func bound(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}
