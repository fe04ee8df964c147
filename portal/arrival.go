package portal

import (
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"roamgate/portal/vendor"
)

// paramLang is not an arrival parameter, but an explicit language choice
// travels with them from the splash to /connect and back.
const paramLang = "lang"

// arrive picks the vendor adapter for a redirect and parses it: the
// configured vendor, else the one whose parameters the redirect carries,
// else the vendor of the RADIUS client the request comes from, else generic.
// Refused parameters are counted.
func (s *Server) arrive(c *fiber.Ctx, q vendor.Query) (vendor.Adapter, vendor.Arrival) {
	ad := s.adapterFor(c, q)
	a, invalid := ad.Parse(q, &s.vendors)
	s.stats.invalidParams.Add(uint64(invalid))
	return ad, a
}

func (s *Server) adapterFor(c *fiber.Ctx, q vendor.Query) vendor.Adapter {
	if s.cfg.Vendor != "auto" {
		if ad, ok := vendor.Get(s.cfg.Vendor); ok {
			return ad
		}
	}
	ad := vendor.Detect(q)
	if ad.Name() == vendor.Generic && s.deps.VendorFor != nil {
		if name := s.deps.VendorFor(remoteAddr(c)); name != "" {
			if hinted, ok := vendor.Get(name); ok {
				return hinted
			}
		}
	}
	return ad
}

// hidden returns an arrival's parameters as sorted form fields, to be
// carried through a form to /connect or /continue.
func hidden(a vendor.Arrival) []field {
	names := slices.Sorted(maps.Keys(a.Params))
	fs := make([]field, 0, len(names))
	for _, k := range names {
		fs = append(fs, field{k, a.Params.Get(k)})
	}
	return fs
}

// arrivalQuery returns an arrival's parameters as a query string for a link
// back to the splash page ("" if there are none), with the explicit language.
// A signed redirect is linked to as the access point wrote it, so that the
// splash verifies it again.
func arrivalQuery(a vendor.Arrival, lang string) string {
	if q, ok := signedQuery(a); ok {
		if lang != "" {
			q += "&" + paramLang + "=" + url.QueryEscape(lang)
		}
		return "?" + q
	}
	v := url.Values{}
	for _, f := range hidden(a) {
		v.Set(f.Name, f.Value)
	}
	if lang != "" {
		v.Set(paramLang, lang)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// field is a name and value of a form field.
type field struct{ Name, Value string }

// signedQuery is the query of a signed redirect the arrival carries whole
// (vendor.ParamRedirect): after the md= nothing is read, so the explicit
// language may follow it.
func signedQuery(a vendor.Arrival) (string, bool) {
	raw := a.Params.Get(vendor.ParamRedirect)
	if raw == "" {
		return "", false
	}
	_, q, ok := strings.Cut(raw, "?")
	return q, ok
}

// queryOf returns a lookup of the request's query whose strings are copies.
// vendor.ParamRedirect is the URL the browser asked for (requestURL): what
// an access point that signs its redirect has signed.
func queryOf(c *fiber.Ctx) vendor.Query {
	args := c.Context().QueryArgs()
	return func(name string) string {
		if name == vendor.ParamRedirect {
			return requestURL(c)
		}
		return string(args.Peek(name))
	}
}

// requestURL rebuilds the URL a GET was sent to, byte for byte in its path
// and query: the scheme (https over TLS or from a trusted proxy that says
// so, the way fiber's Protocol reads it with the trusted-proxy check on),
// the Host header, the raw path and the raw query. An access point's
// uamserver URL must name the portal the same way (deploy/access-points).
func requestURL(c *fiber.Ctx) string {
	uri := c.Request().URI()
	q := uri.QueryString()
	if len(q) == 0 {
		return ""
	}
	scheme := "http"
	if strings.EqualFold(c.Protocol(), "https") {
		scheme = "https"
	}
	return scheme + "://" + string(c.Request().Host()) + string(uri.PathOriginal()) + "?" + string(q)
}

// formOf returns a lookup of the request's urlencoded form (copies).
func formOf(c *fiber.Ctx) vendor.Query {
	args := c.Request().PostArgs()
	return func(name string) string { return string(args.Peek(name)) }
}

func langQuery(explicit string) string {
	if explicit == "" {
		return ""
	}
	return "?" + paramLang + "=" + explicit
}

// isFormPost reports whether the request body is an urlencoded form.
func isFormPost(c *fiber.Ctx) bool {
	mediaType, _, _ := strings.Cut(c.Get(fiber.HeaderContentType), ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), fiber.MIMEApplicationForm)
}
