package session

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The move journal (Options.Journal). Every move of every device must be
// durable within flushEvery, and on SQLite writing it there cost ~25 µs of
// CPU a move: the append to the activity log (~14 µs) and its fold into
// the session's row (~11 µs, about one 4-KiB page rewritten a move at a
// million sessions). That was the whole gap between roamgate and the null
// server under roaming load (docs/BENCHMARKS.md, "Phase 2, roaming: the
// whole gap, measured apart"). A journal makes a move durable with a few
// dozen bytes appended to a file and one fsync a flush for all of
// them; the store gets each moved session's newest values once per
// checkpoint (checkpointEvery), however often it moved meanwhile.
//
// A journal is a sequence of files moves-<seq>.journal in the data
// directory. Each starts with journalMagic and holds records, each the
// length and CRC-32C of its payload and the payload: a Touch (what
// Store.Touch would have been given). Records are written by the flush
// (the index's view of the sessions that changed) and by SeenDurable.
// A checkpoint starts a new file, hands the sealed files' touches to the
// store (TouchMany), oldest file first, and removes each once the store
// has it durably. At start-up the files left are applied to the records
// Live returns, oldest first, before the index is built: the index is
// what the store would have been had every touch gone to it. A torn
// record (a crash mid-write) ends its file's replay: it was never
// acknowledged.
//
// Only a store of one gateway may have a journal: the other gateways of a
// shared store read the moves from the store.

const (
	journalPrefix = "moves-"
	journalSuffix = ".journal"
	journalMagic  = "roamgate move journal 1\n"
	// checkpointEvery is how often the journal's moves are written to the
	// store. Each moved session is written once per checkpoint: at the
	// rates of a town's rush hour (a few thousand moves a second) most
	// sessions move several times in five minutes.
	checkpointEvery = 5 * time.Minute
	// journalMaxBytes starts a checkpoint early under a flood, so that a
	// file (read whole by the checkpoint and at start-up) stays small.
	journalMaxBytes = 64 << 20
	// maxJournalRecord bounds a record's payload: a longer length is a
	// torn or foreign file, not a record.
	maxJournalRecord = 1 << 16
	journalHeader    = 8 // payload length, CRC-32C
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Flags of a journal record's payload.
const (
	journalSeen   = 1 << iota // Activity.At is set
	journalSealed             // SealedDevice is set (nil: keep the stored one)
	journalNAS                // NAS.Addr is set
)

// appendJournalRecord appends t as one framed record. The ID must be a
// session ID (ValidID): it is stored as its 16 octets.
func appendJournalRecord(buf []byte, t Touch) ([]byte, error) {
	if !ValidID(t.ID) {
		return buf, fmt.Errorf("session: journal: %q is not a session ID", t.ID)
	}
	if t.Roams < 0 {
		return buf, fmt.Errorf("session: journal: session %s has %d roams", t.ID, t.Roams)
	}
	start := len(buf)
	buf = append(buf, make([]byte, journalHeader)...)
	var flags byte
	a := t.Activity
	if !a.At.IsZero() {
		flags |= journalSeen
	}
	if t.SealedDevice != nil {
		flags |= journalSealed
	}
	if a.NAS.Addr.IsValid() {
		flags |= journalNAS
	}
	buf = append(buf, flags)
	buf, _ = hex.AppendDecode(buf, []byte(t.ID)) // ValidID: it decodes
	if flags&journalSeen != 0 {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(a.At.UnixNano()))
	}
	buf = binary.AppendUvarint(buf, uint64(t.Roams))
	buf = binary.AppendUvarint(buf, a.InputOctets)
	buf = binary.AppendUvarint(buf, a.OutputOctets)
	for _, s := range [...]string{a.Location, a.AP, a.NAS.ID, a.NAS.AcctSessionID} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	if flags&journalNAS != 0 {
		addr, _ := a.NAS.Addr.MarshalBinary()
		buf = binary.AppendUvarint(buf, uint64(len(addr)))
		buf = append(buf, addr...)
	}
	if flags&journalSealed != 0 {
		buf = binary.AppendUvarint(buf, uint64(len(t.SealedDevice)))
		buf = append(buf, t.SealedDevice...)
	}
	payload := buf[start+journalHeader:]
	if len(payload) > maxJournalRecord {
		return buf[:start], fmt.Errorf("session: journal: record of %d bytes, at most %d", len(payload), maxJournalRecord)
	}
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, crc32c))
	return buf, nil
}

