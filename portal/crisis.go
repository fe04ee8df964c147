package portal

import "roamgate/session"

// CrisisSource tells the portal whether crisis mode is active (the
// *session.Manager does). While it is, every page carries the official
// notice and the splash needs no terms acceptance: people must get online
// at once.
type CrisisSource interface {
	// Crisis returns the current state; Active is false after Until. It
	// must do no I/O: it is asked on every page.
	Crisis() session.Crisis
}

// crisisBanner is the notice on every page during a crisis.
type crisisBanner struct {
	Message string
	// Lang is the language of Message when it is not the page's (no text
	// in the page's language was given), for the lang attribute.
	Lang  string
	Links []session.CrisisLink
}

// crisis returns the banner for a page in lang, or nil when no crisis is
// active.
func (s *Server) crisis(lang string) *crisisBanner {
	if s.deps.Crisis == nil {
		return nil
	}
	c := s.deps.Crisis.Crisis()
	if !c.Active {
		return nil
	}
	b := &crisisBanner{Links: c.Links}
	if msg := c.Message[lang]; msg != "" {
		b.Message = msg
		return b
	}
	// Fall back to the configured languages in order, then to any text.
	for _, l := range s.cfg.Languages {
		if msg := c.Message[l]; msg != "" {
			b.Message, b.Lang = msg, l
			return b
		}
	}
	for l, msg := range c.Message {
		if msg != "" && (b.Lang == "" || l < b.Lang) { // deterministic
			b.Message, b.Lang = msg, l
		}
	}
	return b
}

// crisisActive reports whether a crisis is active.
func (s *Server) crisisActive() bool {
	return s.deps.Crisis != nil && s.deps.Crisis.Crisis().Active
}
