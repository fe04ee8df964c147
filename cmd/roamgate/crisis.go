package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"roamgate/gateway"
)

// crisis is `roamgate crisis on|off -config FILE …`: the switch for when
// the admin page is out of reach. It writes the store, so it works with
// the gateway stopped.
func crisis(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "on" && args[0] != "off") {
		return errors.New("crisis: say on or off")
	}
	on := args[0] == "on"
	fs := flag.NewFlagSet("crisis "+args[0], flag.ContinueOnError)
	path := fs.String("config", os.Getenv("ROAMGATE_CONFIG"), "YAML config `FILE` (default: the demo site)")
	until := fs.String("until", "", "when the crisis ends by itself: an RFC 3339 `TIME` or a duration from now (6h); at most 7 days; required for on")
	by := fs.String("by", defaultOperator(), "who switches, for the audit log")
	messages := map[string]*string{}
	for _, l := range gateway.Languages() {
		messages[l] = fs.String("message-"+l, "", "banner `TEXT` in "+l+" (default: crisis.message."+l+" from the config, else the built-in text)")
	}
	var links linkFlags
	fs.Var(&links, "link", "a banner link, `TITLE|URL`; repeat for more")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: roamgate crisis on -until TIME|DURATION [-config FILE] [-message-LANG TEXT …] [-link 'TITLE|URL' …] [-by NAME]
       roamgate crisis off [-config FILE] [-by NAME]

Switches crisis mode through the store, so it works with the gateway stopped.
The message is optional: every language without -message-LANG shows
crisis.message.LANG from the config, else the built-in message.

`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("crisis: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := gateway.Load(*path, os.Environ())
	if err != nil {
		return err
	}
	c := gateway.Crisis{Active: on, By: *by}
	if on {
		if *until == "" {
			return errors.New("crisis on: -until is required (a time, or a duration such as 12h; at most 7 days)")
		}
		if c.Until, err = parseUntil(*until, time.Now()); err != nil {
			return err
		}
		c.Message = map[string]string{}
		for l, m := range messages {
			if *m != "" {
				c.Message[l] = *m
			}
		}
		c.Links = links
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := gateway.SwitchCrisis(ctx, cfg, c)
	if err != nil {
		return err
	}
	if got.Active {
		fmt.Fprintf(stdout, "crisis mode on until %s (by %s)\n", got.Until.Local().Format(time.RFC3339), got.By)
	} else {
		fmt.Fprintf(stdout, "crisis mode off (by %s)\n", got.By)
	}
	return nil
}

// parseUntil reads an RFC 3339 time or a duration from now.
func parseUntil(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("crisis: -until %q is neither an RFC 3339 time nor a duration", s)
	}
	return now.Add(d), nil
}

func defaultOperator() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

// linkFlags collects repeated -link TITLE|URL flags.
type linkFlags []gateway.CrisisLink

func (l *linkFlags) String() string { return fmt.Sprint(*l) }

func (l *linkFlags) Set(v string) error {
	title, u, ok := strings.Cut(v, "|")
	if !ok {
		return fmt.Errorf("%q is not TITLE|URL", v)
	}
	*l = append(*l, gateway.CrisisLink{Title: strings.TrimSpace(title), URL: strings.TrimSpace(u)})
	return nil
}