// errTornRecord ends a journal file's replay.
var errTornRecord = errors.New("torn or corrupt record")

// readJournalRecords calls fn for each whole record of a journal file's
// contents, in order, and returns how many bytes at the end were not a
// record (a write a crash cut short, or damage), and why.
func readJournalRecords(data []byte, fn func(Touch)) (ignored int, err error) {
	if !strings.HasPrefix(string(data), journalMagic) {
		return len(data), errors.New("not a move journal (bad header)")
	}
	rest := data[len(journalMagic):]
	for len(rest) > 0 {
		t, n, err := decodeJournalRecord(rest)
		if err != nil {
			return len(rest), err
		}
		fn(t)
		rest = rest[n:]
	}
	return 0, nil
}

// decodeJournalRecord decodes the framed record at the start of b and says
// how long it was.
func decodeJournalRecord(b []byte) (Touch, int, error) {
	if len(b) < journalHeader {
		return Touch{}, 0, errTornRecord
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n > maxJournalRecord || len(b)-journalHeader < n {
		return Touch{}, 0, errTornRecord
	}
	p := b[journalHeader : journalHeader+n]
	if crc32.Checksum(p, crc32c) != binary.LittleEndian.Uint32(b[4:]) {
		return Touch{}, 0, errTornRecord
	}
	t, ok := decodeJournalPayload(p)
	if !ok {
		return Touch{}, 0, errTornRecord
	}
	return t, journalHeader + n, nil
}

func decodeJournalPayload(p []byte) (t Touch, ok bool) {
	if len(p) < 17 {
		return t, false
	}
	flags := p[0]
	if flags&^(journalSeen|journalSealed|journalNAS) != 0 {
		return t, false
	}
	t.ID = hex.EncodeToString(p[1:17])
	p = p[17:]
	if flags&journalSeen != 0 {
		if len(p) < 8 {
			return t, false
		}
		t.Activity.At = time.Unix(0, int64(binary.LittleEndian.Uint64(p)))
		p = p[8:]
	}
	var scratch [binary.MaxVarintLen64]byte
	uvarint := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 || n != len(binary.AppendUvarint(scratch[:0], v)) { // only as appendJournalRecord writes it
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	field := func() ([]byte, bool) {
		n, ok := uvarint()
		if !ok || n > uint64(len(p)) {
			return nil, false
		}
		b := p[:n:n]
		p = p[n:]
		return b, true
	}
	roams, ok1 := uvarint()
	in, ok2 := uvarint()
	out, ok3 := uvarint()
	if !ok1 || !ok2 || !ok3 || roams > uint64(maxRoams) {
		return t, false
	}
	t.Roams, t.Activity.InputOctets, t.Activity.OutputOctets = int(roams), in, out
	for _, s := range [...]*string{&t.Activity.Location, &t.Activity.AP, &t.Activity.NAS.ID, &t.Activity.NAS.AcctSessionID} {
		b, ok := field()
		if !ok {
			return t, false
		}
		*s = string(b)
	}
	if flags&journalNAS != 0 {
		b, ok := field()
		if !ok || t.Activity.NAS.Addr.UnmarshalBinary(b) != nil || !t.Activity.NAS.Addr.IsValid() {
			return t, false
		}
	}
	if flags&journalSealed != 0 {
		b, ok := field()
		if !ok {
			return t, false
		}
		t.SealedDevice = append([]byte{}, b...)
	}
	return t, len(p) == 0
}

// maxRoams bounds a journal record's roam count to what an int holds.
const maxRoams = int(^uint(0) >> 1)

// applyTouch does to r what Store.Touch does to the stored record.
func applyTouch(r *Record, t Touch) {
	a := t.Activity
	r.CurrentLocation, r.AP, r.LastSeen, r.NAS, r.Roams = a.Location, a.AP, a.At, a.NAS, t.Roams
	if a.InputOctets != 0 {
		r.InputOctets = a.InputOctets
	}
	if a.OutputOctets != 0 {
		r.OutputOctets = a.OutputOctets
	}
	if t.SealedDevice != nil {
		r.SealedDevice = t.SealedDevice
	}
}

// mergeTouch makes into the one touch that does what into and then t do.
func mergeTouch(into *Touch, t Touch) {
	in, out, sealed := into.Activity.InputOctets, into.Activity.OutputOctets, into.SealedDevice
	*into = t
	if t.Activity.InputOctets == 0 {
		into.Activity.InputOctets = in
	}
	if t.Activity.OutputOctets == 0 {
		into.Activity.OutputOctets = out
	}
	if t.SealedDevice == nil {
		into.SealedDevice = sealed
	}
}

// journalTouches is the merged effect of journal files: one touch per
// session, in the order of each session's first record.
type journalTouches struct {
	at      map[string]int
	touches []Touch
}

func (jt *journalTouches) add(t Touch) {
	if jt.at == nil {
		jt.at = map[string]int{}
	}
	if i, ok := jt.at[t.ID]; ok {
		mergeTouch(&jt.touches[i], t)
		return
	}
	jt.at[t.ID] = len(jt.touches)
	jt.touches = append(jt.touches, t)
}

// journalPos is a place in the journal: a file and an offset in it.
type journalPos struct {
	seq uint64
	off int64
}

func (p journalPos) before(q journalPos) bool {
	return p.seq < q.seq || p.seq == q.seq && p.off < q.off
}

// journal is the file being written and the sealed files a checkpoint has
// not yet handed to the store.
type journal struct {
	dir string

	// syncMu orders fsyncs and file changes (rotate): a sync never
	// runs on a file being closed. Taken before mu.
	syncMu sync.Mutex
	synced journalPos
	// lost: records in file lost.seq after lost.off may not be durable
	// (an fsync failed, and a second one may not say so again).
	lost journalPos

	mu     sync.Mutex
	f      *os.File
	seq    uint64
	size   int64
	broken bool     // a write left bytes that are not a record: rotate before the next
	sealed []uint64 // older files, oldest first
	full   chan struct{}
}

// journalName is the file of sequence number seq.
func journalName(seq uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, seq, journalSuffix)
}

// openJournal opens the journal in dir: the files a previous run left are
// sealed (for replay and the next checkpoint), and a new one is started.
func openJournal(dir string) (*journal, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("session: journal: %w", err)
	}
	j := &journal{dir: dir, full: make(chan struct{}, 1)}
	for _, e := range entries {
		hexSeq, prefixed := strings.CutPrefix(e.Name(), journalPrefix)
		hexSeq, suffixed := strings.CutSuffix(hexSeq, journalSuffix)
		if !prefixed || !suffixed || len(hexSeq) != 16 {
			continue
		}
		seq, err := strconv.ParseUint(hexSeq, 16, 64)
		if err != nil {
			continue
		}
		j.sealed = append(j.sealed, seq)
	}
	slices.Sort(j.sealed)
	if len(j.sealed) > 0 {
		j.seq = j.sealed[len(j.sealed)-1]
	}
	f, err := j.create(j.seq + 1)
	if err != nil {
		return nil, err
	}
	j.seq++
	j.f, j.size = f, int64(len(journalMagic))
	j.synced = journalPos{j.seq, j.size}
	return j, nil
}

