package history

import (
	"context"
	"crypto/sha256"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"roamgate/session"
)

//go:embed schema.sql
var schema string

// queueSize bounds the events waiting for the writer. OnEvent is called on
// the sign-in and RADIUS paths, which must never wait for the history: when
// the queue is full an event is dropped and counted.
const queueSize = 8192

// Options are the collaborators of a Recorder.
type Options struct {
	// Path of the SQLite file, normally <data_dir>/history.db.
	Path      string
	Retention Config
	// Zone draws the day boundaries of the daily counts; default time.Local.
	Zone *time.Location
	// Now defaults to time.Now.
	Now func() time.Time
	// Registerer gets the recorder's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Checkpoints, if set, is asked to checkpoint the file's WAL from now
	// on (the session store's syncer process, session/sqlite
	// Store.CheckpointAlso), so that the checkpoints' fsyncs do not hold
	// the only P of a process answering RADIUS on one core. If it returns
	// nil, the writer makes no automatic checkpoints; otherwise it makes
	// them itself, as SQLite does by default.
	Checkpoints func(path string) error
}

// Recorder writes session events to the history file in the background and
// answers questions about the past.
type Recorder struct {
	db   *sql.DB
	ret  Config
	zone *time.Location
	now  func() time.Time
	log  *slog.Logger
	m    metrics

	queue chan item
	w     writer // the writer goroutine's

	// purgeMu keeps Purge out of a batch; purgeGen counts purges.
	purgeMu  sync.Mutex
	purgeGen uint64

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// item is an event to write, or a flush marker (done != nil).
type item struct {
	ev   session.Event
	done chan error
}

type metrics struct {
	events  *prometheus.CounterVec
	dropped prometheus.Counter
	errors  prometheus.Counter
	purged  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roamgate_history_events_total",
			Help: "Session events written to the history, by kind.",
		}, []string{"kind"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roamgate_history_events_dropped_total",
			Help: "Session events dropped because the history writer was behind.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roamgate_history_write_errors_total",
			Help: "Batches of events the history could not write.",
		}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roamgate_history_purged_rows_total",
			Help: "Rows removed by retention, by table.",
		}, []string{"table"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.dropped, m.errors, m.purged)
	}
	return m
}

