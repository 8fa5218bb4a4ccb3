// Command itssctl administers an ITSS deployment: database schema and seed
// data, users, and file storage. It reads the same settings as the services.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one "itssctl <group> <name>" action.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, out io.Writer) error) {
	commands[name] = command{summary: summary, run: run}
}

// errUsage marks a mistake on the command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		usage(errOut)
		return 0
	}
	if len(args) < 2 {
		// "itssctl db" is a command cut short, not a request for help.
		usage(errOut)
		return 2
	}
	name := args[0] + " " + args[1]
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(errOut, "itssctl: unknown command %q\n\n", strings.Join(args[:2], " "))
		usage(errOut)
		return 2
	}
	if err := cmd.run(ctx, args[2:], out); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(errOut, "itssctl "+name+": "+err.Error())
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: itssctl <group> <command> [flags]   (itssctl <group> <command> -h for its flags)")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nSettings come from the environment and .env, as for the services (see README.md).")
}

// newFlags returns a flag set whose -h prints the command's help.
func newFlags(name, summary, argsHelp string) *flag.FlagSet {
	fs := flag.NewFlagSet("itssctl "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: itssctl %s [flags] %s\n\n%s\n", name, argsHelp, summary)
		var any bool
		fs.VisitAll(func(*flag.Flag) { any = true })
		if any {
			fmt.Fprintln(fs.Output(), "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags and turns parse errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
