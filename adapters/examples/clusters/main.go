// Command clusters is an example platform service: a tiny HTTP API of
// Kubernetes clusters, per organization, whose every route is protected
// by iamd through the adapters.
//
//	go run ./adapters/examples/clusters --iamd http://127.0.0.1:8080 --token T
//
// Routes, and the console action each needs:
//
//	GET    /orgs/{org}/clusters         cks.clusters.list
//	POST   /orgs/{org}/clusters         cks.clusters.create  {"name": "c1"}
//	GET    /orgs/{org}/clusters/{name}  cks.clusters.get
//	DELETE /orgs/{org}/clusters/{name}  cks.clusters.delete
//
// Callers send the bearer token iamd minted for them; the service asks
// iamd who they are (WhoAmI) and whether they may (Check). Behind an
// authenticating gateway, --gateway-secret-file makes the service trust
// the X-Authenticated-Principal header instead, on requests whose
// X-Gateway-Secret header holds the file's secret. A caller that just
// changed permissions passes the consistency token of that write in the
// X-Consistency-Token header, and is answered at least as fresh.
//
// The service's own token (--token, or $IAMD_TOKEN) must be allowed to
// check other principals: iamd's operator token, or a token of a
// principal holding iam.users.permissions in the organizations served.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authzcache"
	"github.com/gpucloud/iam/adapters/iamclient"
)

// envToken is read when --token is not given, which keeps the token out
// of the process list.
const envToken = "IAMD_TOKEN"

const (
	readHeaderTimeout = 10 * time.Second
	shutdownTimeout   = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clusters:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr     string
	iamd     string
	token    string
	cacheTTL time.Duration
	timeout  time.Duration

	// gatewaySecretFile holds the secret of gateway requests.
	gatewaySecretFile string
}

// gatewaySecretHeader carries the gateway's secret.
const gatewaySecretHeader = "X-Gateway-Secret"

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("clusters", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "listen address, host:port")
	fs.StringVar(&o.iamd, "iamd", "", "iamd's URL, e.g. http://127.0.0.1:8080 (required)")
	fs.StringVar(&o.token, "token", os.Getenv(envToken),
		"the service's bearer token for iamd; defaults to $"+envToken)
	fs.DurationVar(&o.cacheTTL, "cache-ttl", 0,
		"keep allows this long (e.g. 5s, at most 5m); 0 turns the cache off")
	fs.DurationVar(&o.timeout, "iamd-timeout", 2*time.Second,
		"bound on each call to iamd")
	fs.StringVar(&o.gatewaySecretFile, "gateway-secret-file", "",
		"trust gateway headers on requests whose "+gatewaySecretHeader+
			" header holds this file's secret, instead of bearer tokens")
	if err := fs.Parse(args); err != nil {
		return o, err
	}

	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q; all options are flags", fs.Arg(0))
	case o.iamd == "":
		return o, errors.New("--iamd is required, e.g. --iamd http://127.0.0.1:8080")
	case o.token == "":
		return o, errors.New("--token (or $" + envToken + ") is required: " +
			"the service's bearer token for iamd")
	}
	return o, nil
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	client, err := iamclient.New(iamclient.Config{
		URL: o.iamd, Token: o.token, Timeout: o.timeout,
	})
	if err != nil {
		return err
	}
	defer client.Close()

	var checker authz.Checker = client
	if o.cacheTTL > 0 {
		cache, err := authzcache.New(client, authzcache.Config{TTL: o.cacheTTL})
		if err != nil {
			return err
		}
		checker = cache
	}

	callers, err := extractor(o, client)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           newHandler(newStore(), checker, callers, log),
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("clusters listening", "addr", ln.Addr().String(),
		"iamd", o.iamd, "cache_ttl", o.cacheTTL.String())
	err = serve(ctx, srv, ln)
	log.Info("clusters stopped")
	return err
}

// extractor finds callers from gateway headers when a gateway secret is
// configured, from their bearer tokens through iamd otherwise.
func extractor(o options, users authz.Identifier) (authz.Extractor, error) {
	if o.gatewaySecretFile == "" {
		return authz.FromBearerToken(users), nil
	}

	data, err := os.ReadFile(o.gatewaySecretFile)
	if err != nil {
		return nil, fmt.Errorf("--gateway-secret-file: %w", err)
	}
	verify, err := authz.SharedSecret(gatewaySecretHeader,
		strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("--gateway-secret-file %s: %w",
			o.gatewaySecretFile, err)
	}
	return authz.FromGateway(authz.Gateway{Verify: verify})
}

// serve runs srv until ctx ends, then shuts it down gracefully.
func serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
