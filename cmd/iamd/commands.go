package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/server"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version string

// envPrefix starts the environment variable of every flag:
// --datastore-uri is also IAMD_DATASTORE_URI.
const envPrefix = "IAMD_"

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "iamd",
		Short:         "The IAM access policy service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCommand(stderr, &serveFlags{}),
		newMigrateCommand(stdout),
		newVersionCommand(stdout))
	return root
}

// serveFlags holds the flags of iamd serve.
type serveFlags struct {
	addr              string
	datastoreEngine   string
	datastoreURI      string
	spicedbEndpoint   string
	spicedbToken      string
	spicedbInsecure   bool
	spicedbCA         string
	bootstrap         string
	operatorToken     string
	operatorTokenFile string
	signingKeyFile    string
	logLevel          string
	logFormat         string
	fullyConsistent   bool
	decisionCache     bool
	migrate           bool
	upgradeModel      bool
	readTimeout       time.Duration
	requestTimeout    time.Duration
}

// newServeCommand builds iamd serve, parsing its flags into f.
func newServeCommand(stderr io.Writer, f *serveFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the iamd API (gRPC, gRPC-Web and JSON on one port)",
		Long: "Serve the iamd API. Every flag can also be set by an environment " +
			"variable, IAMD_ and the flag's name in capitals with _ for -, " +
			"e.g. IAMD_DATASTORE_URI; a flag given on the command line wins.",
		Args: cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := server.NewLogger(stderr, f.logLevel, f.logFormat)
			if err != nil {
				return err
			}
			cfg := f.config()
			cfg.Logger = log
			cfg.Stderr = stderr
			return server.Run(cmd.Context(), cfg)
		},
	}

	fs := cmd.Flags()
	fs.StringVar(&f.addr, "addr", server.DefaultAddr, "listen address, host:port")
	fs.StringVar(&f.datastoreEngine, "datastore-engine", engine.MemoryDatastore,
		"datastore of the embedded SpiceDB: memory or postgres")
	fs.StringVar(&f.datastoreURI, "datastore-uri", "",
		"connection string of the postgres datastore")
	fs.StringVar(&f.spicedbEndpoint, "spicedb-endpoint", "",
		"host:port of a remote SpiceDB to use instead of the embedded one")
	fs.StringVar(&f.spicedbToken, "spicedb-token", "",
		"preshared key of the remote SpiceDB (prefer the environment variable)")
	fs.BoolVar(&f.spicedbInsecure, "spicedb-insecure", false,
		"talk to the remote SpiceDB without TLS")
	fs.StringVar(&f.spicedbCA, "spicedb-ca", "",
		"CA bundle that verifies the remote SpiceDB")
	fs.StringVar(&f.bootstrap, "bootstrap", "",
		"organization file to apply at start")
	fs.StringVar(&f.operatorToken, "operator-token", "",
		"bearer token of the operator (prefer the environment variable or "+
			"--operator-token-file); generated and printed once if unset")
	fs.StringVar(&f.operatorTokenFile, "operator-token-file", "",
		"file holding the operator token")
	fs.StringVar(&f.signingKeyFile, "token-signing-key-file", "",
		"file holding the key that signs minted tokens; without it, "+
			"tokens die with the process")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.fullyConsistent, "fully-consistent-checks", false,
		"answer checks without a consistency token from the newest data, "+
			"at some latency")
	fs.BoolVar(&f.decisionCache, "decision-cache", false,
		"answer repeated checks from memory, dropped on every change "+
			"SpiceDB's Watch API reports; ZedTokens are honoured")
	fs.BoolVar(&f.migrate, "migrate", false,
		"bring the postgres datastore to the head migration before serving")
	fs.BoolVar(&f.upgradeModel, "upgrade-model", false,
		"rewrite a datastore of the first permission model to the current "+
			"one before serving; stop every older replica first")
	fs.DurationVar(&f.readTimeout, "read-timeout", server.DefaultReadTimeout,
		"longest time to read one request, body included")
	fs.DurationVar(&f.requestTimeout, "request-timeout",
		server.DefaultRequestTimeout,
		"deadline of every request; a client's shorter deadline wins")

	fs.VisitAll(func(fl *pflag.Flag) {
		fl.Usage += " (env " + envName(fl.Name) + ")"
	})
	return cmd
}

func (f serveFlags) config() server.Config {
	return server.Config{
		Addr:                  f.addr,
		DatastoreEngine:       f.datastoreEngine,
		DatastoreURI:          f.datastoreURI,
		SpiceDBEndpoint:       f.spicedbEndpoint,
		SpiceDBToken:          f.spicedbToken,
		SpiceDBInsecure:       f.spicedbInsecure,
		SpiceDBCA:             f.spicedbCA,
		BootstrapFile:         f.bootstrap,
		OperatorToken:         f.operatorToken,
		OperatorTokenFile:     f.operatorTokenFile,
		TokenSigningKeyFile:   f.signingKeyFile,
		FullyConsistentChecks: f.fullyConsistent,
		DecisionCache:         f.decisionCache,
		Migrate:               f.migrate,
		UpgradeModel:          f.upgradeModel,
		ReadTimeout:           f.readTimeout,
		RequestTimeout:        f.requestTimeout,
	}
}

// newMigrateCommand builds iamd migrate: it brings a PostgreSQL database
// to SpiceDB's head migration, then reports what would still stop iamd.
// Running it again, or from several replicas at once, is safe.
func newMigrateCommand(stdout io.Writer) *cobra.Command {
	var uri string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Migrate the PostgreSQL datastore to the head revision",
		Args:  cobra.NoArgs,
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			return bindEnv(cmd.Flags())
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if uri == "" {
				return fmt.Errorf("--datastore-uri is empty; give the " +
					"PostgreSQL connection string (or IAMD_DATASTORE_URI)")
			}
			if err := engine.Migrate(cmd.Context(), uri); err != nil {
				return err
			}

			status, err := engine.InspectPostgres(cmd.Context(), uri)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s is at migration %s (PostgreSQL %s)\n",
				status.Target, status.Revision, status.ServerVersion)
			for _, w := range status.Warnings {
				fmt.Fprintf(stdout, "warning: %s\n", w)
			}
			return status.Err()
		},
	}
	cmd.Flags().StringVar(&uri, "datastore-uri", "",
		"connection string of the PostgreSQL datastore (env "+
			envName("datastore-uri")+")")
	return cmd
}

func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv sets every flag not given on the command line from its
// environment variable, if that is set.
func bindEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *pflag.Flag) {
		value, ok := os.LookupEnv(envName(fl.Name))
		if err != nil || fl.Changed || !ok {
			return
		}
		// The value is not repeated: it may be a secret.
		if setErr := fs.Set(fl.Name, value); setErr != nil {
			err = fmt.Errorf("environment variable %s holds no valid value for --%s",
				envName(fl.Name), fl.Name)
		}
	})
	return err
}

func newVersionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of iamd",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(stdout, versionString())
			return err
		},
	}
}

func versionString() string {
	v := version
	if v == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			v = info.Main.Version
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return fmt.Sprintf("iamd %s %s/%s %s",
		v, runtime.GOOS, runtime.GOARCH, runtime.Version())
}
