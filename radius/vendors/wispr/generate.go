// Package wispr holds the WISPr vendor attributes (vendor 14122), generated
// from dictionary.wispr by layeh's radius-dict-gen.
package wispr

//go:generate go run layeh.com/radius/cmd/radius-dict-gen -package wispr -output generated.go dictionary.wispr
