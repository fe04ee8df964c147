package vendor

import "net/url"

// LogoffURL is the access point's own sign-out page for a device that
// arrived as a, or "" where its family has none. CoovaChilli serves
// http://uamip:uamport/logoff (and /logout; src/redir.c:2240-2241), which
// ends the device's session at chilli and sends the browser back to the
// portal with res=logoff; OpenWrt uspot serves the same path
// (handler-uam.uc:75-76). The UAM login URL (validated when the arrival was
// parsed) names uamip:uamport.
func LogoffURL(a Arrival) string {
	if a.Vendor != Coova || a.LoginURL == "" {
		return ""
	}
	u, err := url.Parse(a.LoginURL)
	if err != nil {
		return ""
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/logoff", "", "", ""
	return u.String()
}

// CheckLogoffURL validates a logoff URL that came back from the browser (a
// cookie): only an access point's /logoff passes, normalised, so the
// sign-out can never redirect anywhere else.
func (cfg *Config) CheckLogoffURL(raw string) (string, bool) {
	u, err := cfg.loginURL(raw)
	if err != nil || u.Path != "/logoff" || u.RawQuery != "" || u.User != nil {
		return "", false
	}
	return u.String(), true
}
