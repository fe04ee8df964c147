// Package assets holds what roamgate's web pages are made of: the
// html/template pages and their layout, the one style sheet, and the
// translations (German is the reference language; every other language has
// the same keys). Everything is embedded in the binary, so a gateway serves
// its pages without files on disk, a CDN or any third-party host.
//
// It is not a web server and knows nothing about sessions: portal and admin
// parse the pages once, fill them with their own data and serve the static
// files under a path of their choosing.
package assets
