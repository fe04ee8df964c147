// Package radius is roamgate's RADIUS server: it answers the access points'
// Access-Requests (MAC authentication: is there a live session for this
// device?) and Accounting-Requests, for the clients listed in its client table.
// It is not a session store and takes no decisions about sessions: it asks
// session (through the small Sessions interface) and turns the answer into
// RADIUS. Packet encoding and the attribute dictionaries are layeh.com/radius.
//
// # What the server guarantees
//
//   - A packet from an address in no client CIDR is dropped without an answer;
//     the longest matching prefix picks the client and so the shared secret.
//   - Message-Authenticator (RFC 3579 §3.2, RFC 2869 §5.14) is verified
//     whenever present; an Access-Request without one is dropped when the
//     client requires it (the default, the Blast-RADIUS defence). Every
//     Access-Accept and Access-Reject carries one as its first attribute.
//   - The Request Authenticator of an Accounting-Request is verified
//     (RFC 2866 §3); Proxy-State attributes are echoed in order.
//   - A malformed, forged or unsupported packet never gets an answer and never
//     crashes the server. Every drop is counted by reason (Server.Stats);
//     per-packet logging happens only at slog.LevelDebug.
//
// # Why not layeh's PacketServer
//
// layeh.com/radius.PacketServer starts one goroutine per datagram without
// bound, logs every dropped packet with the standard logger (a flood of
// forged packets becomes a flood of log lines), cannot say why it dropped a
// packet, encodes replies itself (so a Message-Authenticator cannot be placed
// first and signed) and forgets a request as soon as it has been answered. We
// use layeh for what it is good at — Parse, Packet, Attributes and the
// generated RFC and vendor dictionaries — and run our own packet loop:
//
//   - Each socket is read by a fixed number of workers (GOMAXPROCS, at least
//     two), each with its own buffer. A worker reads a datagram, handles it
//     and writes the reply; when all are busy, the kernel's socket buffer is
//     the queue. Concurrency is bounded and reading does not allocate.
//   - Handling is one function, Server.handle(listener, source, bytes) →
//     reply bytes or nil, with no I/O of its own. It is what the fuzz test
//     and the benchmark call, and where the RFC 5080 duplicate cache goes:
//     between authenticating the packet and dispatching it, keyed by client
//     address, port, code, identifier and Request Authenticator, with an
//     in-flight marker so a retransmission that arrives while the original
//     is being handled is dropped, and the cached reply bytes resent after.
//   - Replies are built as *layeh.Packet, so generated vendor attributes
//     (WISPr, ChilliSpot …) can be set on them, and encoded by one function
//     that puts the Message-Authenticator first and signs it before the
//     Response Authenticator.
package radius
