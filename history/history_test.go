package history

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"roamgate/internal/testtool"
	"roamgate/session"
)

func open(t *testing.T, now func() time.Time, reg prometheus.Registerer) *Recorder {
	t.Helper()
	r, err := Open(context.Background(), Options{
		Path: filepath.Join(t.TempDir(), "history.db"), Zone: time.UTC, Now: now, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	return r
}

func ev(kind session.EventKind, at time.Time, id, mac, network, loc, ap string) session.Event {
	return session.Event{Kind: kind, At: at, Session: session.Session{
		ID: id, MACKey: session.MACKey(mac), Network: network, Location: loc, CurrentLocation: loc, AP: ap,
	}}
}

func TestSeriesCountsEventsAndDistinctDevices(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	r := open(t, func() time.Time { return day.Add(30 * time.Hour) }, nil)
	h9, h10 := day.Add(9*time.Hour), day.Add(10*time.Hour)
	for _, e := range []session.Event{
		ev(session.EventSignIn, h9.Add(time.Minute), "s1", "k1", "wifi4eu", "bahnhof", "ap1"),
		ev(session.EventSignIn, h9.Add(2*time.Minute), "s2", "k2", "wifi4eu", "bahnhof", "ap1"),
		ev(session.EventRoam, h9.Add(50*time.Minute), "s1", "k1", "wifi4eu", "stadtpark", "ap7"),
		ev(session.EventRoam, h10.Add(5*time.Minute), "s1", "k1", "wifi4eu", "bahnhof", "ap1"),
		ev(session.EventSignIn, h10.Add(6*time.Minute), "s3", "", "stadt", "rathaus", "ap9"), // no MAC: counted by session
		ev(session.EventEnd, h10.Add(7*time.Minute), "s2", "k2", "wifi4eu", "bahnhof", "ap1"),
		ev(session.EventSignIn, day.Add(25*time.Hour), "s4", "k4", "wifi4eu", "bahnhof", "ap1"),
	} {
		r.Record(e)
	}
	ctx := context.Background()
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hours, err := r.Series(ctx, day.Add(8*time.Hour), day.Add(11*time.Hour), Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{
		{Start: day.Add(8 * time.Hour)},
		{Start: h9, SignIns: 2, Roams: 1, Devices: 2},
		{Start: h10, SignIns: 1, Roams: 1, Ends: 1, Devices: 2},
	}
	if len(hours) != len(want) {
		t.Fatalf("%d hourly points, want %d: %+v", len(hours), len(want), hours)
	}
	for i := range want {
		if !hours[i].Start.Equal(want[i].Start) || hours[i].SignIns != want[i].SignIns || hours[i].Roams != want[i].Roams ||
			hours[i].Ends != want[i].Ends || hours[i].Devices != want[i].Devices {
			t.Errorf("hour %d = %+v, want %+v", i, hours[i], want[i])
		}
	}
	days, err := r.Series(ctx, day, day.Add(48*time.Hour), Day)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].SignIns != 3 || days[0].Roams != 2 || days[0].Devices != 3 || days[1].SignIns != 1 || days[1].Devices != 1 {
		t.Fatalf("days = %+v (device s1 seen in two hours must count once a day)", days)
	}
	rows, err := r.Rows(ctx, day, day.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	wantRows := []Row{
		{Day: day, Network: "stadt", Location: "rathaus", AP: "ap9", SignIns: 1},
		{Day: day, Network: "wifi4eu", Location: "bahnhof", AP: "ap1", SignIns: 2, Roams: 1, Ends: 1},
		{Day: day, Network: "wifi4eu", Location: "stadtpark", AP: "ap7", Roams: 1},
	}
	if len(rows) != len(wantRows) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range wantRows {
		if rows[i] != wantRows[i] && !(rows[i].Day.Equal(wantRows[i].Day) && rows[i].Network == wantRows[i].Network &&
			rows[i].Location == wantRows[i].Location && rows[i].AP == wantRows[i].AP && rows[i].SignIns == wantRows[i].SignIns &&
			rows[i].Roams == wantRows[i].Roams && rows[i].Ends == wantRows[i].Ends) {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], wantRows[i])
		}
	}
}

// TestPurge proves the retention: raw events and device hashes go after
// retention.raw, the hourly counts stay until retention.aggregates.
func TestPurge(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := testtool.NewClock(start)
	reg := prometheus.NewRegistry()
	r := open(t, c.Now, reg)
	ctx := context.Background()
	r.Record(ev(session.EventSignIn, start, "s1", "k1", "wifi4eu", "bahnhof", "ap1"))
	r.Record(ev(session.EventSignIn, start.Add(6*24*time.Hour), "s2", "k2", "wifi4eu", "bahnhof", "ap1"))
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	count := func(table string) int {
		t.Helper()
		var n int
		if err := r.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name                          string
		now                           time.Time
		events, seen, hourly, devices int
	}{
		{"nothing is old yet", start.Add(6 * 24 * time.Hour), 2, 4, 2, 4},
		{"first event past retention.raw", start.Add(7*24*time.Hour + time.Hour), 1, 2, 2, 4},
		{"all raw data gone, counts kept", start.Add(30 * 24 * time.Hour), 0, 0, 2, 4},
		{"first counts past 400 days", start.Add(400*24*time.Hour + time.Hour), 0, 0, 1, 2},
		{"everything past 400 days", start.Add(410 * 24 * time.Hour), 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(tt.now)
			if _, err := r.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			got := [4]int{count("events"), count("seen"), count("hourly"), count("devices")}
			if want := [4]int{tt.events, tt.seen, tt.hourly, tt.devices}; got != want {
				t.Fatalf("events, seen, hourly, devices = %v, want %v", got, want)
			}
		})
	}
	if n := testutil.ToFloat64(r.m.purged.WithLabelValues("events")); n != 2 {
		t.Errorf("purged events metric = %v, want 2", n)
	}
	pts, err := r.Series(ctx, start, start.Add(time.Hour), Hour)
	if err != nil || len(pts) != 1 || pts[0].SignIns != 0 {
		t.Fatalf("series after purge = %+v, %v", pts, err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"default", DefaultConfig(), ""},
		{"raw too short", Config{Raw: time.Hour, Aggregates: 400 * 24 * time.Hour}, "retention.raw"},
		{"aggregates shorter than raw", Config{Raw: 48 * time.Hour, Aggregates: 24 * time.Hour}, "retention.aggregates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != (tt.want == "") || (err != nil && !contains(err.Error(), tt.want)) {
				t.Fatalf("Validate() = %v, want error naming %q", err, tt.want)
			}
		})
	}
}

