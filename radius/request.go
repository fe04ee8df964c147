package radius

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"

	"roamgate/session"
)

// request is an authentic request with the attributes the handlers read,
// found in one pass and not copied: the values are slices of the datagram,
// so a request must not outlive handle. Absent attributes are nil (a present
// one is never nil, even when empty). Where an attribute repeats, the first
// counts, as layeh's Lookup does.
//
// Reading the packet in place instead of through layeh.Parse saves a copy and
// two allocations per attribute on the hot path (see docs/BENCHMARKS.md).
type request struct {
	b      []byte // the framed packet
	secret []byte

	userName, userPassword, chapPassword, chapChallenge []byte
	callingStationID, calledStationID                   []byte
	nasIdentifier, nasIPAddress, nasIPv6Address         []byte
	class                                               []byte
	acctStatusType, acctSessionID                       []byte
	acctDelayTime, eventTimestamp                       []byte
	inOctets, inGigawords, outOctets, outGigawords      []byte
	framedIPAddress, framedIPv6Prefix                   []byte

	// replyBuf is where the reply is built (newReplyTo): the worker's
	// buffer for this datagram, of layeh.MaxPacketLength octets.
	replyBuf []byte

	// mac is the MAC of MAC authentication, worked out once (Server.macOf).
	mac requestMAC
}

// requestMAC is what Server.macOf worked out of a request.
type requestMAC struct {
	known  bool
	mac    session.MAC
	v      verdict  // not 0: no MAC to authenticate (macFromRequest)
	named  macAttrs // the attributes that hold mac
	hashed bool     // key is mac with its index key
	key    session.HashedMAC
}

// parseRequest reads a framed packet whose attributes scanAttributes has
// checked; its reply will be built in replyBuf.
func parseRequest(b, secret, replyBuf []byte) request {
	r := request{b: b, secret: secret, replyBuf: replyBuf}
	for i := headerLen; i < len(b); i += int(b[i+1]) {
		v := b[i+2 : i+int(b[i+1]) : i+int(b[i+1])]
		var p *[]byte
		switch layeh.Type(b[i]) {
		case rfc2865.UserName_Type:
			p = &r.userName
		case rfc2865.UserPassword_Type:
			p = &r.userPassword
		case rfc2865.CHAPPassword_Type:
			p = &r.chapPassword
		case rfc2865.CHAPChallenge_Type:
			p = &r.chapChallenge
		case rfc2865.CallingStationID_Type:
			p = &r.callingStationID
		case rfc2865.CalledStationID_Type:
			p = &r.calledStationID
		case rfc2865.NASIdentifier_Type:
			p = &r.nasIdentifier
		case rfc2865.NASIPAddress_Type:
			p = &r.nasIPAddress
		case rfc3162.NASIPv6Address_Type:
			p = &r.nasIPv6Address
		case rfc2865.Class_Type:
			p = &r.class
		case rfc2866.AcctStatusType_Type:
			p = &r.acctStatusType
		case rfc2866.AcctSessionID_Type:
			p = &r.acctSessionID
		case rfc2866.AcctDelayTime_Type:
			p = &r.acctDelayTime
		case rfc2869.EventTimestamp_Type:
			p = &r.eventTimestamp
		case rfc2866.AcctInputOctets_Type:
			p = &r.inOctets
		case rfc2869.AcctInputGigawords_Type:
			p = &r.inGigawords
		case rfc2866.AcctOutputOctets_Type:
			p = &r.outOctets
		case rfc2869.AcctOutputGigawords_Type:
			p = &r.outGigawords
		case rfc2865.FramedIPAddress_Type:
			p = &r.framedIPAddress
		case rfc3162.FramedIPv6Prefix_Type:
			p = &r.framedIPv6Prefix
		default:
			continue
		}
		if *p == nil {
			*p = v
		}
	}
	return r
}

func (r *request) code() layeh.Code { return layeh.Code(r.b[0]) }

// authenticator is the Request Authenticator.
func (r *request) authenticator() []byte { return r.b[4:headerLen] }

// integer reads a 4-octet integer attribute value.
func integer(v []byte) (uint32, bool) {
	if len(v) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(v), true
}

// maxPassword is the longest User-Password (RFC 2865 §5.2).
const maxPassword = 128

