package portal

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// A request whose body two HTTP parsers could delimit differently is the
// stuff of request smuggling: a proxy in front that reads the first
// Content-Length forwards one request, fasthttp (which takes the last)
// serves two. RFC 9112 §6.3 asks for 400 and a closed connection when
// Content-Length values differ; §6.1 allows refusing Content-Length beside
// Transfer-Encoding, after which the connection must be closed anyway.
// No browser sends either.

// ambiguousFraming reports whether raw request headers delimit the body in
// more than one way: Content-Length fields or list elements with different
// values, or Content-Length together with Transfer-Encoding. Identical
// repeated values are one length (RFC 9110 §8.6).
func ambiguousFraming(raw []byte) bool {
	var length []byte
	haveLength, haveTE := false, false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name, value, ok := bytes.Cut(bytes.TrimRight(line, "\r"), []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")):
			haveTE = true
		case bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Length")):
			for _, v := range bytes.Split(value, []byte(",")) {
				v = bytes.TrimSpace(v)
				if haveLength && !bytes.Equal(v, length) {
					return true
				}
				length, haveLength = v, true
			}
		}
	}
	return haveLength && haveTE
}

// headerReceived is fasthttp's HeaderReceived hook: it runs after the
// headers and before the body is read. For an ambiguous request it makes
// the body length 0, so that not one byte after the headers is read — as a
// body or, on a kept-alive connection, as the next request — before
// refuseAmbiguousFraming answers 400 and closes the connection.
func headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if ambiguousFraming(h.RawHeaders()) {
		h.SetContentLength(0)
	}
	return fasthttp.RequestConfig{}
}

// refuseAmbiguousFraming is the first middleware: 400 and Connection:
// close for a request headerReceived has cut short.
func (s *Server) refuseAmbiguousFraming(c *fiber.Ctx) error {
	if !ambiguousFraming(c.Request().Header.RawHeaders()) {
		return c.Next()
	}
	s.stats.badFraming.Add(1)
	c.Context().SetConnectionClose()
	setSecurityHeaders(c)
	lang, _ := s.language(c, "")
	return s.renderError(c, fiber.StatusBadRequest, lang, "/")
}
