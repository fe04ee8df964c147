// Package session is the core every roamgate server shares: what a session is,
// how a device's MAC address becomes a privacy-preserving key, how session
// tokens (EdDSA JWTs) are issued and verified, and the Manager, the only place
// where sessions are created, found, moved and revoked.
//
// It is not a server and holds no storage of its own beyond an in-memory index
// for the RADIUS hot path; durable storage sits behind the Store interface
// (session/sqlite, embedded; session/redis, shared by several gateways).
package session