// Open opens (creating, mode 0600) the history file and starts the writer.
func Open(ctx context.Context, o Options) (*Recorder, error) {
	if o.Retention == (Config{}) {
		o.Retention = DefaultConfig()
	}
	if err := o.Retention.Validate(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if o.Zone == nil {
		o.Zone = time.Local
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil || o.Path == "" {
		return nil, fmt.Errorf("history: bad path %q", o.Path)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	f.Close()
	autoCheckpoint := "wal_autocheckpoint(1000)" // SQLite's default
	if o.Checkpoints != nil {
		if err := o.Checkpoints(abs); err != nil {
			o.Logger.Warn("history: checkpointing the WAL in this process", "err", err)
		} else {
			autoCheckpoint = "wal_autocheckpoint(0)"
		}
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: url.Values{
		// Statistics may lose the last moments before a power cut;
		// NORMAL keeps the file consistent without an fsync per batch.
		// The page cache as the session store's writer has it (see
		// session/sqlite writerCache): the seen-device index is written at
		// random places.
		"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)", "cache_size(-32768)", autoCheckpoint},
	}.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("history: open: %w", err)
	}
	// One connection: one writer, and readers are rare (a dashboard).
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: schema: %w", err)
	}
	r := &Recorder{
		db: db, ret: o.Retention, zone: o.Zone, now: o.Now, log: o.Logger,
		m:     newMetrics(o.Registerer),
		queue: make(chan item, queueSize),
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	if err := r.w.prepare(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("history: prepare: %w", err)
	}
	go r.loop()
	return r, nil
}

// Record queues an event; it never blocks. Pass it to
// session.Manager.OnEvent.
func (r *Recorder) Record(e session.Event) {
	select {
	case r.queue <- item{ev: e}:
	default:
		r.m.dropped.Inc()
	}
}

// Flush returns once every event queued before it is written.
func (r *Recorder) Flush(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.queue <- item{done: done}:
	case <-r.done:
		return errors.New("history: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued, stops the writer and closes the file.
func (r *Recorder) Close() error {
	r.closeOnce.Do(func() { close(r.stop) })
	<-r.done
	r.w.close()
	return r.db.Close()
}

// Ping tells whether the history file answers (for /readyz).
func (r *Recorder) Ping(ctx context.Context) error { return r.db.PingContext(ctx) }

// writeEvery is the shortest interval between two of the writer's
// transactions, unless a Flush asks: how long an event may wait to be
// written.
const writeEvery = 100 * time.Millisecond

// writeBatch is the most events one transaction writes: writeEvery's worth
// at 10 000 events a second, so that a steady stream (devices roaming at
// rush hour) is one transaction per writeEvery. Each transaction upserts
// the hourly row of every access point its events name and commits, so
// smaller batches cost more per event: at 256 a stream of 6 000 roams a
// second across 400 access points was about 24 transactions a second.
const writeBatch = 1024

// purgeEvery is how often the writer applies the retention.
const purgeEvery = time.Hour

func (r *Recorder) loop() {
	defer close(r.done)
	tick := time.NewTicker(purgeEvery)
	defer tick.Stop()
	batch := make([]item, 0, writeBatch)
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	var last time.Time
	for {
		select {
		case it := <-r.queue:
			batch = append(batch[:0], it)
			// Within writeEvery of the last write, gather the events of
			// the rest of that time (until a Flush asks, or the batch is
			// full): one transaction for them, not one each.
			if d := writeEvery - time.Since(last); it.done == nil && d > 0 {
				pace.Reset(d)
			gather:
				for len(batch) < cap(batch) {
					select {
					case it := <-r.queue:
						batch = append(batch, it)
						if it.done != nil {
							break gather
						}
					case <-pace.C:
						break gather
					case <-r.stop:
						break gather
					}
				}
				pace.Stop()
			}
			// Take what else is waiting: one transaction per burst.
			for more := true; more && len(batch) < cap(batch); {
				select {
				case it := <-r.queue:
					batch = append(batch, it)
				default:
					more = false
				}
			}
			r.write(batch)
			last = time.Now()
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := r.Purge(ctx); err != nil {
				r.log.Warn("history: purge", "err", err)
			}
			cancel()
		case <-r.stop:
			// What is still queued goes in batches too, not a
			// transaction per event.
			for {
				batch = batch[:0]
				for more := true; more && len(batch) < cap(batch); {
					select {
					case it := <-r.queue:
						batch = append(batch, it)
					default:
						more = false
					}
				}
				if len(batch) == 0 {
					return
				}
				r.write(batch)
			}
		}
	}
}

func (r *Recorder) write(batch []item) {
	w := &r.w
	w.events = w.events[:0]
	for _, it := range batch {
		if it.done == nil {
			w.events = append(w.events, it.ev)
		}
	}
	var err error
	if len(w.events) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = r.insert(ctx, w.events)
		cancel()
		if err != nil {
			r.m.errors.Inc()
			r.log.Warn("history: write", "events", len(w.events), "err", err)
		} else {
			for _, e := range w.events {
				r.eventCounter(e.Kind).Inc()
			}
		}
		clear(w.events) // drop the sessions until the next batch
	}
	for _, it := range batch {
		if it.done != nil {
			it.done <- err
		}
	}
}

// eventCounter is the events counter of kind, looked up once.
func (r *Recorder) eventCounter(kind session.EventKind) prometheus.Counter {
	c, ok := r.w.counters[kind]
	if !ok {
		c = r.m.events.WithLabelValues(string(kind))
		r.w.counters[kind] = c
	}
	return c
}

// writer is the state the writer goroutine keeps between batches, so that
// a batch allocates little: its prepared statements, and the batch's counts,
// which it writes once per row however many events of the batch add to it.
type writer struct {
	insertSeen, addDevices *sql.Stmt
	// Raw events and hourly counts go several rows to a statement: a
	// statement's round through database/sql and the VM costs more than
	// the row it adds (16 µs per roam event under make bench-radius; the
	// hourly upserts, one per access point a batch saw, took more than the
	// raw events after those were chunked).
	insertEvents, addHourly chunkedStmt
	args                    []any
	hourRows                []hourRow

	events   []session.Event
	hourly   map[hourKey]hourCounts
	seen     map[seenKey]struct{}
	devices  map[periodKey]int64
	tagBuf   []byte
	device   [tagSize]byte // the argument of insertSeen
	counters map[session.EventKind]prometheus.Counter

	// known are devices whose seen row of the newest hour and day the
	// writer has committed: their events need not ask the file again.
	// Purge forgets them (purgeGen), as it may delete those rows.
	known    map[periodKey]map[[tagSize]byte]struct{}
	knownGen uint64

	unrested int // rows written in this turn (wrote)
}

// restRows is how many rows the writer writes in one of the background
// writers' turns (session.BackgroundTurn); a transaction takes as many as
// it needs. A batch (writeEvery's events: ~250 at 50 000 RADIUS requests
// a second with 5 % roaming) was 6–9 ms of CPU in one piece, and with
// GOMAXPROCS 1, as in make bench-radius, nothing else ran meanwhile:
// those were among the longest gaps in the RADIUS answers
// (docs/BENCHMARKS.md, scripts/tracegaps); 64 rows are 0.2–0.6 ms. The
// transaction stays one (its upserts of hourly rows are what smaller
// batches would multiply); it holds only the history file's write lock,
// which no one else takes but Purge, which runs on this goroutine between
// batches. In an otherwise idle process the rest between two turns takes
// about a millisecond (Go's network poller waits in whole milliseconds):
// BenchmarkRecord went from 3.4–5.1 to 20–29 µs an event of wall time
// (the same CPU), still more than three times the most the writer takes
// (writeBatch per writeEvery).
const restRows = 64

// wrote counts n rows written and, once restRows have been, ends the
// turn and waits for the next.
func (w *writer) wrote(n int) {
	if w.unrested += n; w.unrested >= restRows {
		w.unrested = 0
		session.BackgroundDone()
		session.BackgroundTurn()
	}
}

// maxKnown bounds the devices the writer remembers per period (about 20 MB
// of map at most); beyond it, events ask the file, as they did before.
const maxKnown = 1 << 20

type hourKey struct {
	hour                  int64
	network, location, ap string
}

type hourRow struct {
	hourKey
	hourCounts
}

// hourCounts are the counted kinds, in the order of the hourly columns.
type hourCounts [4]int64

// countColumn is the index in hourCounts of the kinds that are counted.
var countColumn = map[session.EventKind]int{session.EventSignIn: 0, session.EventRoam: 1,
	session.EventRebind: 2, session.EventEnd: 3}

type periodKey struct {
	period string // "hour" or "day"
	start  int64
}

type seenKey struct {
	periodKey
	device [tagSize]byte
}

// rowChunks are the numbers of rows one statement writes, largest first;
// what is left of a batch after them goes one by one.
var rowChunks = [...]int{64, 8}

// chunkedStmt writes rows rowChunks at a time (stmts[i] writes
// rowChunks[i] rows; the last, one).
type chunkedStmt struct {
	stmts [len(rowChunks) + 1]*sql.Stmt
}

// prepare readies the statement for every chunk size: head, then n times
// the row's placeholders, then tail (8n parameters at most here, far below
// SQLite's limit of 32 766).
func (c *chunkedStmt) prepare(ctx context.Context, db *sql.DB, head, row, tail string) error {
	for i := range c.stmts {
		n := 1
		if i < len(rowChunks) {
			n = rowChunks[i]
		}
		st, err := db.PrepareContext(ctx, head+strings.TrimSuffix(strings.Repeat(row+",", n), ",")+tail)
		if err != nil {
			return err
		}
		c.stmts[i] = st
	}
	return nil
}

// exec writes rows rows on tx; appendRow appends row i's values to args,
// and wrote is told each statement's rows once it ran. args is the
// writer's buffer, handed back cleared.
func (c *chunkedStmt) exec(ctx context.Context, tx *sql.Tx, rows int, args []any, wrote func(int), appendRow func(args []any, i int) []any) ([]any, error) {
	// Clear the values of the last chunk: the buffer keeps no references.
	defer func() { clear(args) }()
	var inTx [len(rowChunks) + 1]*sql.Stmt // the statements on tx, as used
	for done := 0; done < rows; {
		i, n := len(rowChunks), 1
		for j, size := range rowChunks {
			if rows-done >= size {
				i, n = j, size
				break
			}
		}
		if inTx[i] == nil {
			inTx[i] = tx.StmtContext(ctx, c.stmts[i])
		}
		args = args[:0]
		for r := done; r < done+n; r++ {
			args = appendRow(args, r)
		}
		if _, err := inTx[i].ExecContext(ctx, args...); err != nil {
			return args[:0], err
		}
		wrote(n)
		done += n
	}
	return args[:0], nil
}

func (c *chunkedStmt) close() {
	for _, st := range c.stmts {
		if st != nil {
			st.Close()
		}
	}
}

const (
	insertEventsHead = `INSERT INTO events(at, kind, network, location, ap, reason) VALUES `
	insertEventsRow  = `(?,?,?,?,?,?)`
	addHourlyHead    = `INSERT INTO hourly(hour, network, location, ap, signins, roams, rebinds, ends) VALUES `
	addHourlyRow     = `(?,?,?,?,?,?,?,?)`
	// No row of a statement has the key of another (they come from a map),
	// so each conflict is with a row written before the statement.
	addHourlyTail = ` ON CONFLICT(hour, network, location, ap) DO UPDATE SET signins = signins + excluded.signins,
		roams = roams + excluded.roams, rebinds = rebinds + excluded.rebinds, ends = ends + excluded.ends`
	insertSeenSQL = `INSERT OR IGNORE INTO seen(period, start, device) VALUES (?,?,?)`
	addDevicesSQL = `INSERT INTO devices(period, start, count) VALUES (?,?,?)
		ON CONFLICT(period, start) DO UPDATE SET count = count + excluded.count`
)

// prepare readies the writer's statements on db.
func (w *writer) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{{&w.insertSeen, insertSeenSQL}, {&w.addDevices, addDevicesSQL}} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			w.close()
			return err
		}
		*p.stmt = st
	}
	if err := errors.Join(w.insertEvents.prepare(ctx, db, insertEventsHead, insertEventsRow, ""),
		w.addHourly.prepare(ctx, db, addHourlyHead, addHourlyRow, addHourlyTail)); err != nil {
		w.close()
		return err
	}
	w.hourly = map[hourKey]hourCounts{}
	w.seen = map[seenKey]struct{}{}
	w.devices = map[periodKey]int64{}
	w.known = map[periodKey]map[[tagSize]byte]struct{}{}
	w.counters = map[session.EventKind]prometheus.Counter{}
	return nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.insertSeen, w.addDevices} {
		if st != nil {
			st.Close()
		}
	}
	w.insertEvents.close()
	w.addHourly.close()
}

