package radius

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"errors"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2869"
)

const (
	headerLen = 20
	// typeMessageAuthenticator is RFC 2869 §5.14's attribute 80.
	typeMessageAuthenticator = rfc2869.MessageAuthenticator_Type
	// authLen is the length of the Request/Response Authenticator and of the
	// Message-Authenticator's value (an HMAC-MD5).
	authLen = md5.Size
	// replyMAOffset is where the Message-Authenticator's value sits in a reply
	// that carries it as first attribute.
	replyMAOffset = headerLen + 2
)

var zeroAuth [authLen]byte

// Reasons a packet is malformed.
var (
	errShort        = errors.New("radius: packet shorter than its header")
	errLength       = errors.New("radius: Length field out of range")
	errAttrFraming  = errors.New("radius: attribute overruns the packet")
	errMALength     = errors.New("radius: Message-Authenticator is not 16 octets")
	errMADuplicate  = errors.New("radius: more than one Message-Authenticator")
	errReplyTooLong = errors.New("radius: reply longer than 4096 octets")
)

// frame returns the packet b without the octets beyond its Length field,
// which RFC 2865 §3 says to ignore as padding.
func frame(b []byte) ([]byte, error) {
	if len(b) < headerLen {
		return nil, errShort
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < headerLen || n > layeh.MaxPacketLength || n > len(b) {
		return nil, errLength
	}
	return b[:n], nil
}

// scanAttributes checks the attribute framing of a framed packet and returns
// the offset of the Message-Authenticator's value, or -1 if there is none,
// and the number of attributes.
func scanAttributes(b []byte) (maOffset, count int, err error) {
	maOffset = -1
	for i := headerLen; i < len(b); count++ {
		if len(b)-i < 2 {
			return -1, 0, errAttrFraming
		}
		n := int(b[i+1])
		if n < 2 || i+n > len(b) {
			return -1, 0, errAttrFraming
		}
		if layeh.Type(b[i]) == typeMessageAuthenticator {
			if n != 2+authLen {
				return -1, 0, errMALength
			}
			if maOffset >= 0 {
				return -1, 0, errMADuplicate
			}
			maOffset = i + 2
		}
		i += n
	}
	return maOffset, count, nil
}

// messageAuthenticator computes the Message-Authenticator of the framed packet
// b whose value sits at maOffset (RFC 3579 §3.2) into st.sum: HMAC-MD5 keyed
// with the shared secret over the whole packet, the attribute's value taken as
// zeros and the authenticator field replaced by auth. auth is the packet's own
// Request Authenticator for an Access-Request, zeros for Accounting, CoA and
// Disconnect-Requests, and the request's authenticator for a reply.
func messageAuthenticator(st *hmacState, b []byte, maOffset int, auth []byte) {
	st.h.Write(b[:4])
	st.h.Write(auth)
	st.h.Write(b[headerLen:maOffset])
	st.h.Write(zeroAuth[:])
	st.h.Write(b[maOffset+authLen:])
	st.h.Sum(st.sum[:0])
}

// verifyMessageAuthenticator reports whether the Message-Authenticator at
// maOffset in b is right, in constant time.
func verifyMessageAuthenticator(st *hmacState, b []byte, maOffset int, auth []byte) bool {
	messageAuthenticator(st, b, maOffset, auth)
	return hmac.Equal(st.sum[:], b[maOffset:maOffset+authLen])
}

// requestAuthenticatorOK checks the Request Authenticator of an
// Accounting-Request (RFC 2866 §3): MD5 over the packet with the field zeroed,
// followed by the secret. It is how a wrong secret or a forged request shows.
func requestAuthenticatorOK(b, secret []byte) bool {
	return layeh.IsAuthenticRequest(b, secret)
}