// password decrypts User-Password (RFC 2865 §5.2) into buf and returns the
// password up to its zero padding; ok is false if the attribute is absent
// or malformed.
func (r *request) password(buf *[maxPassword]byte) (pw []byte, ok bool) {
	enc := r.userPassword
	if len(enc) < 16 || len(enc) > maxPassword || len(enc)%16 != 0 {
		return nil, false
	}
	// MD5(secret ‖ previous block), with no allocation for ordinary secrets.
	var scratch [256]byte
	if len(r.secret)+16 > len(scratch) {
		return nil, false
	}
	n := copy(scratch[:], r.secret)
	prev := r.authenticator()
	for i := 0; i < len(enc); i += 16 {
		copy(scratch[n:], prev)
		sum := md5.Sum(scratch[:n+16])
		for j := range 16 {
			buf[i+j] = enc[i+j] ^ sum[j]
		}
		prev = enc[i : i+16]
	}
	pw = buf[:len(enc)]
	// The padding is zeros; like FreeRADIUS and layeh, the password ends at
	// the first zero octet.
	if i := bytes.IndexByte(pw, 0); i >= 0 {
		pw = pw[:i]
	}
	return pw, true
}

// answer builds a reply in wire format, appending attributes to the
// request's replyBuf: building a reply allocates nothing, and the duplicate
// cache keeps a copy in a buffer of its own that it reuses (dedup.go).
type answer struct {
	b []byte
}

// newReplyTo starts the reply to r. Access-Accept, Access-Reject and the
// answers to Status-Server carry a Message-Authenticator as first attribute,
// signed by finish.
func newReplyTo(r *request, code layeh.Code, withMA bool) answer {
	b := append(r.replyBuf[:0], byte(code), r.b[1], 0, 0)
	b = append(b, r.authenticator()...)
	if withMA {
		b = append(b, byte(typeMessageAuthenticator), 2+authLen)
		b = append(b, zeroAuth[:]...)
	}
	return answer{b: b}
}

func (p *answer) code() layeh.Code { return layeh.Code(p.b[0]) }

func (p *answer) add(t layeh.Type, v []byte) {
	p.b = append(p.b, byte(t), byte(2+len(v)))
	p.b = append(p.b, v...)
}

func (p *answer) addString(t layeh.Type, v string) {
	p.b = append(p.b, byte(t), byte(2+len(v)))
	p.b = append(p.b, v...)
}

// addID adds the session's ID as attribute t (session.Held.AppendID).
func (p *answer) addID(t layeh.Type, s session.Held) {
	p.b = append(p.b, byte(t), 0)
	at := len(p.b)
	p.b = s.AppendID(p.b)
	p.b[at-1] = byte(2 + len(p.b) - at)
}

func (p *answer) addInteger(t layeh.Type, v uint32) {
	p.b = append(p.b, byte(t), 6)
	p.b = binary.BigEndian.AppendUint32(p.b, v)
}

// addAttributes appends attributes built with layeh (the generated vendor
// dictionaries write into a *layeh.Packet).
func (p *answer) addAttributes(as layeh.Attributes) {
	for _, a := range as {
		if len(a.Attribute) <= 253 {
			p.add(a.Type, a.Attribute)
		}
	}
}

// echoProxyState copies the request's Proxy-State attributes, unmodified and
// in order (RFC 2865 §5.33).
func (p *answer) echoProxyState(r *request) {
	b := r.b
	for i := headerLen; i < len(b); i += int(b[i+1]) {
		if layeh.Type(b[i]) == rfc2865.ProxyState_Type {
			p.b = append(p.b, b[i:i+int(b[i+1])]...)
		}
	}
}

// finish sets the length, signs the Message-Authenticator if the reply has
// one first (HMAC-MD5 over the reply with the request's authenticator, RFC
// 3579 §3.2), then the Response Authenticator (RFC 2865 §3).
func (p *answer) finish(c *client) ([]byte, error) {
	b := p.b
	if len(b) > layeh.MaxPacketLength {
		return nil, errReplyTooLong
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	st := c.getHMAC()
	defer c.putHMAC(st)
	if len(b) >= replyMAOffset+authLen && layeh.Type(b[headerLen]) == typeMessageAuthenticator {
		st.h.Write(b)
		st.h.Sum(b[replyMAOffset:replyMAOffset])
	}
	st.md.Reset()
	st.md.Write(b)
	st.md.Write(c.secret)
	st.md.Sum(b[4:4])
	return b, nil
}
