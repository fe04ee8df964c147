package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"strconv"
	"sync"

	"roamgate/session"
)

// TouchMany appends the touches of many sessions with one statement per
// touchChunk of them, their values in one JSON argument, instead of one
// statement each with twelve arguments. Per touch, database/sql's argument
// conversion, the driver's bindings and a request each were heap
// allocations: in the profile of make bench-radius with 5 % of the
// requests moving a session, 45 % of the bytes the server allocated, and
// so of its collections (docs/BENCHMARKS.md). Strings and the sealed
// device travel as hex, so that any octets an access point sent (a
// NAS-Identifier need not be UTF-8) are stored exactly as Touch stores
// them.
//
// jsonb_each, not json_each: it hands each touch's array to ->> as JSONB,
// where json_each turned it back into text for each of the eleven ->>
// (jsonEachColumn was a third of the statement's JSON work in the
// profile of BenchmarkTouchMany).
//
// The CROSS JOIN keeps the array as the outer loop (SQLite never reorders
// a CROSS JOIN, https://sqlite.org/optoverview.html#crossjoin), and
// jsonb_each walks an array in order, so the rows are appended in the order
// of the touches, as separate Touch calls would append them (an ORDER BY
// would sort them again in a temporary b-tree), and each touch finds its
// session through the ID's index (TestTouchManyFindsSessionsByIndex,
// TestTouchManyKeepsBytesAndOrder).
const touchManySQL = `INSERT INTO activity (sid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device)
SELECT s.rowid, s.id, CAST(unhex(t.value ->> 1) AS TEXT), CAST(unhex(t.value ->> 2) AS TEXT),
	t.value ->> 3, t.value ->> 4, t.value ->> 5, t.value ->> 6,
	CAST(unhex(t.value ->> 7) AS TEXT), CAST(unhex(t.value ->> 8) AS TEXT), CAST(unhex(t.value ->> 9) AS TEXT),
	unhex(t.value ->> 10)
FROM jsonb_each(CAST(? AS TEXT)) AS t CROSS JOIN sessions AS s ON s.id = CAST(unhex(t.value ->> 0) AS TEXT)`

// The argument is the JSON's octets, a BLOB to SQLite: jsonb_each would
// read a BLOB as JSONB, hence the CAST. As octets, not a string, the
// statements' JSON are slices of one pooled buffer instead of a copy each
// (12 % of the bytes the server allocated under roaming in make
// bench-radius; BenchmarkTouchMany: 603 bytes a touch before, 274 after).

// touchMissingSQL lists the touches (their places in the array) whose
// session does not exist; asked only when a statement appended fewer rows
// than it had touches.
const touchMissingSQL = `SELECT t.key FROM jsonb_each(CAST(? AS TEXT)) AS t
WHERE NOT EXISTS (SELECT 1 FROM sessions WHERE id = CAST(unhex(t.value ->> 0) AS TEXT))`

// touchChunk is how many touches one statement appends: restEvery's
// measure, so that a group commit of background touches still rests as
// often as when each touch was a statement.
const touchChunk = restEvery

// TouchMany does Touch for each of touches, in as few group commits as the
// batch size allows (see session.BatchToucher).
func (s *Store) TouchMany(ctx context.Context, touches []session.Touch, errs []error) {
	// Every statement's JSON is a part of buf, which no statement reads
	// once writeAll returned. A part stays valid when buf grows: its
	// octets stay where they were, in the array before.
	scratch := touchScratch.Get().(*[]byte)
	defer touchScratch.Put(scratch)
	buf := (*scratch)[:0]
	start := 0                              // of the statement's JSON in buf
	carried := make([]int, 0, len(touches)) // the touches the statements carry, in order
	missing := make([]bool, len(touches))   // by place in touches
	var reqs []writeReq
	var ends []int // reqs[j] carries carried[ends[j-1]:ends[j]]
	finish := func() {
		from := 0
		if len(ends) > 0 {
			from = ends[len(ends)-1]
		}
		if len(carried) == from {
			return
		}
		buf = append(buf, ']')
		arg := buf[start:len(buf):len(buf)]
		chunk := carried[from:]
		req := newWriteReq(ctx, "touch", touchManySQL, nil, arg)
		req.background, req.weight = true, len(chunk)
		req.check = func(tx *sql.Tx, res sql.Result) error { return touchedAll(tx, res, arg, chunk, missing) }
		reqs = append(reqs, req)
		ends = append(ends, len(carried))
		start = len(buf)
	}
	for i, t := range touches {
		lastSeen, seen, err := nanos(t.Activity.At)
		if err != nil {
			errs[i] = wrap("touch", err)
			continue
		}
		if len(buf) == start {
			buf = append(buf, '[')
		} else {
			buf = append(buf, ',')
		}
		buf = appendTouch(buf, t, lastSeen, seen)
		carried = append(carried, i)
		if len(carried)%touchChunk == 0 {
			finish()
		}
	}
	finish()
	*scratch = buf
	results := make([]error, len(reqs))
	s.batcher.writeAll(reqs, results)
	n, from := 0, 0
	for j, end := range ends {
		for _, i := range carried[from:end] {
			switch {
			case results[j] != nil:
				errs[i] = results[j]
			case missing[i]:
				errs[i] = wrap("touch", session.ErrNotFound)
			default:
				n++
			}
		}
		from = end
	}
	s.appended(n)
}

