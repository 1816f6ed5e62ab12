// Package server assembles iamd: it opens the permission engine, writes
// the schema, builds the facade, applies the bootstrap file and serves the
// API until its context ends, then shuts down gracefully.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/decisioncache"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
)

// Config is everything iamd serve is told.
type Config struct {
	// Addr is the listen address, host:port; port 0 picks a free one.
	Addr string

	// DatastoreEngine ("memory" or "postgres") and DatastoreURI
	// configure the embedded SpiceDB. Unused with SpiceDBEndpoint.
	DatastoreEngine string
	DatastoreURI    string

	// SpiceDBEndpoint, when set, uses a remote SpiceDB instead of the
	// embedded one, with its preshared key and transport settings.
	SpiceDBEndpoint string
	SpiceDBToken    string
	SpiceDBInsecure bool
	SpiceDBCA       string

	// BootstrapFile, when set, is an organization file applied at start.
	BootstrapFile string

	// OperatorToken, or the content of OperatorTokenFile, is the
	// operator's bearer token. With neither, a token is generated and
	// printed once to Stderr.
	OperatorToken     string
	OperatorTokenFile string

	// TokenSigningKeyFile holds the key that signs minted tokens. Without
	// it, a random key is used and tokens die with the process.
	TokenSigningKeyFile string

	// FullyConsistentChecks makes checks without a ZedToken read the
	// newest data; see iam.WithFullyConsistentChecks.
	FullyConsistentChecks bool

	// DecisionCache keeps check decisions in memory, dropped as soon as
	// SpiceDB's Watch API reports a change of their organization; a
	// check with a ZedToken the watch has not reached goes to SpiceDB.
	// Without effect with FullyConsistentChecks, whose checks it never
	// answers. See internal/decisioncache.
	DecisionCache bool

	// Migrate brings a postgres datastore to SpiceDB's head migration at
	// start; without it, iamd refuses a datastore that is not at head.
	Migrate bool

	// UpgradeModel rewrites a datastore written under the first
	// permission model (see engine.UpgradeModel) before serving; without
	// it, iamd refuses such a datastore. Every replica of the previous
	// version must be stopped first.
	UpgradeModel bool

	// Logger receives the server's logs; slog.Default() if nil.
	Logger *slog.Logger

	// Stderr receives a generated operator token, and nothing else;
	// os.Stderr if nil.
	Stderr io.Writer

	// ShutdownTimeout bounds the graceful shutdown; 15 seconds if zero.
	ShutdownTimeout time.Duration

	// ReadTimeout bounds reading one request, body included; one minute
	// if zero. A client that stalls its body loses the request (over
	// HTTP/2) or the connection (over HTTP/1.1) instead of holding it.
	ReadTimeout time.Duration

	// RequestTimeout is the deadline of every request's context; two
	// minutes if zero. A client's shorter deadline (grpc-timeout,
	// Connect-Timeout-Ms) wins. It bounds how long a request holds the
	// engine, and leaves time for a large Apply.
	RequestTimeout time.Duration
}

// DefaultAddr is where iamd listens unless told otherwise: loopback, as
// the API is served without TLS.
const DefaultAddr = "127.0.0.1:8080"

// The defaults of Config.ReadTimeout and Config.RequestTimeout.
const (
	DefaultReadTimeout    = time.Minute
	DefaultRequestTimeout = 2 * time.Minute
)

const (
	defaultShutdownTimeout = 15 * time.Second
	readHeaderTimeout      = 10 * time.Second
	idleTimeout            = 2 * time.Minute

	// writeGrace is how long past its deadline a request may take to
	// write its answer, an error at least, before the write is cut.
	writeGrace = 10 * time.Second
)

// Server is an iamd ready to serve: its engine is open, its schema
// written, its bootstrap file applied and its port bound.
type Server struct {
	log      *slog.Logger
	engine   *engine.Engine
	http     *http.Server
	listener net.Listener
	timeout  time.Duration

	// stderr and trialToken: a generated operator token is shown there
	// once, with how to query the server, when it starts serving.
	stderr     io.Writer
	trialToken string

	// draining turns readiness off while the server shuts down, so that
	// load balancers stop sending new requests first.
	draining atomic.Bool

	// closers release what prepare built over the engine (the decision
	// cache), newest first, before the engine closes.
	closers []func() error
}

// New prepares a server. On error, everything it opened is closed again.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = slog.New(api.NewLogHandler(log.Handler()))
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}

	operatorToken, generated, err := operatorToken(cfg, log)
	if err != nil {
		return nil, err
	}
	signingKey, err := signingKey(cfg.TokenSigningKeyFile, log)
	if err != nil {
		return nil, err
	}

	eng, err := openEngine(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, engine: eng, timeout: cfg.ShutdownTimeout, stderr: stderr}
	if generated {
		s.trialToken = operatorToken
	}
	if s.timeout == 0 {
		s.timeout = defaultShutdownTimeout
	}
	if err := s.prepare(ctx, cfg, operatorToken, signingKey); err != nil {
		return nil, errors.Join(err, s.closeAll(), eng.Close())
	}
	return s, nil
}