// insert writes the events in one transaction: each raw event, and the
// counts they add to, one row written per count however many events of the
// batch add to it (the same totals as counting event by event).
func (r *Recorder) insert(ctx context.Context, events []session.Event) error {
	w := &r.w
	// Purge, which deletes seen rows, runs between batches, never during
	// one.
	r.purgeMu.Lock()
	defer r.purgeMu.Unlock()
	if w.knownGen != r.purgeGen {
		clear(w.known)
		w.knownGen = r.purgeGen
	}
	clear(w.hourly)
	clear(w.seen)
	clear(w.devices)
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	session.BackgroundTurn()
	defer session.BackgroundDone()
	w.unrested = 0
	// The statements run without ctx's deadline: the transaction has it
	// (database/sql rolls it back when ctx ends, and every later statement
	// fails), and a statement with a deadline of its own costs the driver a
	// goroutine to interrupt it, several per event when events come one by
	// one. Waits for the file's lock end after busy_timeout either way.
	ctx = context.WithoutCancel(ctx)
	if err := w.insertRaw(ctx, tx, events); err != nil {
		return err
	}
	for _, e := range events {
		s := e.Session
		loc := eventLocation(e)
		at := e.At.UTC()
		col, ok := countColumn[e.Kind]
		if !ok {
			continue // a kind this version does not count
		}
		hour := at.Truncate(time.Hour).Unix()
		k := hourKey{hour, s.Network, loc, s.AP}
		c := w.hourly[k]
		c[col]++
		w.hourly[k] = c
		if e.Kind == session.EventEnd {
			continue // an ending device was counted when it was active
		}
		tag := w.deviceTag(s)
		for _, p := range [...]periodKey{{"hour", hour}, {"day", r.dayStart(at).Unix()}} {
			if err := w.recall(ctx, tx, p); err != nil {
				return err
			}
			if _, ok := w.known[p][tag]; !ok {
				w.seen[seenKey{p, tag}] = struct{}{}
			}
		}
	}
	w.hourRows = w.hourRows[:0]
	for k, c := range w.hourly {
		w.hourRows = append(w.hourRows, hourRow{k, c})
	}
	if w.args, err = w.addHourly.exec(ctx, tx, len(w.hourRows), w.args, w.wrote, func(args []any, i int) []any {
		r := &w.hourRows[i]
		return append(args, r.hour, r.network, r.location, r.ap, r.hourCounts[0], r.hourCounts[1], r.hourCounts[2], r.hourCounts[3])
	}); err != nil {
		return err
	}
	if len(w.seen) > 0 {
		insertSeen := tx.StmtContext(ctx, w.insertSeen)
		for k := range w.seen {
			w.device = k.device
			res, err := insertSeen.ExecContext(ctx, k.period, k.start, w.device[:])
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				w.devices[k.periodKey]++
			}
			w.wrote(1)
		}
	}
	if len(w.devices) > 0 {
		addDevices := tx.StmtContext(ctx, w.addDevices)
		for k, n := range w.devices {
			if _, err := addDevices.ExecContext(ctx, k.period, k.start, n); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.remember()
	return nil
}

// eventLocation is where an event happened: a sign-in where the session
// started, anything else where the device was last.
func eventLocation(e session.Event) string {
	if loc := e.Session.CurrentLocation; e.Kind != session.EventSignIn && loc != "" {
		return loc
	}
	return e.Session.Location
}

// insertRaw inserts the raw events, as many per statement as rowChunks
// allow, the rest one by one.
func (w *writer) insertRaw(ctx context.Context, tx *sql.Tx, events []session.Event) (err error) {
	w.args, err = w.insertEvents.exec(ctx, tx, len(events), w.args, w.wrote, func(args []any, i int) []any {
		e := &events[i]
		s := &e.Session
		return append(args, e.At.Unix(), string(e.Kind), s.Network, eventLocation(*e), s.AP, string(e.Reason))
	})
	return err
}

// recall fills known for p from the file the first time p is needed, if
// it is the newest period of its kind: a process that starts (or purged)
// in the middle of an hour would otherwise ask the file once for every
// device active that hour and day, about 10 µs each (an INSERT OR IGNORE
// into a large B-tree), where one read of the period's rows costs ~1 µs
// a device. (Under make bench-radius with roaming, a fresh server's
// history writer spent most of its time on those inserts.)
func (w *writer) recall(ctx context.Context, tx *sql.Tx, p periodKey) (err error) {
	set, started := w.knownSet(p)
	if !started {
		return nil
	}
	defer func() {
		if err != nil {
			delete(w.known, p) // read again next time
		}
	}()
	rows, err := tx.QueryContext(ctx, `SELECT device FROM seen WHERE period = ? AND start = ? LIMIT ?`, p.period, p.start, maxKnown)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if len(b) == tagSize {
			set[[tagSize]byte(b)] = struct{}{}
		}
	}
	return rows.Err()
}

