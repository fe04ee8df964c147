// Package probe is the one list of the captive-portal checks that operating
// systems and browsers make: the host each asks, the path, and the answer
// that tells it it is online.
//
// Both servers that meet a probe use it: the captive DNS (package dns)
// resolves every probe host to the portal while a client has no session,
// even when a walled-garden entry covers it, and the portal recognises a
// probe by host and path and gives a signed-in client exactly the answer its
// OS expects. The list knows nothing of sessions, DNS or HTTP servers; it
// imports only the standard library, so that both may import it.
package probe
