package radius

import (
	"context"
	"errors"
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2866"

	"roamgate/session"
)

// storeTimeout bounds the durable write of one accounting record. The access
// point retransmits after a few seconds anyway.
const storeTimeout = 3 * time.Second

// accounting answers an authentic Accounting-Request, after recording it.
//
// Start, Interim-Update and Stop name one of our sessions by Class (as sent
// in the Access-Accept) and update its location, AP, NAS, client addresses
// and octets through Sessions.SeenDurable: "answer only after the record is
// stored" (RFC 2866 §2) means the store has it, not just memory. While the
// store is away SeenDurable keeps the record in its bounded buffer and the
// answer goes out; only when that buffer is full is the Accounting-Response
// withheld (dropStoreError) and the access point retransmits. A record for
// a session that has ended (or that is not ours) is answered: there is
// nothing to keep, and withholding the answer would only make the access
// point retry forever.
//
// The session decides what a record may change (session.ActivityKind): a
// NAS goes on reporting an association the device has left (CoovaChilli
// until its Idle-Timeout), and those records must not move the session back.
// So each record carries its kind and when it happened (eventTime).
//
// Accounting-On and -Off say the NAS (re)started or is stopping: its clients
// are gone from it, so the presence of the sessions it reported last is
// cleared (the sessions live on).
func (s *Server) accounting(c *client, src netip.AddrPort, req *request) (answer, dropReason) {
	resp := newReplyTo(req, layeh.CodeAccountingResponse, false)
	status, ok := integer(req.acctStatusType)
	if !ok {
		s.stats.accounting[acctOther].Add(1)
		return resp, dropNone
	}
	s.stats.accounting[statusOf(status)].Add(1)
	nasAddr := src.Addr().Unmap()
	s.noteNAS(req, nasAddr) // for re-authorising devices at this NAS (nasdir.go)
	var kind session.ActivityKind
	switch rfc2866.AcctStatusType(status) {
	case rfc2866.AcctStatusType_Value_AccountingOn, rfc2866.AcctStatusType_Value_AccountingOff:
		s.sessions.NASRestarted(nasAddr, string(req.nasIdentifier))
		return resp, dropNone
	case rfc2866.AcctStatusType_Value_Start:
		kind = session.ActivityStart
	case rfc2866.AcctStatusType_Value_InterimUpdate:
		kind = session.ActivityInterim
	case rfc2866.AcctStatusType_Value_Stop:
		kind = session.ActivityStop
	default:
		return resp, dropNone
	}
	id := string(req.class)
	if !session.ValidID(id) {
		return resp, dropNone
	}
	ap, _ := splitCalledStationID(req.calledStationID)
	a := session.Activity{
		Kind:         kind,
		At:           eventTime(time.Now(), req),
		Location:     s.locate(c, src, req),
		AP:           ap,
		InputOctets:  octets(req.inOctets, req.inGigawords),
		OutputOctets: octets(req.outOctets, req.outGigawords),
		NAS: session.NAS{
			Addr:          nasAddr,
			ID:            string(req.nasIdentifier),
			AcctSessionID: string(req.acctSessionID),
		},
		IP:         framedIP(req.framedIPAddress),
		IPv6Prefix: framedIPv6Prefix(req.framedIPv6Prefix),
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := s.sessions.SeenDurable(ctx, id, a); err != nil && !errors.Is(err, session.ErrNotFound) {
		s.log.Warn("radius: accounting not stored", "client", c.name, "err", err)
		return resp, dropStoreError
	}
	return resp, dropNone
}

// statusOf names an Acct-Status-Type for the metrics.
func statusOf(status uint32) acctStatus {
	switch rfc2866.AcctStatusType(status) {
	case rfc2866.AcctStatusType_Value_Start:
		return acctStart
	case rfc2866.AcctStatusType_Value_InterimUpdate:
		return acctInterim
	case rfc2866.AcctStatusType_Value_Stop:
		return acctStop
	case rfc2866.AcctStatusType_Value_AccountingOn:
		return acctOn
	case rfc2866.AcctStatusType_Value_AccountingOff:
		return acctOff
	}
	return acctOther
}

// octets joins a 32-bit octet counter and its Gigawords (RFC 2869 §5.1).
func octets(low, high []byte) uint64 {
	lo, _ := integer(low)
	hi, _ := integer(high)
	return uint64(hi)<<32 | uint64(lo)
}

// framedIP is Framed-IP-Address, or the zero Addr.
func framedIP(a []byte) netip.Addr {
	if len(a) == 4 {
		ip := netip.AddrFrom4([4]byte(a))
		// 255.255.255.254 and .255 are instructions to the NAS, not addresses.
		if !ip.IsUnspecified() && ip != netip.AddrFrom4([4]byte{255, 255, 255, 255}) && ip != netip.AddrFrom4([4]byte{255, 255, 255, 254}) {
			return ip
		}
	}
	return netip.Addr{}
}

// framedIPv6Prefix is Framed-IPv6-Prefix (RFC 3162 §2.3: reserved octet,
// prefix length, prefix), or the zero Prefix.
func framedIPv6Prefix(a []byte) netip.Prefix {
	if len(a) < 2 || len(a) > 18 || a[1] > 128 {
		return netip.Prefix{}
	}
	var ip [16]byte
	copy(ip[:], a[2:])
	p, err := netip.AddrFrom16(ip).Prefix(int(a[1]))
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// eventTime is when the NAS saw what an accounting record reports, on our
// clock: the arrival less Acct-Delay-Time (RFC 2866 §5.2: how long the NAS
// has been trying to send it), else Event-Timestamp (RFC 2869 §5.3) when it
// is not later than the arrival (the NAS's clock may run ahead; a record
// never happened after it arrived), else the arrival.
func eventTime(arrival time.Time, req *request) time.Time {
	if d, ok := integer(req.acctDelayTime); ok {
		return arrival.Add(-time.Duration(d) * time.Second)
	}
	if ts, ok := integer(req.eventTimestamp); ok {
		if t := time.Unix(int64(ts), 0); t.Before(arrival) {
			return t
		}
	}
	return arrival
}
