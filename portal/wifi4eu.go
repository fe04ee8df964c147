package portal

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"slices"
)

// WiFi4EUScriptURL is the programme's measurement script; its host
// (collection.wifi4eu.ec.europa.eu) belongs in the DNS walled garden.
const WiFi4EUScriptURL = "https://collection.wifi4eu.ec.europa.eu/wifi4eu.min.js"

// wifi4eu is the WiFi4EU part of a page in one language.
type wifi4eu struct {
	// Snippet is the inline script the programme requires in <head>: the
	// network identifier, the page language and the self-test flag. It is
	// built from validated values only; the CSP allows it by hash.
	Snippet   template.JS
	ScriptURL string
	Logo      string
	hash      string // 'sha256-…' of Snippet
}

// newWiFi4EU prepares the snippet for each language; nil without a network
// identifier (the pages then show the identity but load no script).
func newWiFi4EU(cfg WiFi4EUConfig, langs []string) map[string]*wifi4eu {
	out := make(map[string]*wifi4eu, len(langs))
	for _, l := range langs {
		w := &wifi4eu{}
		if cfg.NetworkIdentifier != "" {
			js := fmt.Sprintf("var wifi4euTimerStart = Date.now();\nvar wifi4euNetworkIdentifier = '%s';\nvar wifi4euLanguage = '%s';\nvar selftestModus = %t;\n",
				cfg.NetworkIdentifier, l, cfg.SelfTest)
			sum := sha256.Sum256([]byte(js))
			w.Snippet, w.ScriptURL = template.JS(js), WiFi4EUScriptURL
			w.hash = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
		out[l] = w
	}
	return out
}

// wifi4euFor returns the WiFi4EU part of a page for a network, or nil if the
// network is not a WiFi4EU one.
func (s *Server) wifi4euFor(network, lang string) *wifi4eu {
	if network == "" || !slices.Contains(s.cfg.WiFi4EU.Networks, network) {
		return nil
	}
	w := *s.wifi4eu[lang]
	w.Logo = s.logo
	return &w
}
