package admin

import (
	"encoding/base64"
	"strings"
)

// basicAuth parses an RFC 7617 Authorization header.
func basicAuth(header string) (name, password string, ok bool) {
	const prefix = "Basic "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) || len(header) > 1024 {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(header[len(prefix):])
	if err != nil {
		return "", "", false
	}
	name, password, ok = strings.Cut(string(raw), ":")
	return name, password, ok
}