// knownSet returns the devices known for p. For the newest period of its
// kind it starts the set if there is none (started), forgetting the older
// period's; for an older period it returns nil: its events ask the file.
func (w *writer) knownSet(p periodKey) (set map[[tagSize]byte]struct{}, started bool) {
	if set, ok := w.known[p]; ok {
		return set, false
	}
	for k := range w.known {
		if k.period == p.period && k.start > p.start {
			return nil, false
		}
	}
	for k := range w.known {
		if k.period == p.period {
			delete(w.known, k)
		}
	}
	set = map[[tagSize]byte]struct{}{}
	w.known[p] = set
	return set, true
}

// remember adds the devices of the committed batch to known, for the newest
// hour and day only.
func (w *writer) remember() {
	for k := range w.seen {
		set, _ := w.knownSet(k.periodKey)
		if set == nil {
			continue
		}
		if len(set) < maxKnown {
			set[k.device] = struct{}{}
		}
	}
}

// tagSize is the length of a device tag.
const tagSize = 12

// deviceTag identifies a device within the history: a short hash of the
// session's MAC key (itself a keyed hash), or of the session ID when the
// access point did not tell the MAC.
func (w *writer) deviceTag(s session.Session) [tagSize]byte {
	b := append(w.tagBuf[:0], "roamgate history device v1\x00"...)
	if s.MACKey == "" {
		b = append(append(b, "session:"...), s.ID...)
	} else {
		b = append(append(b, "mac:"...), s.MACKey...)
	}
	w.tagBuf = b
	sum := sha256.Sum256(b)
	return [tagSize]byte(sum[:tagSize])
}

