// Package ratelimit slows down clients that try something too often: a
// Limiter counts events per key (a client address, a keyed MAC hash, a user
// name with an address) and says how long a key must wait before its next
// try, under a Policy. Two policies cover roamgate's uses: Window, a fixed
// number of events per period (the portal's sign-ins), and Backoff, a
// doubling delay after some free failures (the admin's password checks).
//
// Every table is bounded, so that a flood of new keys cannot grow it without
// end: when it is full, keys the policy has forgotten go first, then the key
// whose wait ends soonest (the least slowed down).
//
// It is not for hot paths: one mutex guards the table and keys are strings.
// The captive DNS keeps its own sharded limiter per client address
// (dns/ratelimit.go), which takes no common lock and allocates nothing per
// query.
package ratelimit
