package radius

import "sync/atomic"

// Stats are the server's counters since New. They only grow.
type Stats struct {
	// Received counts the datagrams read on both sockets.
	Received uint64
	// Accepted and Rejected count the Access-Accepts and Access-Rejects sent
	// in answer to Access-Requests (not resent duplicates, not Status-Server).
	Accepted uint64
	Rejected uint64
	// AccountingResponses counts the Accounting-Responses sent in answer to
	// Accounting-Requests.
	AccountingResponses uint64
	// StatusServer counts the Status-Server requests answered (RFC 5997).
	StatusServer uint64
	// Resent counts retransmissions answered from the duplicate cache
	// (RFC 5080 §2.2.2), without running the handler again.
	Resent uint64
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
	// from a client that requires one, or a Status-Server without one.
	MissingAuthenticator uint64
	// ProxyState: an Access-Request with Proxy-State but without
	// Message-Authenticator (FreeRADIUS's limit_proxy_state, the
	// Blast-RADIUS defence for clients that cannot be required to sign).
	ProxyState uint64
	// Malformed: the packet or its attributes are not well-formed RADIUS.
	Malformed uint64
	// Unsupported: a code this server does not answer on that port.
	Unsupported uint64
	// InFlight: a retransmission of a request still being handled; the
	// reply will answer it (RFC 5080 §2.2.2).
	InFlight uint64
	// Overload: the socket's queue was full.
	Overload uint64
	// StoreError: an accounting record could not be stored; the access
	// point will retransmit.
	StoreError uint64
}

// Total is the sum over all reasons.
func (d Drops) Total() uint64 {
	return d.UnknownClient + d.BadAuthenticator + d.MissingAuthenticator + d.ProxyState +
		d.Malformed + d.Unsupported + d.InFlight + d.Overload + d.StoreError
}

// dropReason says why a datagram got no answer; dropNone means it got one.
type dropReason uint8

const (
	dropNone dropReason = iota
	dropUnknownClient
	dropBadAuthenticator
	dropMissingAuthenticator
	dropProxyState
	dropMalformed
	dropUnsupported
	dropInFlight
	dropOverload
	dropStoreError
	numDropReasons
)

var dropNames = [numDropReasons]string{
	dropNone:                 "none",
	dropUnknownClient:        "unknown_client",
	dropBadAuthenticator:     "bad_authenticator",
	dropMissingAuthenticator: "missing_authenticator",
	dropProxyState:           "proxy_state_without_authenticator",
	dropMalformed:            "malformed",
	dropUnsupported:          "unsupported",
	dropInFlight:             "duplicate_in_flight",
	dropOverload:             "overload",
	dropStoreError:           "store_error",
}

func (r dropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// verdict is why an Access-Request was accepted or rejected.
type verdict uint8

const (
	acceptMAC verdict = iota
	acceptPAP
	acceptCHAP
	rejectNoSession
	rejectNoMAC
	rejectMACMismatch
	rejectBadPassword
	rejectWrongDevice
	numVerdicts
)

var verdictNames = [numVerdicts]string{
	acceptMAC:         "mac",
	acceptPAP:         "uam_pap",
	acceptCHAP:        "uam_chap",
	rejectNoSession:   "no_session",
	rejectNoMAC:       "no_mac",
	rejectMACMismatch: "mac_mismatch",
	rejectBadPassword: "bad_password",
	rejectWrongDevice: "uam_wrong_device",
}

func (v verdict) accept() bool { return v <= acceptCHAP }

// acctStatus is an authentic Accounting-Request's Acct-Status-Type, as
// counted: whether an access point sends Start, Interim-Update and Stop at
// all is the first thing to check when sessions show no location or octets.
type acctStatus uint8

const (
	acctStart acctStatus = iota
	acctInterim
	acctStop
	acctOn
	acctOff
	acctOther
	numAcctStatus
)

var acctStatusNames = [numAcctStatus]string{
	acctStart:   "start",
	acctInterim: "interim_update",
	acctStop:    "stop",
	acctOn:      "accounting_on",
	acctOff:     "accounting_off",
	acctOther:   "other",
}

// counters are the live, lock-free form of Stats.
type counters struct {
	received            atomic.Uint64
	accountingResponses atomic.Uint64
	accounting          [numAcctStatus]atomic.Uint64
	statusServer        atomic.Uint64
	resent              atomic.Uint64
	verdicts            [numVerdicts]atomic.Uint64
	dropped             [numDropReasons]atomic.Uint64
	sendErrors          atomic.Uint64
	disconnects         [numCoAResults]atomic.Uint64
	disconnectSkipped   atomic.Uint64 // no NAS known
	disconnectOverload  atomic.Uint64
	disconnectErrors    atomic.Uint64
	reauths             [numCoAResults]atomic.Uint64 // CoA after sign-in, by answer
	reauthUnsupported   atomic.Uint64                // the NAS takes no CoA (hostapd, Meraki)
	reauthNoNAS         atomic.Uint64                // no NAS known for the device
	reauthErrors        atomic.Uint64
}

func (c *counters) snapshot() Stats {
	st := Stats{
		Received:            c.received.Load(),
		AccountingResponses: c.accountingResponses.Load(),
		StatusServer:        c.statusServer.Load(),
		Resent:              c.resent.Load(),
		Dropped: Drops{
			UnknownClient:        c.dropped[dropUnknownClient].Load(),
			BadAuthenticator:     c.dropped[dropBadAuthenticator].Load(),
			MissingAuthenticator: c.dropped[dropMissingAuthenticator].Load(),
			ProxyState:           c.dropped[dropProxyState].Load(),
			Malformed:            c.dropped[dropMalformed].Load(),
			Unsupported:          c.dropped[dropUnsupported].Load(),
			InFlight:             c.dropped[dropInFlight].Load(),
			Overload:             c.dropped[dropOverload].Load(),
			StoreError:           c.dropped[dropStoreError].Load(),
		},
		SendErrors: c.sendErrors.Load(),
	}
	for v := range numVerdicts {
		if v.accept() {
			st.Accepted += c.verdicts[v].Load()
		} else {
			st.Rejected += c.verdicts[v].Load()
		}
	}
	return st
}