// prepare does what needs the engine: schema, facade, bootstrap, handler
// and listener.
func (s *Server) prepare(
	ctx context.Context, cfg Config, operatorToken string, signingKey []byte,
) error {
	var err error
	if cfg.UpgradeModel {
		err = s.engine.UpgradeModel(ctx, s.log)
	} else {
		err = s.engine.WriteSchema(ctx)
	}
	if err != nil {
		return err
	}
	permissions, err := s.permissions(cfg)
	if err != nil {
		return err
	}
	svc := iam.New(permissions,
		iam.WithFullyConsistentChecks(cfg.FullyConsistentChecks))

	if cfg.BootstrapFile != "" {
		if err := s.applyBootstrap(ctx, svc, cfg.BootstrapFile); err != nil {
			return err
		}
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler, err := api.NewHandler(api.Config{
		Service:       svc,
		OperatorToken: operatorToken,
		TokenKey:      signingKey,
		Logger:        s.log,
		Ready:         s.ready,
		Registry:      registry,
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	s.listener = ln
	s.http = newHTTPServer(handler, s.log, cfg.ReadTimeout, cfg.RequestTimeout)
	warnIfExposed(ln.Addr(), s.log)
	return nil
}

// permissions is what the facade checks with: the engine, or the
// decision cache in front of it. With an embedded engine the cache
// answers misses in process and compares any ZedToken with the watch.
func (s *Server) permissions(cfg Config) (iam.Engine, error) {
	if !cfg.DecisionCache {
		return s.engine, nil
	}
	dc := decisioncache.Config{
		Engine: s.engine, Watch: s.engine, Logger: s.log,
		// Every write goes through the facade, which never links two
		// organizations.
		ScopeByOrganization: true,
	}
	if ds := s.engine.Datastore(); ds != nil {
		local, err := decisioncache.NewLocal(ds)
		if err != nil {
			return nil, err
		}
		dc.Local, dc.Revisions = local, ds
		s.closers = append(s.closers, local.Close)
	}
	cache, err := decisioncache.New(dc)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, cache.Close)
	return cache, nil
}

// newHTTPServer serves HTTP/1.1 and unencrypted HTTP/2, so that gRPC
// clients reach the API without TLS. Every request is read within
// readTimeout, runs within requestTimeout, and is answered within
// writeGrace after that; zero durations take their defaults.
func newHTTPServer(
	h http.Handler, log *slog.Logger, readTimeout, requestTimeout time.Duration,
) *http.Server {
	if readTimeout == 0 {
		readTimeout = DefaultReadTimeout
	}
	if requestTimeout == 0 {
		requestTimeout = DefaultRequestTimeout
	}

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           withDeadline(h, requestTimeout),
		Protocols:         protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      requestTimeout + writeGrace,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// withDeadline gives every request's context a deadline d away, so that a
// request stuck on a slow engine ends, and its client hears of it.
func withDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Addr is the address the server listens on.
func (s *Server) Addr() string {
	return s.listener.Addr().String()
}

// Serve answers requests until ctx ends, then stops taking requests,
// lets those in flight finish within the shutdown timeout, and closes the
// engine. It returns nil after a clean shutdown.
func (s *Server) Serve(ctx context.Context) error {
	s.log.Info("iamd listening", "addr", s.Addr(), "engine", s.engine.Kind)
	if s.trialToken != "" {
		if err := printTrialHint(s.stderr, s.Addr(), s.trialToken); err != nil {
			s.log.Warn("could not print the operator token", "error", err)
		}
	}
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(s.listener) }()

	var serveErr error
	select {
	case serveErr = <-served:
	case <-ctx.Done():
		s.log.Info("iamd shutting down")
	}

	s.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	shutdownErr := s.http.Shutdown(shutdownCtx)
	if serveErr == nil {
		serveErr = <-served
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}

	return errors.Join(serveErr, shutdownErr, s.closeAll(), s.engine.Close())
}

// closeAll runs the closers, newest first.
func (s *Server) closeAll() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Run prepares a server and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// ready is the readiness probe: the engine answers and the server is not
// shutting down.
func (s *Server) ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	return s.engine.Ping(ctx)
}

// applyBootstrap makes the service match an organization file. Its
// changes are recorded as the bootstrap's in the transaction metadata.
func (s *Server) applyBootstrap(ctx context.Context, svc *iam.Service, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the bootstrap file: %w", err)
	}
	doc, err := bootstrap.Parse(data)
	if err != nil {
		return fmt.Errorf("bootstrap file %s: %w", path, err)
	}

	ctx = iam.WithRequestID(iam.WithActor(ctx, "bootstrap"), "bootstrap")
	changes, err := bootstrap.Plan(ctx, svc, doc)
	if err != nil {
		return fmt.Errorf("planning the bootstrap file %s: %w", path, err)
	}
	if _, err := changes.Apply(ctx, svc); err != nil {
		return fmt.Errorf("applying the bootstrap file %s: %w", path, err)
	}
	s.log.InfoContext(ctx, "bootstrap file applied", "file", path,
		"organizations", len(doc.OrganizationIDs()),
		"changes", len(changes.Lines()))
	return nil
}