func TestSeriesRejectsHugeRanges(t *testing.T) {
	r := open(t, nil, nil)
	now := time.Now()
	if _, err := r.Series(context.Background(), now.AddDate(-5, 0, 0), now, Hour); err == nil {
		t.Fatal("a five-year hourly series was not refused")
	}
	if _, err := r.Series(context.Background(), now, now.Add(-time.Hour), Hour); err == nil {
		t.Fatal("a backwards range was not refused")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestBatchCountsAsOneByOne proves that the writer's per-batch sums give the
// rows that writing the events one by one gives.
func TestBatchCountsAsOneByOne(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return day.Add(30 * time.Hour) }
	var events []session.Event
	for i := range 150 { // multi-row chunks of 64 and 8, and single rows (raw and hourly)
		at := day.Add(time.Duration(i) * 37 * time.Minute)
		kinds := []session.EventKind{session.EventSignIn, session.EventRoam, session.EventRoam, session.EventRebind, session.EventEnd, "other"}
		dev := []string{"k1", "k2", "k3", ""}[i%4]
		events = append(events, ev(kinds[i%len(kinds)], at, "s"+dev, dev, "wifi4eu", []string{"bahnhof", "stadtpark"}[i/3%2], "ap"+dev))
	}
	one, all := open(t, now, nil), open(t, now, nil)
	for _, e := range events {
		one.write([]item{{ev: e}})
	}
	batch := make([]item, len(events))
	for i, e := range events {
		batch[i] = item{ev: e}
	}
	all.write(batch)
	dump := func(r *Recorder) string {
		var b strings.Builder
		for _, q := range []string{
			`SELECT at || kind || network || location || ap || reason FROM events ORDER BY rowid`,
			`SELECT hour || network || location || ap || '=' || signins || roams || rebinds || ends FROM hourly ORDER BY 1`,
			`SELECT period || start || hex(device) FROM seen ORDER BY 1`,
			`SELECT period || start || '=' || count FROM devices ORDER BY 1`,
		} {
			rows, err := r.db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				b.WriteString(s + "\n")
			}
			rows.Close()
			b.WriteString("--\n")
		}
		return b.String()
	}
	if a, b := dump(one), dump(all); a != b || strings.Count(a, "\n") < 100 {
		t.Fatalf("one by one:\n%s\nin one batch:\n%s", a, b)
	}
	// The raw rows, as the events say, whatever statement inserted them.
	var want strings.Builder
	for _, e := range events {
		loc := e.Session.CurrentLocation
		if e.Kind == session.EventSignIn || loc == "" {
			loc = e.Session.Location
		}
		fmt.Fprintf(&want, "%d%s%s%s%s%s\n", e.At.Unix(), e.Kind, e.Session.Network, loc, e.Session.AP, e.Reason)
	}
	if got, _, _ := strings.Cut(dump(all), "--\n"); got != want.String() {
		t.Fatalf("raw events:\n%s\nwant:\n%s", got, want.String())
	}
	// The hourly counts too went in multi-row statements of both sizes.
	var hourly int
	if err := all.db.QueryRow(`SELECT count(*) FROM hourly`).Scan(&hourly); err != nil {
		t.Fatal(err)
	}
	if hourly < rowChunks[0]+rowChunks[1] {
		t.Fatalf("%d hourly rows: fewer than a chunk of each size, the test proves less than it says", hourly)
	}
}

