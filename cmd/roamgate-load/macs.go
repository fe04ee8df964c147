package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
)

// deviceMAC is the MAC of known (02-…) or unknown (06-…) device i, written
// as RFC 3580 recommends.
func deviceMAC(i int, known bool) string {
	first := 0x06
	if known {
		first = 0x02
	}
	return fmt.Sprintf("%02X-00-%02X-%02X-%02X-%02X", first, byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
}

// users writes a FreeRADIUS users file in which every known device's
// password is its MAC (PAP MAC authentication, as the load sends it), with
// the reply attributes roamgate sends in an Access-Accept (Session-Timeout,
// Idle-Timeout, Acct-Interim-Interval, a 32-character Class), so that both
// servers build replies of the same size.
func users(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("users", flag.ContinueOnError)
	n := fs.Int("sessions", 100000, "number of known devices")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	for i := range *n {
		m := deviceMAC(i, true)
		fmt.Fprintf(bw, "%q Cleartext-Password := %q\n\tSession-Timeout := 86400, Idle-Timeout := 43200, Acct-Interim-Interval := 300, Class := \"%032x\"\n", m, m, i)
	}
	return bw.Flush()
}