func (r *Recorder) dayStart(t time.Time) time.Time {
	t = t.In(r.zone)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, r.zone)
}

// PurgeReport says how many rows retention removed.
type PurgeReport struct {
	Events, Seen, Hourly, Devices int64
}

// Purge applies the retention now: raw events and device hashes older than
// Config.Raw, counts older than Config.Aggregates. The writer calls it every
// hour.
func (r *Recorder) Purge(ctx context.Context) (PurgeReport, error) {
	var rep PurgeReport
	r.purgeMu.Lock()
	defer r.purgeMu.Unlock()
	r.purgeGen++
	now := r.now()
	raw := now.Add(-r.ret.Raw).Unix()
	agg := now.Add(-r.ret.Aggregates).Unix()
	steps := []struct {
		table, query string
		arg          int64
		n            *int64
	}{
		{"events", `DELETE FROM events WHERE at < ?`, raw, &rep.Events},
		{"seen", `DELETE FROM seen WHERE start < ?`, raw, &rep.Seen},
		{"hourly", `DELETE FROM hourly WHERE hour < ?`, agg, &rep.Hourly},
		{"devices", `DELETE FROM devices WHERE start < ?`, agg, &rep.Devices},
	}
	for _, s := range steps {
		res, err := r.db.ExecContext(ctx, s.query, s.arg)
		if err != nil {
			return rep, fmt.Errorf("history: purge %s: %w", s.table, err)
		}
		*s.n, _ = res.RowsAffected()
		r.m.purged.WithLabelValues(s.table).Add(float64(*s.n))
	}
	return rep, nil
}

// RawEvents counts the raw events kept (for tests and the dashboard footer).
func (r *Recorder) RawEvents(ctx context.Context) (int, error) {
	var n int
	err := r.db.QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n)
	return n, err
}
