package admin

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// messages are the admin's texts, German first (the town's language).
var messages = map[string]map[string]string{
	"de": {
		"title": "roamgate Verwaltung", "dashboard": "Übersicht", "sessions": "Sitzungen", "logout": "Abmelden",
		"login": "Anmelden", "name": "Name", "password": "Passwort", "online": "online",
		"total_online": "Jetzt online", "by_location": "Nach Ort", "by_network": "Nach Netz", "by_ap": "Nach Access Point (Top 20)",
		"location": "Ort", "network": "Netz", "ap": "Access Point", "count": "Anzahl",
		"last24h": "Letzte 24 Stunden (pro Stunde)", "last30d": "Letzte 30 Tage (pro Tag)",
		"signins": "Anmeldungen", "roams": "Ortswechsel", "devices": "Verschiedene Geräte",
		"csv": "CSV-Bericht der letzten 30 Tage", "no_history": "Keine Verlaufsdaten konfiguriert.", "unsigned_clients": "RADIUS-Clients ohne Message-Authenticator (nur limit_proxy_state schützt vor Blast-RADIUS)",
		"id": "Sitzung", "started": "Beginn", "time_left": "Restzeit", "data": "Datenmenge", "roam_count": "Ortswechsel",
		"revoke": "Beenden", "all_locations": "Alle Orte", "filter": "Filtern", "no_sessions": "Keine Sitzungen.",
		"revoked": "Sitzung %s beendet. Trennung am Access Point: %s.", "revoke_failed": "Sitzung %s konnte nicht beendet werden.",
		"ack": "bestätigt (ACK)", "nak": "abgelehnt (NAK)", "timeout": "keine Antwort (Timeout)", "not_sent": "nicht gesendet (kein NAS bekannt)", "error": "Fehler",
		"bad_credentials": "Name oder Passwort ist falsch.",
		"rate_limited":    "Zu viele fehlgeschlagene Anmeldungen. Bitte in %d Minuten erneut versuchen.",
		"csrf_failed":     "Das Formular ist abgelaufen oder unvollständig. Bitte die Seite neu laden.",
		"updated":         "Stand", "signed_in_as": "Angemeldet als", "role_viewer": "Betrachter", "role_operator": "Operator",
		"map":       "Karte (online je Ort)",
		"shown":     "Die neuesten %d werden gezeigt; nach Ort filtern oder die API mit limit/offset nutzen.",
		"live_hint": "Aktualisiert sich selbst, solange JavaScript an ist; sonst die Seite neu laden.",
		"crisis":    "Krisenmodus", "crisis_on": "AKTIV", "crisis_off": "aus", "crisis_since": "seit", "crisis_until": "bis", "crisis_by": "geschaltet von",
		"crisis_sessions": "Krisen-Sitzungen", "crisis_switch_on": "Krisenmodus einschalten", "crisis_switch_off": "Krisenmodus beenden",
		"crisis_message": "Mitteilung", "crisis_links": "Links (eine pro Zeile: Titel | URL)", "crisis_hours": "Dauer in Stunden (höchstens 168)",
		"crisis_hint": "Alle Geräte kommen ohne Nutzungsbedingungen online; jede Portalseite zeigt die Mitteilung. Endet spätestens nach der Dauer von selbst.",
	},
	"en": {
		"title": "roamgate admin", "dashboard": "Dashboard", "sessions": "Sessions", "logout": "Sign out",
		"login": "Sign in", "name": "Name", "password": "Password", "online": "online",
		"total_online": "Online now", "by_location": "By location", "by_network": "By network", "by_ap": "By access point (top 20)",
		"location": "Location", "network": "Network", "ap": "Access point", "count": "Count",
		"last24h": "Last 24 hours (per hour)", "last30d": "Last 30 days (per day)",
		"signins": "Sign-ins", "roams": "Roams", "devices": "Distinct devices",
		"csv": "CSV report of the last 30 days", "no_history": "No history configured.", "unsigned_clients": "RADIUS clients without Message-Authenticator (only limit_proxy_state guards them against Blast-RADIUS)",
		"id": "Session", "started": "Started", "time_left": "Time left", "data": "Data used", "roam_count": "Roams",
		"revoke": "Revoke", "all_locations": "All locations", "filter": "Filter", "no_sessions": "No sessions.",
		"revoked": "Session %s revoked. Disconnect at the access point: %s.", "revoke_failed": "Session %s could not be revoked.",
		"ack": "acknowledged (ACK)", "nak": "refused (NAK)", "timeout": "no answer (timeout)", "not_sent": "not sent (no NAS known)", "error": "error",
		"bad_credentials": "Wrong name or password.",
		"rate_limited":    "Too many failed sign-ins. Please try again in %d minutes.",
		"csrf_failed":     "The form has expired or is incomplete. Please reload the page.",
		"updated":         "As of", "signed_in_as": "Signed in as", "role_viewer": "viewer", "role_operator": "operator",
		"map":       "Map (online per location)",
		"shown":     "Showing the newest %d; filter by location or use the API with limit/offset.",
		"live_hint": "Updates itself while JavaScript is on; otherwise reload the page.",
		"crisis":    "Crisis mode", "crisis_on": "ACTIVE", "crisis_off": "off", "crisis_since": "since", "crisis_until": "until", "crisis_by": "switched by",
		"crisis_sessions": "Crisis sessions", "crisis_switch_on": "Switch crisis mode on", "crisis_switch_off": "End crisis mode",
		"crisis_message": "Message", "crisis_links": "Links (one per line: Title | URL)", "crisis_hours": "Duration in hours (at most 168)",
		"crisis_hint": "Every device gets online without terms; every portal page shows the message. Ends by itself after the duration at the latest.",
	},
}

// lang picks the language: ?lang= (remembered in a cookie), the cookie,
// then Accept-Language; German by default.
func (s *Server) lang(c *fiber.Ctx) string {
	if l := c.Query("lang"); messages[l] != nil {
		c.Cookie(&fiber.Cookie{Name: "roamgate_admin_lang", Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			SameSite: fiber.CookieSameSiteStrictMode, HTTPOnly: true, Secure: s.cfg.tls()})
		return l
	}
	if l := c.Cookies("roamgate_admin_lang"); messages[l] != nil {
		return l
	}
	for _, part := range strings.Split(c.Get(fiber.HeaderAcceptLanguage), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		if len(tag) >= 2 && messages[tag[:2]] != nil {
			return tag[:2]
		}
	}
	return "de"
}

func (s *Server) tr(c *fiber.Ctx, key string) string {
	if m := messages[s.lang(c)][key]; m != "" {
		return m
	}
	return key
}
