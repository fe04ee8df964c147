// Package sqlite is the embedded session.Store: one SQLite file (modernc.org/sqlite,
// no cgo) in WAL mode with synchronous=FULL, so that a sign-in is durable — it
// survives a crash or kill -9 — as soon as Create returns.
//
// It keeps only what session.Record holds: keyed MAC hashes and sealed tokens,
// never a MAC address, IP address or token in the clear. It is not a cache:
// the session.Manager keeps the in-memory index the RADIUS hot path reads.
package sqlite