// create makes the file of seq, with its header, durable (the directory
// entry too: records fsynced into a file a crash forgets are lost).
func (j *journal) create(seq uint64) (*os.File, error) {
	if err := os.MkdirAll(j.dir, 0o700); err != nil {
		return nil, fmt.Errorf("session: journal: %w", err)
	}
	path := filepath.Join(j.dir, journalName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("session: journal: %w", err)
	}
	_, err = f.WriteString(journalMagic)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("session: journal: %w", err)
	}
	return f, nil
}

// syncDir makes the directory's entries durable (a file created or removed).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

var errJournalClosed = errors.New("session: journal: closed")

// write appends whole records and returns the position after them; they
// are durable once syncTo that position returns nil.
func (j *journal) write(records []byte) (journalPos, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return journalPos{}, errJournalClosed
	}
	if j.broken {
		return journalPos{}, errors.New("session: journal: the file's last write failed; waiting for a new file")
	}
	n, err := j.f.Write(records)
	if err != nil {
		// A partial record would end the file's replay there, and every
		// later record with it: cut it off, or start a new file.
		if n > 0 && j.f.Truncate(j.size) != nil {
			j.broken = true
			j.signalFull()
		}
		return journalPos{}, fmt.Errorf("session: journal: %w", err)
	}
	j.size += int64(n)
	if j.size >= journalMaxBytes {
		j.signalFull()
	}
	return journalPos{j.seq, j.size}, nil
}

