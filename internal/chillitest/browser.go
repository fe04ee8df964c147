//go:build linux

package chillitest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Page is what the phone's browser shows after following every redirect.
type Page struct {
	// URL is the address of the page shown.
	URL *url.URL
	// Status is its HTTP status.
	Status int
	// Body is its text.
	Body string
	// Hops are the URLs requested on the way, in order: Hops[0] is the one
	// opened or posted to, the last one is URL.
	Hops []*url.URL
}

// Reached reports whether the browser ended on the stand-in internet.
func (pg *Page) Reached(internet string) bool {
	return pg.Status == http.StatusOK && strings.HasPrefix(pg.URL.String(), internet) && strings.HasPrefix(pg.Body, InternetMarker)
}

// HopTo returns the first URL on the way whose scheme://host is origin.
func (pg *Page) HopTo(origin string) (*url.URL, bool) {
	for _, u := range pg.Hops {
		if u.Scheme+"://"+u.Host == origin {
			return u, true
		}
	}
	return nil, false
}

func (pg *Page) String() string {
	var hops []string
	for _, u := range pg.Hops {
		hops = append(hops, u.String())
	}
	body := pg.Body
	if len(body) > 400 {
		body = body[:400] + "…"
	}
	return fmt.Sprintf("%d %s\nvia %s\n%s", pg.Status, pg.URL, strings.Join(hops, "\n -> "), body)
}

// Open loads rawURL the way a browser does: following every redirect.
func (p *Phone) Open(rawURL string) (*Page, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	return p.do(req)
}

func (p *Phone) do(req *http.Request) (*Page, error) {
	pg := &Page{Hops: []*url.URL{req.URL}}
	c := *p.HTTP
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return fmt.Errorf("more than 10 redirects")
		}
		pg.Hops = append(pg.Hops, r.URL)
		return nil
	}
	resp, err := c.Do(req)
	if err != nil {
		return pg, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	pg.URL, pg.Status, pg.Body = resp.Request.URL, resp.StatusCode, string(body)
	return pg, err
}

// Form is an HTML form on a page, as a browser would submit it.
type Form struct {
	ID, Method string
	// Action is the absolute URL it submits to.
	Action *url.URL
	// Fields are its successful controls' names and values in document
	// order: inputs (checkboxes only when checked), and no buttons.
	Fields []Field
	// Checkboxes are the names of its unchecked checkboxes, with the value
	// they send when ticked.
	Checkboxes map[string]string
	// Buttons are its submit buttons' name/value pairs.
	Buttons []Field
	page    *url.URL
}

// Field is a form control's name and value.
type Field struct{ Name, Value string }

// Forms parses the page's forms.
func (pg *Page) Forms() ([]*Form, error) {
	doc, err := html.Parse(strings.NewReader(pg.Body))
	if err != nil {
		return nil, err
	}
	var forms []*Form
	var cur *Form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				action, err := pg.URL.Parse(attr(n, "action"))
				if err != nil {
					action = pg.URL
				}
				method := strings.ToUpper(attr(n, "method"))
				if method == "" {
					method = http.MethodGet
				}
				cur = &Form{ID: attr(n, "id"), Method: method, Action: action, Checkboxes: map[string]string{}, page: pg.URL}
				forms = append(forms, cur)
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr(n, "name") != "" && !hasAttr(n, "disabled") {
					name, value := attr(n, "name"), attr(n, "value")
					switch strings.ToLower(attr(n, "type")) {
					case "checkbox", "radio":
						if value == "" {
							value = "on"
						}
						if hasAttr(n, "checked") {
							cur.Fields = append(cur.Fields, Field{name, value})
						} else {
							cur.Checkboxes[name] = value
						}
					case "submit":
						cur.Buttons = append(cur.Buttons, Field{name, value})
					case "button", "reset", "file", "image":
					default:
						cur.Fields = append(cur.Fields, Field{name, value})
					}
				}
			case "button":
				if cur != nil && !hasAttr(n, "disabled") {
					if typ := strings.ToLower(attr(n, "type")); typ == "" || typ == "submit" {
						cur.Buttons = append(cur.Buttons, Field{attr(n, "name"), attr(n, "value")})
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return forms, nil
}

// Form returns the page's form that submits to path (an absolute URL's
// path on any host, or a full URL), or its form with that id.
func (pg *Page) Form(pathOrID string) (*Form, error) {
	forms, err := pg.Forms()
	if err != nil {
		return nil, err
	}
	for _, f := range forms {
		if f.ID == pathOrID || f.Action.Path == pathOrID || f.Action.String() == pathOrID {
			return f, nil
		}
	}
	return nil, fmt.Errorf("no form %q on %s", pathOrID, pg.URL)
}

// Submit submits form the way a tap on its first submit button does,
// ticking the checkboxes named in tick first, and follows the redirects.
func (p *Phone) Submit(f *Form, tick ...string) (*Page, error) {
	v := url.Values{}
	for _, fl := range f.Fields {
		v.Add(fl.Name, fl.Value)
	}
	for _, name := range tick {
		value, ok := f.Checkboxes[name]
		if !ok {
			return nil, fmt.Errorf("form %s has no checkbox %q", f.Action, name)
		}
		v.Add(name, value)
	}
	if len(f.Buttons) > 0 && f.Buttons[0].Name != "" {
		v.Add(f.Buttons[0].Name, f.Buttons[0].Value)
	}
	var req *http.Request
	var err error
	if f.Method == http.MethodPost {
		req, err = http.NewRequest(http.MethodPost, f.Action.String(), strings.NewReader(v.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", f.page.Scheme+"://"+f.page.Host) // as browsers send with every POST
		}
	} else {
		u := *f.Action
		u.RawQuery = v.Encode()
		req, err = http.NewRequest(http.MethodGet, u.String(), nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", f.page.String())
	return p.do(req)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
