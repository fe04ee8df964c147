// Package assets holds what roamgate's web pages are made of: the portal's
// html/template pages and their layout, its style sheet, and the
// translations of the portal (i18n/*.json) and of the admin listener
// (i18n/admin/*.json), in the same languages. German is the reference
// language; every other language has the same keys. Everything is embedded
// in the binary, so a gateway serves its pages without files on disk, a CDN
// or any third-party host.
//
// It is not a web server and knows nothing about sessions: the portal parses
// the pages once, fills them with its own data and serves the static files
// under a path of its choosing; the admin listener keeps its own templates
// (admin/web) and takes only its texts from here.
package assets