func (j *journal) signalFull() {
	select {
	case j.full <- struct{}{}:
	default:
	}
}

// syncTo makes everything written up to p durable. Concurrent callers
// share an fsync: the one that runs covers every write before it.
func (j *journal) syncTo(p journalPos) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.lost.seq == p.seq && j.lost.before(p) {
		return errors.New("session: journal: a sync of the file failed")
	}
	if !j.synced.before(p) {
		return nil
	}
	j.mu.Lock()
	f, now := j.f, journalPos{j.seq, j.size}
	j.mu.Unlock()
	if f == nil {
		return errJournalClosed
	}
	// Sync, not Fdatasync: a record appended changes the file's size,
	// which fdatasync writes as well, and Sync is portable.
	if err := f.Sync(); err != nil {
		j.lost = j.synced
		j.mu.Lock()
		j.broken = true
		j.mu.Unlock()
		j.signalFull()
		return fmt.Errorf("session: journal: %w", err)
	}
	j.synced = now
	return nil
}

// rotate seals the current file (synced) and starts the next; with
// nothing written since the last rotation it keeps the file.
func (j *journal) rotate() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errJournalClosed
	}
	if j.size == int64(len(journalMagic)) && !j.broken {
		return nil
	}
	if !j.broken {
		if err := j.f.Sync(); err != nil {
			j.lost, j.broken = j.synced, true
			return fmt.Errorf("session: journal: %w", err)
		}
	}
	f, err := j.create(j.seq + 1)
	if err != nil {
		return err
	}
	j.f.Close()
	j.sealed = append(j.sealed, j.seq)
	j.seq++
	j.f, j.size, j.broken = f, int64(len(journalMagic)), false
	j.synced = journalPos{j.seq, j.size}
	return nil
}

// sealedFiles returns the sealed files' sequence numbers, oldest first.
func (j *journal) sealedFiles() []uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.sealed)
}

// read calls fn for each record of the sealed file seq, in order. ignored
// is how many bytes at its end were not records, and why the error; err
// is a failure to read the file.
func (j *journal) read(seq uint64, fn func(Touch)) (ignored int, why, err error) {
	data, err := os.ReadFile(filepath.Join(j.dir, journalName(seq)))
	if err != nil {
		return 0, nil, fmt.Errorf("session: journal: %w", err)
	}
	ignored, why = readJournalRecords(data, fn)
	return ignored, why, nil
}

// pendingFiles is how many files hold records the store has not been
// given: the sealed ones and the current one when it has records; full
// says the current one has passed journalMaxBytes.
func (j *journal) pendingFiles() (n int, full bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n = len(j.sealed)
	if j.f != nil && j.size > int64(len(journalMagic)) {
		n++
	}
	return n, j.f != nil && j.size >= journalMaxBytes
}

// remove deletes the sealed file seq, durably: a file back after a crash
// would be replayed over newer values.
func (j *journal) remove(seq uint64) error {
	if err := os.Remove(filepath.Join(j.dir, journalName(seq))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("session: journal: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		return fmt.Errorf("session: journal: %w", err)
	}
	j.mu.Lock()
	j.sealed = slices.DeleteFunc(j.sealed, func(s uint64) bool { return s == seq })
	j.mu.Unlock()
	return nil
}

// close closes the current file, and removes it when it holds no record.
func (j *journal) close() error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	empty := j.size == int64(len(journalMagic)) && !j.broken
	err := j.f.Sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f = nil
	if empty {
		if rerr := os.Remove(filepath.Join(j.dir, journalName(j.seq))); rerr == nil {
			syncDir(j.dir)
		}
	}
	if err != nil {
		return fmt.Errorf("session: journal: %w", err)
	}
	return nil
}

// find returns the place of id's merged touch; a nil jt has none.
func (jt *journalTouches) find(id string) (int, bool) {
	if jt == nil {
		return 0, false
	}
	i, ok := jt.at[id]
	return i, ok
}
