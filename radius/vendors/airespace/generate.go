// Package airespace holds the Cisco Airespace vendor attributes (vendor
// 14179) roamgate sends to Cisco WLCs, generated from dictionary.airespace by
// layeh's radius-dict-gen.
package airespace

//go:generate go run layeh.com/radius/cmd/radius-dict-gen -package airespace -output generated.go dictionary.airespace
