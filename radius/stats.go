package radius

import "sync/atomic"

// Stats are the server's counters since New. They only grow.
type Stats struct {
	// Received counts the datagrams read on both sockets.
	Received uint64
	// Accepted and Rejected count the Access-Accepts and Access-Rejects sent.
	Accepted uint64
	Rejected uint64
	// AccountingResponses counts the Accounting-Responses sent.
	AccountingResponses uint64
	// Dropped counts the datagrams that got no answer, by reason.
	Dropped Drops
	// SendErrors counts replies the socket refused to send.
	SendErrors uint64
}

// Drops counts unanswered datagrams by reason.
type Drops struct {
	// UnknownClient: the source address is in no client's network.
	UnknownClient uint64
	// BadAuthenticator: a Message-Authenticator, or an Accounting-Request's
	// Request Authenticator, does not verify — a wrong secret or a forgery.
	BadAuthenticator uint64
	// MissingAuthenticator: an Access-Request without Message-Authenticator
	// from a client that requires one.
	MissingAuthenticator uint64
	// Malformed: the packet or its attributes are not well-formed RADIUS.
	Malformed uint64
	// Unsupported: a code this server does not answer on that port (only
	// Access-Request on the auth port and Accounting-Request on the
	// accounting port are answered).
	Unsupported uint64
}

// Total is the sum over all reasons.
func (d Drops) Total() uint64 {
	return d.UnknownClient + d.BadAuthenticator + d.MissingAuthenticator + d.Malformed + d.Unsupported
}

// dropReason says why a datagram got no answer; dropNone means it got one.
type dropReason uint8

const (
	dropNone dropReason = iota
	dropUnknownClient
	dropBadAuthenticator
	dropMissingAuthenticator
	dropMalformed
	dropUnsupported
	numDropReasons
)

func (r dropReason) String() string {
	switch r {
	case dropNone:
		return "none"
	case dropUnknownClient:
		return "unknown_client"
	case dropBadAuthenticator:
		return "bad_authenticator"
	case dropMissingAuthenticator:
		return "missing_authenticator"
	case dropMalformed:
		return "malformed"
	case dropUnsupported:
		return "unsupported"
	}
	return "unknown"
}

// counters are the live, lock-free form of Stats.
type counters struct {
	received            atomic.Uint64
	accepted            atomic.Uint64
	rejected            atomic.Uint64
	accountingResponses atomic.Uint64
	dropped             [numDropReasons]atomic.Uint64
	sendErrors          atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:            c.received.Load(),
		Accepted:            c.accepted.Load(),
		Rejected:            c.rejected.Load(),
		AccountingResponses: c.accountingResponses.Load(),
		Dropped: Drops{
			UnknownClient:        c.dropped[dropUnknownClient].Load(),
			BadAuthenticator:     c.dropped[dropBadAuthenticator].Load(),
			MissingAuthenticator: c.dropped[dropMissingAuthenticator].Load(),
			Malformed:            c.dropped[dropMalformed].Load(),
			Unsupported:          c.dropped[dropUnsupported].Load(),
		},
		SendErrors: c.sendErrors.Load(),
	}
}
