package assets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
)

// Reference is the language every translation is checked against and falls
// back to: German, the language of the sites roamgate was built for.
const Reference = "de"

// ErrNoLanguage is returned for a language without translations.
var ErrNoLanguage = errors.New("assets: no translations for language")

// Catalog is the messages of one language. It is immutable and safe for
// concurrent use.
type Catalog struct {
	lang     string
	msgs     map[string]string
	fallback map[string]string // the reference language; nil for it
}

// The portal's catalogs are i18n/*.json, the admin's i18n/admin/*.json:
// two sets of texts for two audiences, in the same languages.
var (
	loadCatalogs      = sync.OnceValues(func() (map[string]map[string]string, error) { return loadSet("i18n") })
	loadAdminCatalogs = sync.OnceValues(func() (map[string]map[string]string, error) { return loadSet("i18n/admin") })
)

// loadSet reads the catalogs of dir, one file per language.
func loadSet(dir string) (map[string]map[string]string, error) {
	names, err := fs.Glob(files, dir+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	all := make(map[string]map[string]string, len(names))
	for _, name := range names {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		var msgs map[string]string
		if err := json.Unmarshal(data, &msgs); err != nil {
			return nil, fmt.Errorf("assets: %s: %w", name, err)
		}
		all[strings.TrimSuffix(path.Base(name), ".json")] = msgs
	}
	if _, ok := all[Reference]; !ok {
		return nil, fmt.Errorf("assets: %s: no translations for the reference language %q", dir, Reference)
	}
	return all, nil
}

// Languages lists the languages with translations, the reference language
// first and the others sorted.
func Languages() []string {
	all, err := loadCatalogs()
	if err != nil {
		return nil
	}
	langs := make([]string, 0, len(all))
	for l := range all {
		if l != Reference {
			langs = append(langs, l)
		}
	}
	slices.Sort(langs)
	return append([]string{Reference}, langs...)
}

// Messages returns the portal's catalog of lang, a language tag as its file
// is named ("de", "en"). ErrNoLanguage if there is none.
func Messages(lang string) (*Catalog, error) { return catalog(loadCatalogs, lang) }

// AdminMessages returns the admin listener's catalog of lang; it has the
// same languages as the portal's (Languages). ErrNoLanguage if there is
// none.
func AdminMessages(lang string) (*Catalog, error) { return catalog(loadAdminCatalogs, lang) }

func catalog(load func() (map[string]map[string]string, error), lang string) (*Catalog, error) {
	all, err := load()
	if err != nil {
		return nil, err
	}
	msgs, ok := all[lang]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNoLanguage, lang)
	}
	c := &Catalog{lang: lang, msgs: msgs}
	if lang != Reference {
		c.fallback = all[Reference]
	}
	return c, nil
}

// Lang is the catalog's language tag, for <html lang>.
func (c *Catalog) Lang() string { return c.lang }

// Keys lists the message keys of the catalog, sorted.
func (c *Catalog) Keys() []string { return slices.Sorted(maps.Keys(c.msgs)) }

// Has reports whether the catalog itself (not its fallback) has key.
func (c *Catalog) Has(key string) bool {
	_, ok := c.msgs[key]
	return ok
}

// T returns the message for key with the placeholders filled in: args are
// name, value pairs, and {name} in the message is replaced by value. A key
// missing from the catalog falls back to the reference language, and a key
// missing there too is returned as it is, so that a gap is visible rather than
// blank. The result is plain text; html/template escapes it.
func (c *Catalog) T(key string, args ...string) string {
	msg, ok := c.msgs[key]
	if !ok {
		if msg, ok = c.fallback[key]; !ok {
			return key
		}
	}
	if len(args) < 2 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(args)&^1)
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+args[i]+"}", args[i+1])
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// rtl are the languages written right to left that roamgate may carry.
var rtl = map[string]bool{"ar": true, "fa": true, "he": true, "ur": true}

// Dir is the writing direction of the catalog's language, for <html dir>:
// "rtl" or "ltr".
func (c *Catalog) Dir() string {
	base, _, _ := strings.Cut(c.lang, "-")
	if rtl[base] {
		return "rtl"
	}
	return "ltr"
}
