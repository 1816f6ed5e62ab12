// Package cli implements iamctl, the command line client of iamd. Every
// command is a thin call of one API method (Connect by default, gRPC with
// --grpc) whose answer is printed as a table, JSON or YAML.
//
// Exit codes follow grep: 0 on success, 1 only when `iamctl check` is
// denied, and 2 on any error, so that a script never mistakes a failure
// for a denial or a denial for a failure.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
)

// The exit codes of iamctl.
const (
	// ExitOK means the command succeeded (or the check was allowed).
	ExitOK = 0

	// ExitDenied means `iamctl check` answered denied. No other
	// command uses it.
	ExitDenied = 1

	// ExitError means the command failed: bad usage, a refused
	// request, an unreachable server or a timeout.
	ExitError = 2
)

// The environment variables iamctl reads.
const (
	EnvServer = "IAMCTL_SERVER"
	EnvToken  = "IAMCTL_TOKEN"
)

// DefaultServer is the URL used when neither --server nor IAMCTL_SERVER
// is set: a local iamd.
const DefaultServer = "http://127.0.0.1:8080"

// DefaultTimeout bounds a whole command, every call included.
const DefaultTimeout = 30 * time.Second

// Env is what iamctl reads from and writes to its surroundings. Tests
// give it buffers and a fixed environment instead of the process's.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Getenv looks up an environment variable; nil reads none.
	Getenv func(string) string
}

// errDenied makes Run exit with ExitDenied without printing an error.
var errDenied = errors.New("denied")

// Run executes iamctl with args (without the program name) and returns
// its exit code. Errors are printed to env.Stderr.
func Run(ctx context.Context, args []string, env Env) int {
	a := newApp(env)
	root := a.rootCommand()
	root.SetArgs(args)

	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errDenied):
		return ExitDenied
	}

	fmt.Fprintln(env.Stderr, "iamctl: "+a.describe(err))
	return ExitError
}

// app holds the global flags and the streams shared by every command.
type app struct {
	env Env

	server  string
	token   string
	grpc    bool
	output  string
	timeout time.Duration
}

func newApp(env Env) *app {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	return &app{env: env}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "iamctl",
		Short: "Manage and query iamd, the IAM access policy service",
		Long: "iamctl manages organizations, policies, groups and " +
			"legacy groups in iamd and checks permissions.\n\n" +
			"The server and the token come from --server and --token " +
			"or from " + EnvServer + " and " + EnvToken + ". Prefer " +
			EnvToken + ": a flag is visible to other local users.",
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.resolveGlobals,
	}
	root.SetOut(a.env.Stdout)
	root.SetErr(a.env.Stderr)
	root.SetIn(a.env.Stdin)
	root.CompletionOptions.DisableDefaultCmd = true

	// Flag errors are usage errors: name the fix, not just the flag.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w; see `%s --help`", err, c.CommandPath())
	})

	f := root.PersistentFlags()
	f.StringVar(&a.server, "server", "",
		"iamd URL (env "+EnvServer+", default "+DefaultServer+")")
	f.StringVar(&a.token, "token", "",
		"bearer token (env "+EnvToken+"); never printed")
	f.BoolVar(&a.grpc, "grpc", false,
		"speak gRPC instead of the Connect protocol")
	f.StringVarP(&a.output, "output", "o", "table",
		"output format: table, json or yaml")
	f.DurationVar(&a.timeout, "timeout", DefaultTimeout,
		"time limit for the whole command")

	root.AddCommand(
		a.applyCommand(),
		a.getCommand(),
		a.listCommand(),
		a.createCommand(),
		a.deleteCommand(),
		a.membersCommand(),
		a.groupsCommand(),
		a.legacyCommand(),
		a.checkCommand(),
		a.rolesCommand(),
		a.whoamiCommand(),
		a.benchCommand(),
		a.tokenCommand(),
	)
	return root
}

// resolveGlobals fills the global settings from the environment and
// validates them before any command runs. Environment values are never
// flag defaults, so that --help cannot reveal a token.
func (a *app) resolveGlobals(cmd *cobra.Command, _ []string) error {
	if !cmd.Flags().Changed("server") {
		a.server = a.env.Getenv(EnvServer)
	}
	if a.server == "" {
		a.server = DefaultServer
	}
	if !cmd.Flags().Changed("token") {
		a.token = a.env.Getenv(EnvToken)
	}
	a.token = strings.TrimSpace(a.token)

	if err := checkOutput(a.output); err != nil {
		return err
	}
	if a.timeout <= 0 {
		return fmt.Errorf("--timeout %q: must be positive; "+
			"give a duration such as 30s or 2m", a.timeout)
	}
	return nil
}

// context bounds a command by --timeout.
func (a *app) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), a.timeout)
}

// describe renders an error for stderr. An API error shows its code and
// the server's message; an unreachable server gets a hint about where
// iamctl looked.
func (a *app) describe(err error) string {
	// A connect.Error renders as "code: the server's message".
	msg := err.Error()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return msg
	}

	switch ce.Code() {
	case connect.CodeUnavailable:
		msg += "; is iamd running at " + a.server +
			"? set --server or " + EnvServer
	case connect.CodeDeadlineExceeded:
		msg += "; the command took longer than --timeout " +
			a.timeout.String()
	case connect.CodeUnauthenticated:
		if a.token == "" {
			msg += "; no token was given: set " + EnvToken
		}
	}
	return msg
}
