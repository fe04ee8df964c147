// Command roamgate runs the public-WiFi captive portal and roaming gateway.
// With no arguments it serves the demo site; see README.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"roamgate/gateway"
)

const usage = `usage: roamgate [command] [flags]

commands:
  serve [-config FILE]         run the gateway (default; no config = demo site)
  check-config FILE            validate a config file
  keys init [-config FILE]     create the site key and token keys if missing
  keys rotate [-config FILE]   add a new token signing key
  crisis on -until TIME|DURATION [-config FILE] [-message-de TEXT …] [-link 'TITLE|URL' …]
  crisis off [-config FILE]    switch crisis mode through the store (works
                               with the gateway stopped); the message is
                               optional: without -message-LANG each language
                               shows crisis.message.LANG or the built-in message
  hash-password                read a password on stdin, print its argon2id hash
  version                      print the version

Every config key can also be set with a ROAMGATE_… environment variable
(ROAMGATE_PORTAL_LISTEN, ROAMGATE_RADIUS_CLIENTS_0_SECRET, …).
`

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "roamgate:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		path, err := configFlag("serve", args)
		if err != nil {
			return err
		}
		return serve(path, stdout)
	case "check-config":
		if len(args) != 1 {
			return errors.New("check-config needs exactly one FILE")
		}
		if _, err := gateway.Load(args[0], os.Environ()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok\n", args[0])
		return nil
	case "keys":
		if len(args) == 0 || (args[0] != "rotate" && args[0] != "init") {
			return errors.New("keys: the subcommands are init and rotate")
		}
		path, err := configFlag("keys "+args[0], args[1:])
		if err != nil {
			return err
		}
		cfg, err := gateway.Load(path, os.Environ())
		if err != nil {
			return err
		}
		if args[0] == "init" {
			dir, kids, err := gateway.InitKeys(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "keys in %s: site key, token keys %s\n", dir, strings.Join(kids, ", "))
			return nil
		}
		kid, err := gateway.RotateKeys(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s; restart running gateways to sign with it\n", kid)
		return nil
	case "crisis":
		return crisis(args, stdout)
	case "hash-password":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		password := strings.TrimRight(line, "\r\n")
		if len(password) < 8 {
			return errors.New("hash-password: the password needs at least 8 characters")
		}
		hash, err := gateway.HashPassword(password)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, hash)
		return nil
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "roamgate", gateway.Version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

func configFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	path := fs.String("config", os.Getenv("ROAMGATE_CONFIG"), "YAML config `FILE` (default: the demo site)")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	return *path, nil
}

func serve(path string, stdout io.Writer) error {
	cfg, err := gateway.Load(path, os.Environ())
	if err != nil {
		return err
	}
	log := cfg.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := whileLoading(os.Getenv("GOGC"), func() (*gateway.Gateway, error) { return gateway.New(ctx, cfg, log) })
	if err != nil {
		return err
	}
	g.PrintBanner(stdout)
	return g.Run(ctx)
}

// loadGCPercent is the GC percentage while a gateway starts. Loading a
// million sessions allocates a lot that dies at once; letting the heap grow
// further between collections meanwhile took the GC from over half of the
// load time (docs/BENCHMARKS.md, capacity).
const loadGCPercent = 400

// whileLoading runs start (gateway.New, which loads the sessions) with the
// GC at loadGCPercent, unless the operator set GOGC (gogc), then restores
// the GC setting and hands the load's garbage back to the OS. It is here,
// not in gateway, because the GC setting is the process's: a library that
// changed it would change it for every program that links it.
func whileLoading[T any](gogc string, start func() (T, error)) (T, error) {
	defer debug.FreeOSMemory()
	if gogc == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(loadGCPercent))
	}
	return start()
}
