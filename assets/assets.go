package assets

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
)

//go:embed templates/*.html static i18n/*.json i18n/admin/*.json
var files embed.FS

// Static holds the files to be served as they are (the style sheet), at the
// root of the file system: "style.css".
var Static fs.FS = mustSub(files, "static")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is a constant embedded above
	}
	return sub
}

var versions sync.Map // static file name → content hash

// Version returns a short hash of the static file name, for cache-busting
// URLs (/static/style.css?v=…), or "" if there is no such file.
func Version(name string) string {
	if v, ok := versions.Load(name); ok {
		return v.(string)
	}
	data, err := fs.ReadFile(Static, name)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	v := hex.EncodeToString(sum[:6])
	versions.Store(name, v)
	return v
}

// layout is the template every page is rendered in; it defines "base", which
// calls the page's "title" and "content".
const layout = "base.html"

// Pages are the parsed page templates, each joined with the base layout.
// A Pages is safe for concurrent use.
type Pages struct {
	byName map[string]*template.Template
}

// ParsePages parses every page in templates/ with the base layout. A page
// named splash.html is executed as "splash".
func ParsePages() (*Pages, error) {
	base, err := template.ParseFS(files, "templates/"+layout)
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	p := &Pages{byName: make(map[string]*template.Template, len(names))}
	for _, name := range names {
		file := path.Base(name)
		if file == layout {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("assets: %s: %w", file, err)
		}
		if _, err := t.ParseFS(files, name); err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		p.byName[strings.TrimSuffix(file, ".html")] = t
	}
	return p, nil
}

// Names lists the pages, sorted.
func (p *Pages) Names() []string {
	return slices.Sorted(maps.Keys(p.byName))
}

// Execute renders the page with the given name into w. The layout expects
// data to have the fields L (*Catalog), SiteName, Location and CSS (the style
// sheet's URL); each page documents what else it reads.
func (p *Pages) Execute(w io.Writer, page string, data any) error {
	t, ok := p.byName[page]
	if !ok {
		return fmt.Errorf("assets: no page %q", page)
	}
	if err := t.ExecuteTemplate(w, "base", data); err != nil {
		return fmt.Errorf("assets: page %s: %w", page, err)
	}
	return nil
}
