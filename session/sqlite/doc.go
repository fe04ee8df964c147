// Package sqlite is the embedded session.Store: one SQLite file (modernc.org/sqlite,
// no cgo) in WAL mode, so that a sign-in is durable — it survives a crash,
// kill -9 or a power cut — as soon as Create returns. A commit is on stable
// storage before its writers are answered: the store's syncer process (this
// program started again, syncer.go) fsyncs the WAL, so that the wait for
// the disk leaves the Go scheduler free to answer RADIUS; without a syncer
// the writer commits with synchronous=FULL.
//
// It keeps only what session.Record holds: keyed MAC hashes and sealed tokens,
// never a MAC address, IP address or token in the clear. It is not a cache:
// the session.Manager keeps the in-memory index the RADIUS hot path reads.
package sqlite
