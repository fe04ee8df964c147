package portal

import (
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
	names := make([]string, 0, len(a.Params))
	for k := range a.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	fs := make([]field, 0, len(names))
	for _, k := range names {
		fs = append(fs, field{k, a.Params.Get(k)})
	}
	return fs
}

// arrivalQuery returns an arrival's parameters as a query string for a link
// back to the splash page ("" if there are none), with the explicit language.
func arrivalQuery(a vendor.Arrival, lang string) string {
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

// queryOf returns a lookup of the request's query whose strings are copies.
func queryOf(c *fiber.Ctx) vendor.Query {
	args := c.Context().QueryArgs()
	return func(name string) string { return string(args.Peek(name)) }
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
