package history

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Step is the width of a bucket of a Series.
type Step string

// Steps.
const (
	Hour Step = "hour"
	Day  Step = "day"
)

// Point is one bucket of a Series.
type Point struct {
	Start   time.Time `json:"start"`
	SignIns int       `json:"signins"`
	Roams   int       `json:"roams"`
	Ends    int       `json:"ends"`
	Devices int       `json:"devices"`
}

// maxBuckets bounds a Series, so that a query string cannot ask for a
// million points.
const maxBuckets = 24 * 400

// Series returns one Point per hour (UTC) or per day (in the recorder's
// zone) from the bucket holding from up to, not including, the bucket
// holding to; empty buckets are zero.
func (r *Recorder) Series(ctx context.Context, from, to time.Time, step Step) ([]Point, error) {
	starts, err := r.buckets(from, to, step)
	if err != nil {
		return nil, err
	}
	pts := make([]Point, len(starts))
	at := make(map[int64]int, len(starts))
	for i, s := range starts {
		pts[i].Start = s
		at[s.Unix()] = i
	}
	if len(starts) == 0 {
		return pts, nil
	}
	lo, hi := starts[0].Unix(), r.next(starts[len(starts)-1], step).Unix()
	rows, err := r.db.QueryContext(ctx, `SELECT hour, sum(signins), sum(roams), sum(ends) FROM hourly
		WHERE hour >= ? AND hour < ? GROUP BY hour`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("history: series: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hour int64
		var p Point
		if err := rows.Scan(&hour, &p.SignIns, &p.Roams, &p.Ends); err != nil {
			return nil, fmt.Errorf("history: series: %w", err)
		}
		key := hour
		if step == Day {
			key = r.dayStart(time.Unix(hour, 0)).Unix()
		}
		if i, ok := at[key]; ok {
			pts[i].SignIns += p.SignIns
			pts[i].Roams += p.Roams
			pts[i].Ends += p.Ends
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: series: %w", err)
	}
	drows, err := r.db.QueryContext(ctx, `SELECT start, count FROM devices WHERE period = ? AND start >= ? AND start < ?`,
		string(step), lo, hi)
	if err != nil {
		return nil, fmt.Errorf("history: series: %w", err)
	}
	defer drows.Close()
	for drows.Next() {
		var start int64
		var n int
		if err := drows.Scan(&start, &n); err != nil {
			return nil, fmt.Errorf("history: series: %w", err)
		}
		if i, ok := at[start]; ok {
			pts[i].Devices = n
		}
	}
	return pts, drows.Err()
}

func (r *Recorder) buckets(from, to time.Time, step Step) ([]time.Time, error) {
	var first time.Time
	switch step {
	case Hour:
		first = from.UTC().Truncate(time.Hour)
	case Day:
		first = r.dayStart(from)
	default:
		return nil, fmt.Errorf("history: unknown step %q", step)
	}
	if to.Before(from) {
		return nil, errors.New("history: range ends before it starts")
	}
	var out []time.Time
	for s := first; s.Before(to); s = r.next(s, step) {
		if len(out) == maxBuckets {
			return nil, fmt.Errorf("history: more than %d buckets asked for", maxBuckets)
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *Recorder) next(s time.Time, step Step) time.Time {
	if step == Hour {
		return s.Add(time.Hour)
	}
	// AddDate, not 24h: days around a DST change are 23 or 25 hours.
	return s.AddDate(0, 0, 1)
}

// Row is one day's counts at one access point: a line of the CSV report.
type Row struct {
	Day      time.Time
	Network  string
	Location string
	AP       string
	SignIns  int
	Roams    int
	Ends     int
}

// Rows returns the daily counts per network, location and access point of
// the days from the day holding from up to the day holding to, in order.
func (r *Recorder) Rows(ctx context.Context, from, to time.Time) ([]Row, error) {
	days, err := r.buckets(from, to, Day)
	if err != nil || len(days) == 0 {
		return nil, err
	}
	lo, hi := days[0].Unix(), r.next(days[len(days)-1], Day).Unix()
	rows, err := r.db.QueryContext(ctx, `SELECT hour, network, location, ap, signins, roams, ends FROM hourly
		WHERE hour >= ? AND hour < ? ORDER BY hour, network, location, ap`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("history: rows: %w", err)
	}
	defer rows.Close()
	type key struct {
		day          int64
		net, loc, ap string
	}
	idx := map[key]int{}
	var out []Row
	for rows.Next() {
		var hour int64
		var x Row
		if err := rows.Scan(&hour, &x.Network, &x.Location, &x.AP, &x.SignIns, &x.Roams, &x.Ends); err != nil {
			return nil, fmt.Errorf("history: rows: %w", err)
		}
		x.Day = r.dayStart(time.Unix(hour, 0))
		k := key{x.Day.Unix(), x.Network, x.Location, x.AP}
		if i, ok := idx[k]; ok {
			out[i].SignIns += x.SignIns
			out[i].Roams += x.Roams
			out[i].Ends += x.Ends
			continue
		}
		idx[k] = len(out)
		out = append(out, x)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Day.Equal(b.Day) {
			return a.Day.Before(b.Day)
		}
		if a.Network != b.Network {
			return a.Network < b.Network
		}
		if a.Location != b.Location {
			return a.Location < b.Location
		}
		return a.AP < b.AP
	})
	return out, rows.Err()
}