// touchScratch holds TouchMany's buffers for the JSON of its statements:
// one per call was 8 KiB allocated per 64 touches.
var touchScratch = sync.Pool{New: func() any { return new([]byte) }}

// touchedAll checks a statement of TouchMany, which carries the touches
// chunk (their places in TouchMany's touches): if it appended fewer rows
// than that, it marks in missing those whose session is missing, and says
// ErrNotFound when none was appended (so that the group commit knows
// nothing was written).
func touchedAll(tx *sql.Tx, res sql.Result, arg []byte, chunk []int, missing []bool) error {
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("touch", err)
	}
	if int(n) == len(chunk) {
		return nil
	}
	rows, err := tx.Query(touchMissingSQL, arg)
	if err != nil {
		return wrap("touch", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			return wrap("touch", err)
		}
		if k >= 0 && k < len(chunk) {
			missing[chunk[k]] = true
		}
	}
	if err := rows.Err(); err != nil {
		return wrap("touch", err)
	}
	if n == 0 {
		return wrap("touch", session.ErrNotFound)
	}
	return nil
}

// appendTouch appends t to a JSON array as touchManySQL reads it:
// [id, location, AP, last seen, roams, input octets, output octets, NAS
// address, NAS-Identifier, Acct-Session-Id, sealed device], the strings and
// the device in hex; null for no time, no octets (zero), and a nil device
// (keep the stored one).
func appendTouch(buf []byte, t session.Touch, lastSeen int64, seen bool) []byte {
	a := t.Activity
	buf = append(buf, '[')
	buf = appendHex(buf, t.ID)
	buf = append(buf, ',')
	buf = appendHex(buf, a.Location)
	buf = append(buf, ',')
	buf = appendHex(buf, a.AP)
	buf = append(buf, ',')
	if seen {
		buf = strconv.AppendInt(buf, lastSeen, 10)
	} else {
		buf = append(buf, "null"...)
	}
	buf = append(buf, ',')
	buf = strconv.AppendInt(buf, int64(t.Roams), 10)
	for _, o := range [...]uint64{a.InputOctets, a.OutputOctets} {
		buf = append(buf, ',')
		if o == 0 {
			buf = append(buf, "null"...)
		} else {
			buf = strconv.AppendInt(buf, int64(o), 10) // bit for bit, as octets
		}
	}
	buf = append(buf, ',', '"')
	if a.NAS.Addr.IsValid() {
		var text [64]byte
		buf = hex.AppendEncode(buf, a.NAS.Addr.AppendTo(text[:0]))
	}
	buf = append(buf, '"', ',')
	buf = appendHex(buf, a.NAS.ID)
	buf = append(buf, ',')
	buf = appendHex(buf, a.NAS.AcctSessionID)
	buf = append(buf, ',')
	if t.SealedDevice == nil {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, '"')
		buf = hex.AppendEncode(buf, t.SealedDevice)
		buf = append(buf, '"')
	}
	return append(buf, ']')
}

// appendHex appends s as a JSON string of its octets in hex.
func appendHex(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		const digits = "0123456789abcdef"
		buf = append(buf, digits[s[i]>>4], digits[s[i]&0xf])
	}
	return append(buf, '"')
}
