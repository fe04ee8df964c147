package radius

import (
	"encoding/binary"
	"net/netip"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"roamgate/session"
)

// accounting answers an authentic Accounting-Request. When it names one of
// our sessions (Class, as sent in the Access-Accept) and reports on it
// (Start, Interim-Update, Stop), the activity is passed to Sessions.Seen.
// It is always answered: Seen records in memory and cannot fail in a way a
// retransmission would fix. Accounting-On/Off, client IPs and the store of
// record come with the next issue.
func (s *Server) accounting(c *client, src netip.AddrPort, req *layeh.Packet) *layeh.Packet {
	resp := newReply(req, layeh.CodeAccountingResponse)
	status, err := rfc2866.AcctStatusType_Lookup(req)
	if err != nil {
		return resp
	}
	switch status {
	case rfc2866.AcctStatusType_Value_Start, rfc2866.AcctStatusType_Value_InterimUpdate, rfc2866.AcctStatusType_Value_Stop:
	default:
		return resp
	}
	id := string(rfc2865.Class_Get(req))
	if !session.ValidID(id) {
		return resp
	}
	ap, ssid := splitCalledStationID(rfc2865.CalledStationID_Get(req))
	a := session.Activity{
		Location:     s.locate(c, src, req, ap, ssid),
		AP:           ap,
		InputOctets:  octets(req, rfc2866.AcctInputOctets_Type, rfc2869.AcctInputGigawords_Type),
		OutputOctets: octets(req, rfc2866.AcctOutputOctets_Type, rfc2869.AcctOutputGigawords_Type),
	}
	// ErrNotFound: the session has ended; there is nothing to record.
	s.sessions.Seen(id, a)
	return resp
}

// octets joins a 32-bit octet counter and its Gigawords (RFC 2869 §5.1).
func octets(req *layeh.Packet, low, high layeh.Type) uint64 {
	var n uint64
	if a, ok := req.Lookup(low); ok && len(a) == 4 {
		n = uint64(binary.BigEndian.Uint32(a))
	}
	if a, ok := req.Lookup(high); ok && len(a) == 4 {
		n |= uint64(binary.BigEndian.Uint32(a)) << 32
	}
	return n
}
