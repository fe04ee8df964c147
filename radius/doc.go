// Package radius is roamgate's RADIUS server: it answers the access points'
// Access-Requests (MAC authentication: is there a live session for this
// device? UAM: is this the session's password?), records their
// Accounting-Requests, answers Status-Server, and sends Disconnect- and
// CoA-Requests (RFC 5176) to them when a session ends. It is not a session
// store and takes no decisions about sessions: it asks session (through the
// small Sessions interface) and turns the answer into RADIUS. Packet types,
// codes and the attribute dictionaries are layeh.com/radius; the WISPr,
// ChilliSpot, Airespace and Aruba dictionaries are generated into
// radius/vendors.
//
// # What the server guarantees
//
//   - A packet from an address in no client CIDR is dropped without an answer;
//     the longest matching prefix picks the client and so the shared secret.
//     A client outside loopback needs a secret of at least 16 characters.
//   - Blast-RADIUS (CVE-2024-3596): Message-Authenticator (RFC 3579 §3.2) is
//     verified whenever present; an Access-Request without one is dropped
//     when the client requires it (the default), and one that carries
//     Proxy-State without it is dropped always (FreeRADIUS's
//     limit_proxy_state). Every Access-Accept and Access-Reject carries a
//     Message-Authenticator as its first attribute.
//   - The Request Authenticator of an Accounting-Request is verified
//     (RFC 2866 §3); Proxy-State attributes are echoed in order.
//   - A retransmission (same source, port, code, identifier and Request
//     Authenticator) within DuplicateWindow gets the first reply byte for
//     byte, without the handler running again (RFC 5080 §2.2.2); one that
//     arrives while the original is still being handled is dropped, since
//     the original's reply answers it. A new request reusing an identifier
//     replaces the cached one.
//   - An Accounting-Response is sent once the record is stored
//     (Sessions.SeenDurable), or, while the store is away, once the session
//     manager holds it in its bounded buffer of pending writes (written when
//     the store returns). Only when that buffer is full is there no answer,
//     and the access point retransmits.
//   - Disconnect- and CoA-Requests (RFC 5176) go out in the dialect of the
//     client's access-point implementation (dialect.go: which attributes
//     identify the device, how its MAC is written, whether the request is
//     signed, whether CoA exists at all — each rule cited from the vendor's
//     source), from the authentication socket's address, to the client's
//     das_address or else the NAS's address.
//   - A malformed, forged or unsupported packet never gets an answer and never
//     crashes the server. Every drop is counted by reason (Server.Stats and
//     the roamgate_radius_… Prometheus metrics); per-packet logging happens
//     only at slog.LevelDebug.
//
// # Why not layeh's PacketServer
//
// layeh.com/radius.PacketServer starts one goroutine per datagram without
// bound, logs every dropped packet with the standard logger (a flood of
// forged packets becomes a flood of log lines), cannot say why it dropped a
// packet, encodes replies itself (so a Message-Authenticator cannot be placed
// first and signed) and forgets a request as soon as it has been answered. We
// use layeh for what it is good at — codes, attribute types, the generated
// RFC and vendor dictionaries, the Disconnect/CoA client's packets — and run
// our own packet loop:
//
//   - One reader per socket reads datagrams in batches (recvmmsg) into a
//     bounded queue; when the queue is full, datagrams are dropped and
//     counted as overload instead of piling up behind requests the access
//     points have already given up on. Workers (GOMAXPROCS for
//     authentication, more for accounting, whose durable write waits on the
//     disk) handle a batch and send its replies in one sendmmsg. The sockets
//     ask the kernel for large buffers to absorb bursts.
//   - Handling is one function, Server.handle(listener, source, bytes,
//     reply buffer) → reply bytes or nil, with no I/O of its own but the
//     Sessions calls. It is what the fuzz tests and the benchmark call. It
//     checks the client, framing and authenticators first (cheap for us,
//     costly for an attacker), reads the attributes in place (no copy of
//     the packet), then asks the duplicate cache, and builds the reply in
//     the worker's buffer for the datagram; the duplicate cache copies it
//     into a buffer of its own that it reuses, so that answering a device
//     where its session already is allocates nothing. A worker runs it in
//     two halves over a batch (begin up to the duplicate cache for every
//     datagram, then finish for each), and between them has the Sessions
//     read the index lines of all the batch's MAC lookups at once
//     (session.Manager.Warm), so that their cache misses overlap.
//   - An Access-Request from where its session already is (same location,
//     AP and NAS, seen within the last 5 minutes and a quarter of the idle
//     timeout) records nothing: the hot path is
//     the session index lookup and two MD5-based signatures.
package radius
