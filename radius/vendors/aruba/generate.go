// Package aruba holds the Aruba vendor attributes (vendor 14823) roamgate
// sends, generated from dictionary.aruba by layeh's radius-dict-gen.
package aruba

//go:generate go run layeh.com/radius/cmd/radius-dict-gen -package aruba -output generated.go dictionary.aruba
