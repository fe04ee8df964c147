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

	queue     chan item
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
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: url.Values{
		// Statistics may lose the last moments before a power cut;
		// NORMAL keeps the file consistent without an fsync per batch.
		"_pragma": {"busy_timeout(5000)", "journal_mode(WAL)", "synchronous(NORMAL)"},
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
	return r.db.Close()
}

// Ping tells whether the history file answers (for /readyz).
func (r *Recorder) Ping(ctx context.Context) error { return r.db.PingContext(ctx) }

// purgeEvery is how often the writer applies the retention.
const purgeEvery = time.Hour

func (r *Recorder) loop() {
	defer close(r.done)
	tick := time.NewTicker(purgeEvery)
	defer tick.Stop()
	batch := make([]item, 0, 256)
	for {
		select {
		case it := <-r.queue:
			batch = append(batch[:0], it)
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
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := r.Purge(ctx); err != nil {
				r.log.Warn("history: purge", "err", err)
			}
			cancel()
		case <-r.stop:
			for {
				select {
				case it := <-r.queue:
					r.write([]item{it})
				default:
					return
				}
			}
		}
	}
}

func (r *Recorder) write(batch []item) {
	var events []session.Event
	for _, it := range batch {
		if it.done == nil {
			events = append(events, it.ev)
		}
	}
	var err error
	if len(events) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = r.insert(ctx, events)
		cancel()
		if err != nil {
			r.m.errors.Inc()
			r.log.Warn("history: write", "events", len(events), "err", err)
		} else {
			for _, e := range events {
				r.m.events.WithLabelValues(string(e.Kind)).Inc()
			}
		}
	}
	for _, it := range batch {
		if it.done != nil {
			it.done <- err
		}
	}
}

func (r *Recorder) insert(ctx context.Context, events []session.Event) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range events {
		s := e.Session
		loc := s.CurrentLocation
		if e.Kind == session.EventSignIn || loc == "" {
			loc = s.Location
		}
		at := e.At.UTC()
		if _, err := tx.ExecContext(ctx, `INSERT INTO events(at, kind, network, location, ap, reason) VALUES (?,?,?,?,?,?)`,
			at.Unix(), string(e.Kind), s.Network, loc, s.AP, string(e.Reason)); err != nil {
			return err
		}
		col := map[session.EventKind]string{session.EventSignIn: "signins", session.EventRoam: "roams",
			session.EventRebind: "rebinds", session.EventEnd: "ends"}[e.Kind]
		if col == "" {
			continue // a kind this version does not count
		}
		hour := at.Truncate(time.Hour).Unix()
		if _, err := tx.ExecContext(ctx, `INSERT INTO hourly(hour, network, location, ap, `+col+`) VALUES (?,?,?,?,1)
			ON CONFLICT(hour, network, location, ap) DO UPDATE SET `+col+` = `+col+` + 1`,
			hour, s.Network, loc, s.AP); err != nil {
			return err
		}
		if e.Kind == session.EventEnd {
			continue // an ending device was counted when it was active
		}
		tag := deviceTag(s)
		for _, p := range []struct {
			period string
			start  int64
		}{{"hour", hour}, {"day", r.dayStart(at).Unix()}} {
			res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO seen(period, start, device) VALUES (?,?,?)`, p.period, p.start, tag)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				if _, err := tx.ExecContext(ctx, `INSERT INTO devices(period, start, count) VALUES (?,?,1)
					ON CONFLICT(period, start) DO UPDATE SET count = count + 1`, p.period, p.start); err != nil {
					return err
				}
			}
		}
	}
	return tx.Commit()
}

// deviceTag identifies a device within the history: a short hash of the
// session's MAC key (itself a keyed hash), or of the session ID when the
// access point did not tell the MAC.
func deviceTag(s session.Session) []byte {
	in := "mac:" + string(s.MACKey)
	if s.MACKey == "" {
		in = "session:" + s.ID
	}
	sum := sha256.Sum256([]byte("roamgate history device v1\x00" + in))
	return sum[:12]
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
