package probe

import (
	"net/http"
	"slices"
	"strings"
)

// Answer is what a check must get to conclude that the network is online.
type Answer struct {
	// Status is the HTTP status code.
	Status int
	// ContentType is the Content-Type header, "" for none (a 204).
	ContentType string
	// Body is the exact body.
	Body string
	// NetworkManager sets "X-NetworkManager-Status: online": NetworkManager
	// takes that header as success whatever its configured response is
	// (src/nm-connectivity.c, HEADER_STATUS_ONLINE in easy_header_cb), so
	// one answer suits every distribution's configuration.
	NetworkManager bool
}

// The answers, each as the OS's own server gives it.
var (
	// Apple: iOS and macOS look for "Success" in this page
	// (captive.apple.com/hotspot-detect.html).
	appleSuccess = Answer{http.StatusOK, "text/html; charset=utf-8", AppleSuccess, false}
	// Android and ChromeOS: 204 and nothing else (NetworkMonitor,
	// isValidationRequired: only 204 means validated).
	noContent = Answer{http.StatusNoContent, "", "", false}
	// Windows NCSI: the exact text of connecttest.txt and ncsi.txt.
	windowsConnect = Answer{http.StatusOK, "text/plain; charset=utf-8", "Microsoft Connect Test", false}
	windowsNCSI    = Answer{http.StatusOK, "text/plain; charset=utf-8", "Microsoft NCSI", false}
	// Firefox: success.txt is "success\n"; canonical.html is compared with
	// the pref captivedetect.canonicalContent.
	firefoxSuccess   = Answer{http.StatusOK, "text/plain; charset=utf-8", "success\n", false}
	firefoxCanonical = Answer{http.StatusOK, "text/html; charset=utf-8", FirefoxCanonical, false}
	// NetworkManager's default response, and its status header.
	networkManager = Answer{http.StatusOK, "text/plain; charset=utf-8", "NetworkManager is online\n", true}
	// Ubuntu's server answers 204 with the header (no body to compare).
	ubuntu = Answer{http.StatusNoContent, "", "", true}
	// Fedora and KDE configure response=OK.
	okText = Answer{http.StatusOK, "text/plain; charset=utf-8", "OK\n", true}
)

// AppleSuccess is the page captive.apple.com serves.
const AppleSuccess = "<HTML><HEAD><TITLE>Success</TITLE></HEAD><BODY>Success</BODY></HTML>"

// FirefoxCanonical is what detectportal.firefox.com/canonical.html serves.
const FirefoxCanonical = `<meta http-equiv="refresh" content="0;url=https://support.mozilla.org/kb/captive-portal"/>`

// Check is one OS's or browser's captive-portal check.
type Check struct {
	// OS names who makes the check: apple, android, windows, firefox,
	// networkmanager (GNOME, Debian, Ubuntu, openSUSE, Arch, Fedora, KDE).
	OS string
	// Host is the name it asks, lower case, without the final dot.
	Host string
	// Path is the path it requests; "*" on a host that serves nothing but
	// the check (any path there is the check); "" when the OS only
	// resolves the name and makes no HTTP request to it.
	Path string
	// Answer is what it must get to say "online".
	Answer Answer
}

// Checks are the known checks. The DNS resolves every Host to the portal
// while a client is captive; the portal answers each Host and Path.
var Checks = []Check{
	{"apple", "captive.apple.com", "*", appleSuccess},
	// The name captive.apple.com is an alias of, for a resolver that
	// follows the CNAME itself.
	{"apple", "captive.g.aaplimg.com", "*", appleSuccess},
	{"apple", "www.apple.com", "/library/test/success.html", appleSuccess}, // macOS before 10.10, iOS before 7
	{"apple", "www.appleiphonecell.com", "*", appleSuccess},                // iOS 6
	{"android", "connectivitycheck.gstatic.com", "/generate_204", noContent},
	{"android", "connectivitycheck.android.com", "/generate_204", noContent},
	{"android", "www.google.com", "/gen_204", noContent},           // Android's fallback URL
	{"android", "play.googleapis.com", "/generate_204", noContent}, // Android 7+ fallback URL
	{"android", "clients3.google.com", "/generate_204", noContent}, // ChromeOS, Android 4
	{"android", "clients1.google.com", "/generate_204", noContent}, // older Chrome
	{"windows", "www.msftconnecttest.com", "/connecttest.txt", windowsConnect},
	{"windows", "ipv6.msftconnecttest.com", "/connecttest.txt", windowsConnect},
	{"windows", "www.msftncsi.com", "/ncsi.txt", windowsNCSI},
	// NCSI's DNS check: Windows resolves the name and compares the
	// address (131.107.255.255); a captive client gets the portal instead,
	// which is what a captive portal looks like to Windows.
	{"windows", "dns.msftncsi.com", "", Answer{}},
	{"firefox", "detectportal.firefox.com", "/canonical.html", firefoxCanonical},
	{"firefox", "detectportal.firefox.com", "*", firefoxSuccess}, // /success.txt
	{"networkmanager", "nmcheck.gnome.org", "*", networkManager}, // /check_network_status.txt
	{"networkmanager", "network-test.debian.org", "*", networkManager},
	{"networkmanager", "connectivity-check.ubuntu.com", "*", ubuntu},
	{"networkmanager", "conncheck.opensuse.org", "*", networkManager},
	{"networkmanager", "ping.archlinux.org", "/nm-check.txt", networkManager},
	{"networkmanager", "fedoraproject.org", "/static/hotspot.txt", okText},
	{"networkmanager", "networkcheck.kde.org", "*", okText},
}

// pathChecks are recognised on any host: Android OEMs (Samsung, Xiaomi,
// Huawei …) ask /generate_204 on hosts of their own, and captive-portal
// tools copy the well-known paths.
var pathChecks = map[string]Answer{
	"/generate_204":              noContent,
	"/gen_204":                   noContent,
	"/hotspot-detect.html":       appleSuccess,
	"/library/test/success.html": appleSuccess,
	"/connecttest.txt":           windowsConnect,
	"/ncsi.txt":                  windowsNCSI,
	"/success.txt":               firefoxSuccess,
	"/canonical.html":            firefoxCanonical,
	"/check_network_status.txt":  networkManager,
}

// Hosts are the hosts of every check, each once, in the order of Checks.
func Hosts() []string {
	var hosts []string
	for _, c := range Checks {
		if !slices.Contains(hosts, c.Host) {
			hosts = append(hosts, c.Host)
		}
	}
	return hosts
}

// Match recognises a request as a check by its host (lower case, without
// port) and path, and returns the answer that tells the client it is
// online. A check's own host and path come first, then a host that serves
// only the check, then a well-known path on any host.
func Match(host, path string) (Answer, bool) {
	host = strings.TrimSuffix(host, ".")
	var hostWide *Answer
	for i := range Checks {
		c := &Checks[i]
		if c.Host != host || c.Path == "" {
			continue
		}
		if c.Path == path {
			return c.Answer, true
		}
		if c.Path == "*" && hostWide == nil {
			hostWide = &c.Answer
		}
	}
	if hostWide != nil {
		return *hostWide, true
	}
	a, ok := pathChecks[path]
	return a, ok
}
