package session

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// journalSamples are touches with every field's edge: octets that are not
// UTF-8 (a NAS-Identifier need not be), a zero time, an empty sealed device
// (stored as given) beside a nil one (keep the stored one), an IPv6 NAS
// with a zone, the largest counters.
func journalSamples() []Touch {
	at := time.Date(2026, 12, 8, 7, 30, 0, 123456789, time.UTC)
	return []Touch{
		{ID: "0123456789abcdef0123456789abcdef", Roams: 3, SealedDevice: []byte{1, 2, 3},
			Activity: Activity{At: at, Location: "bahnhof", AP: "ap-bahnhof-1", InputOctets: 10, OutputOctets: 20,
				NAS: NAS{Addr: netip.MustParseAddr("192.0.2.7"), ID: "nas-1", AcctSessionID: "5f2a"}}},
		{ID: "ffffffffffffffffffffffffffffffff", Roams: maxRoams,
			Activity: Activity{Location: "br\xfcckerfeld\x00", AP: "\xff\xfe", InputOctets: ^uint64(0), OutputOctets: 1,
				NAS: NAS{Addr: netip.MustParseAddr("fe80::1%eth0"), ID: "\x80"}}},
		{ID: "00000000000000000000000000000000", SealedDevice: []byte{},
			Activity: Activity{At: time.Unix(0, -1)}},
	}
}

func TestJournalRecordRoundTrip(t *testing.T) {
	for _, want := range journalSamples() {
		rec, err := appendJournalRecord([]byte("prefix"), want)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec[:6]) != "prefix" {
			t.Fatal("appendJournalRecord changed what was in the buffer")
		}
		got, n, err := decodeJournalRecord(rec[6:])
		if err != nil || n != len(rec)-6 {
			t.Fatalf("decode %+v: n %d of %d, %v", want, n, len(rec)-6, err)
		}
		if !got.Activity.At.Equal(want.Activity.At) {
			t.Errorf("At = %v, want %v", got.Activity.At, want.Activity.At)
		}
		got.Activity.At, want.Activity.At = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decoded\n%#v\nwant\n%#v", got, want)
		}
	}
}

func TestJournalRefusesWhatItCannotReplay(t *testing.T) {
	for _, bad := range []Touch{
		{ID: "not-a-session-id"},
		{ID: "0123456789abcdef0123456789abcdef", Roams: -1},
		{ID: "0123456789abcdef0123456789abcdef", Activity: Activity{Location: string(make([]byte, maxJournalRecord))}},
	} {
		buf, err := appendJournalRecord([]byte("x"), bad)
		if err == nil {
			t.Errorf("appendJournalRecord(%.60v…) = nil error", bad)
		}
		if string(buf) != "x" {
			t.Errorf("a refused record left %d bytes in the buffer", len(buf)-1)
		}
	}
}

// journalFile is a journal file with the samples' records, and where each
// record ends.
func journalFile(t testing.TB) ([]byte, []int) {
	data := []byte(journalMagic)
	var ends []int
	for _, s := range journalSamples() {
		var err error
		if data, err = appendJournalRecord(data, s); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, len(data))
	}
	return data, ends
}

// TestJournalTornTailEndsReplay: a file cut anywhere (a crash mid-write)
// replays exactly the records before the cut, and says how many bytes
// were left.
func TestJournalTornTailEndsReplay(t *testing.T) {
	data, ends := journalFile(t)
	for cut := len(journalMagic); cut <= len(data); cut++ {
		whole, end := 0, len(journalMagic)
		for whole < len(ends) && ends[whole] <= cut {
			end = ends[whole]
			whole++
		}
		var got []Touch
		ignored, why := readJournalRecords(data[:cut], func(t Touch) { got = append(got, t) })
		if len(got) != whole || ignored != cut-end || (ignored > 0) != (why != nil) {
			t.Fatalf("cut at %d: %d records, %d bytes ignored (%v); want %d, %d", cut, len(got), ignored, why, whole, cut-end)
		}
	}
}

// TestJournalDamageEndsReplay: a flipped bit anywhere in a record ends the
// replay before that record; a file that is not a journal replays nothing.
func TestJournalDamageEndsReplay(t *testing.T) {
	data, ends := journalFile(t)
	start := len(journalMagic)
	for i, end := range ends {
		for at := start; at < end; at++ {
			for bit := range 8 {
				bad := bytes.Clone(data)
				bad[at] ^= 1 << bit
				n := 0
				ignored, why := readJournalRecords(bad, func(Touch) { n++ })
				// A flipped length may still frame a record whose CRC
				// fails: either way, nothing from record i on.
				if n != i || ignored != len(data)-start || why == nil {
					t.Fatalf("bit %d of byte %d (record %d) flipped: %d records replayed, %d bytes ignored, %v",
						bit, at, i, n, ignored, why)
				}
			}
		}
		start = end
	}
	if ignored, why := readJournalRecords([]byte("SQLite format 3\x00"), func(Touch) { t.Fatal("a record from a foreign file") }); ignored != 16 || why == nil {
		t.Errorf("foreign file: %d ignored, %v", ignored, why)
	}
}

// TestMergeTouchIsBothTouches: the checkpoint hands the store one merged
// touch per session; the store must end as it would after each touch.
func TestMergeTouchIsBothTouches(t *testing.T) {
	s := journalSamples()
	base := Record{Session: Session{CurrentLocation: "rathaus", InputOctets: 5, OutputOctets: 6}, SealedDevice: []byte{9}}
	for _, first := range s {
		for _, second := range s {
			second.ID = first.ID
			one := base
			applyTouch(&one, first)
			applyTouch(&one, second)
			merged := first
			mergeTouch(&merged, second)
			two := base
			applyTouch(&two, merged)
			if !reflect.DeepEqual(one, two) {
				t.Errorf("merged %+v then %+v:\n%+v\nwant\n%+v", first, second, two, one)
			}
		}
	}
}

// FuzzJournalRecords: any file replays without panic, and every record it
// yields encodes back to the same bytes.
func FuzzJournalRecords(f *testing.F) {
	data, _ := journalFile(f)
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Fuzz(func(t *testing.T, data []byte) {
		rest := data
		if len(rest) >= len(journalMagic) {
			rest = rest[len(journalMagic):]
		}
		readJournalRecords(data, func(tc Touch) {
			rec, err := appendJournalRecord(nil, tc)
			if err != nil {
				t.Fatalf("a replayed record does not encode: %v", err)
			}
			if !bytes.HasPrefix(rest, rec) {
				t.Fatalf("record %+v encodes to other bytes", tc)
			}
			rest = rest[len(rec):]
		})
	})
}
