package admin

import (
	"fmt"
	"net/url"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/text/language"

	"roamgate/assets"
)

// The admin speaks the portal's languages (assets.Languages, German first:
// the town's language) with its own texts (assets/i18n/admin). It chooses
// as the portal does: an explicit ?lang=, else the best match for the
// browser's Accept-Language, else German. An explicit choice is kept in a
// cookie, because the admin's pages link to each other without carrying
// the parameter.

const (
	paramLang  = "lang"
	langCookie = "roamgate_admin_lang"
	// maxAcceptLanguage bounds the header we parse: a real one is short.
	maxAcceptLanguage = 512
)

type i18n struct {
	langs   []string // assets.Languages(): the reference language first
	cats    map[string]*assets.Catalog
	matcher language.Matcher
}

func newI18n() (*i18n, error) {
	in := &i18n{langs: assets.Languages(), cats: map[string]*assets.Catalog{}}
	if len(in.langs) == 0 {
		return nil, fmt.Errorf("admin: no translations in assets")
	}
	tags := make([]language.Tag, len(in.langs))
	for i, l := range in.langs {
		cat, err := assets.AdminMessages(l)
		if err != nil {
			return nil, fmt.Errorf("admin: %w", err)
		}
		tag, err := language.Parse(l)
		if err != nil {
			return nil, fmt.Errorf("admin: language %q: %w", l, err)
		}
		in.cats[l], tags[i] = cat, tag
	}
	in.matcher = language.NewMatcher(tags)
	return in, nil
}

// pick chooses the language of a request; explicit reports whether it came
// from ?lang=.
func (in *i18n) pick(query, cookie, acceptLanguage string) (lang string, explicit bool) {
	if in.cats[query] != nil {
		return query, true
	}
	if in.cats[cookie] != nil {
		return cookie, false
	}
	if acceptLanguage == "" || len(acceptLanguage) > maxAcceptLanguage {
		return in.langs[0], false
	}
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return in.langs[0], false
	}
	_, i, _ := in.matcher.Match(prefs...)
	return in.langs[i], false
}

// lang is the language of the request; an explicit choice is remembered.
func (s *Server) lang(c *fiber.Ctx) string {
	lang, explicit := s.i18n.pick(c.Query(paramLang), c.Cookies(langCookie), c.Get(fiber.HeaderAcceptLanguage))
	if explicit && c.Cookies(langCookie) != lang {
		c.Cookie(&fiber.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
			SameSite: fiber.CookieSameSiteStrictMode, HTTPOnly: true, Secure: s.cfg.tls()})
	}
	return lang
}

// catalog is the texts of the request's language.
func (s *Server) catalog(c *fiber.Ctx) *assets.Catalog { return s.i18n.cats[s.lang(c)] }

// tr is one text in the request's language; args are placeholder name,
// value pairs.
func (s *Server) tr(c *fiber.Ctx, key string, args ...string) string {
	return s.catalog(c).T(key, args...)
}

// langLink is one entry of the language switch.
type langLink struct {
	Tag, Name, URL string
	Current        bool
}

// langLinks is the language switch: the current page in each language,
// with the rest of its query (a filter) kept.
func (s *Server) langLinks(c *fiber.Ctx, current string) []langLink {
	q := url.Values{}
	for k, v := range c.Queries() {
		if k != paramLang && k != "crisis" && k != "revoked" && k != "result" {
			q.Set(k, v)
		}
	}
	out := make([]langLink, 0, len(s.i18n.langs))
	for _, l := range s.i18n.langs {
		q.Set(paramLang, l)
		out = append(out, langLink{Tag: l, Name: s.i18n.cats[l].T("language_name"), URL: c.Path() + "?" + q.Encode(), Current: l == current})
	}
	return out
}