// TestPurgeForgetsKnownDevices proves that a device whose seen rows Purge
// deleted is written and counted again, as when every event asked the file.
func TestPurgeForgetsKnownDevices(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	clock := day.Add(time.Hour)
	r := open(t, func() time.Time { return clock }, nil)
	ctx := context.Background()
	count := func(q string) int {
		var n int
		if err := r.db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	roam := ev(session.EventRoam, day.Add(time.Hour), "s1", "k1", "wifi4eu", "bahnhof", "ap1")
	for range 2 {
		r.Record(roam)
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s, d := count(`SELECT count(*) FROM seen`), count(`SELECT sum(count) FROM devices`); s != 2 || d != 2 {
		t.Fatalf("seen %d, devices %d, want 2 and 2", s, d)
	}
	clock = day.Add(30 * 24 * time.Hour)
	if _, err := r.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	r.Record(roam)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The counts are kept longer than the seen rows: the device counts
	// again in its hour and day, as it did when every event asked the file.
	if s, d := count(`SELECT count(*) FROM seen`), count(`SELECT sum(count) FROM devices`); s != 2 || d != 4 {
		t.Fatalf("after the purge: seen %d, devices %d, want 2 and 4 (the device's rows written again)", s, d)
	}
}

// TestRestartRecallsKnownDevices: a writer that starts in the middle of an
// hour reads the devices that hour and day already counted from the file
// (instead of asking it once per device), and counts them no second time.
func TestRestartRecallsKnownDevices(t *testing.T) {
	hour := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	clock := func() time.Time { return hour.Add(30 * time.Minute) }
	path := filepath.Join(t.TempDir(), "history.db")
	ctx := context.Background()
	openAt := func() *Recorder {
		r, err := Open(ctx, Options{Path: path, Zone: time.UTC, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	record := func(r *Recorder, mac string) {
		r.Record(ev(session.EventRoam, hour.Add(10*time.Minute), "s-"+mac, mac, "wifi4eu", "bahnhof", "ap1"))
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := openAt()
	record(r, "k1")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = openAt()
	defer r.Close()
	record(r, "k2")
	k1 := r.w.deviceTag(session.Session{ID: "s-k1", MACKey: "k1"})
	for _, p := range []periodKey{{"hour", hour.Unix()}, {"day", hour.Truncate(24 * time.Hour).Unix()}} {
		if _, ok := r.w.known[p][k1]; !ok {
			t.Errorf("the device counted before the restart is not known in %v (%d known)", p, len(r.w.known[p]))
		}
	}
	record(r, "k1")
	var seen, devices int
	if err := r.db.QueryRow(`SELECT (SELECT count(*) FROM seen), (SELECT sum(count) FROM devices)`).Scan(&seen, &devices); err != nil {
		t.Fatal(err)
	}
	if seen != 4 || devices != 4 {
		t.Fatalf("seen %d, devices %d, want 4 and 4 (two devices, each once an hour and once a day)", seen, devices)
	}
}

// TestRawEventsKeepOctets: whatever octets an access point or the
// configuration gave a name (not necessarily UTF-8, JSON's or SQL's
// special characters) are stored as they are, and the time as an integer.
func TestRawEventsKeepOctets(t *testing.T) {
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	r := open(t, func() time.Time { return at.Add(time.Hour) }, nil)
	odd := "\xff\xfe\"\\\x00\n\u00e4]},"
	events := []session.Event{
		ev(session.EventRoam, at, "s1", "k1", "wifi4eu"+odd, "brückerfeld", odd),
		ev(session.EventSignIn, at.Add(time.Second), "s2", "k2", "", "", ""),
	}
	events[0].Reason = session.EndReason(odd)
	batch := make([]item, len(events))
	for i, e := range events {
		batch[i] = item{ev: e}
	}
	r.write(batch)
	rows, err := r.db.Query(`SELECT at, typeof(at), kind, network, location, ap, reason FROM events ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var sec int64
		var typ, kind, network, location, ap, reason string
		if err := rows.Scan(&sec, &typ, &kind, &network, &location, &ap, &reason); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %q %q %q %q %q", sec, typ, kind, network, location, ap, reason))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("%d integer %q %q %q %q %q", at.Unix(), "roam", "wifi4eu"+odd, "brückerfeld", odd, odd),
		fmt.Sprintf("%d integer %q %q %q %q %q", at.Unix()+1, "signin", "", "", "", ""),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("raw events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
