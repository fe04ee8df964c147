// Command roamgate-load is a RADIUS load generator for MAC authentication,
// and the harness that serves roamgate's RADIUS with many live sessions for
// it (make bench-radius). radclient tops out near 5 000 requests/s on two
// cores, so it cannot measure a server that answers far more.
//
//	roamgate-load [flags]            send load, print the result
//	roamgate-load serve [flags]      roamgate RADIUS with -sessions live sessions
//	roamgate-load users [flags]      the same MACs as a FreeRADIUS users file
//
// Every mode derives the same device MACs from -sessions, so the servers and
// the load agree without sharing files: known device i is
// 02-00-xx-xx-xx-xx, unknown device i is 06-00-xx-xx-xx-xx.
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "serve":
		err = serve(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "users":
		err = users(os.Args[2:], os.Stdout)
	default:
		err = load(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "roamgate-load:", err)
		os.Exit(1)
	}
}
