// Package api serves the iamd API over HTTP: the IAMService of
// adapters/api/iam/v1 through Connect, so that gRPC, gRPC-Web and JSON over
// HTTP share one port, plus the health, readiness and metrics endpoints.
//
// Every RPC is authenticated with a bearer token and authorized through
// the same permission engine it manages: the API holds no rule of its own
// beyond "the operator may do everything".
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/iam"
)

// Config is what NewHandler needs.
type Config struct {
	// Service is the facade the API serves.
	Service *iam.Service

	// OperatorToken is the bearer token of the operator, who may do
	// everything in every organization. At least MinOperatorTokenLength
	// bytes.
	OperatorToken string

	// TokenKey signs the tokens MintToken issues. At least
	// MinTokenKeyLength bytes; a token verifies only under the key that
	// minted it.
	TokenKey []byte

	// Logger receives unexpected failures; slog.Default() if nil. Its
	// records get the request ID of their context.
	Logger *slog.Logger

	// Ready answers the readiness probe: an error makes /readyz answer
	// 503. It usually pings the permission engine.
	Ready func(context.Context) error

	// Registry receives the API's metrics and is served on /metrics; a
	// new, empty registry if nil.
	Registry *prometheus.Registry

	// Now replaces time.Now for token expiry, in tests.
	Now func() time.Time
}

// Limits on the secrets of Config. They keep a guessable secret from
// reaching production by accident.
const (
	MinOperatorTokenLength = 16
	MinTokenKeyLength      = 32
)

// readyTimeout bounds one readiness probe.
const readyTimeout = 3 * time.Second

// handler implements iamv1connect.IAMServiceHandler.
type handler struct {
	svc      *iam.Service
	operator [32]byte // SHA-256 of the operator token
	tokens   *tokenSigner
	log      *slog.Logger
	metrics  *metrics
	ready    func(context.Context) error

	// wasReady remembers the last probe's answer, so that a failing
	// engine is logged when it starts failing rather than on every probe.
	wasReady atomic.Bool
}

var _ iamv1connect.IAMServiceHandler = (*handler)(nil)

// NewHandler returns the HTTP handler of the whole API: the IAMService
// under its Connect path, /healthz, /readyz and /metrics.
func NewHandler(cfg Config) (http.Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = slog.New(NewLogHandler(logger.Handler()))
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}

	h := &handler{
		svc:      cfg.Service,
		operator: digest(cfg.OperatorToken),
		tokens:   &tokenSigner{key: cfg.TokenKey, now: now},
		log:      logger,
		metrics:  m,
		ready:    cfg.Ready,
	}
	h.wasReady.Store(true)

	mux := http.NewServeMux()
	path, service := h.service()
	mux.Handle(path, service)
	mux.HandleFunc("GET /healthz", serveHealthy)
	mux.HandleFunc("GET /readyz", h.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return h.withRequestID(mux), nil
}

// service returns the IAMService's path and handler. Each size limit
// has its own Connect handler, as Connect's options, the decompressor's
// limit among them, apply to all methods of a handler.
func (h *handler) service() (string, http.Handler) {
	var path string
	byLimit := map[int64]http.Handler{}
	for _, limit := range []int64{
		MaxRequestBytes, MaxListRequestBytes, MaxApplyRequestBytes,
	} {
		// The gate authenticates before the request body is read; the
		// interceptors, outermost first, count, then translate errors,
		// then turn panics into errors.
		p, service := iamv1connect.NewIAMServiceHandler(h,
			connect.WithRequestGate(h.authenticate),
			connect.WithInterceptors(h.metrics.interceptor(), h.errorInterceptor()),
			connect.WithRecover(h.recoverPanic),
			codecs(),
			h.gzipWithin(limit),
		)
		path = p
		byLimit[limit] = h.limitBody(limit, service)
	}

	return path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		byLimit[requestLimit(r.URL.Path)].ServeHTTP(w, r)
	})
}

func (cfg Config) validate() error {
	switch {
	case cfg.Service == nil:
		return errors.New("api: Config.Service is required")
	case cfg.Ready == nil:
		return errors.New("api: Config.Ready is required")
	case len(cfg.OperatorToken) < MinOperatorTokenLength:
		return fmt.Errorf("api: the operator token must be at least %d "+
			"bytes long", MinOperatorTokenLength)
	case len(cfg.TokenKey) < MinTokenKeyLength:
		return fmt.Errorf("api: the token signing key must be at least %d "+
			"bytes long", MinTokenKeyLength)
	}
	return nil
}

// serveHealthy answers the liveness probe: the process serves HTTP.
func serveHealthy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// serveReady answers the readiness probe. The cause of a failure goes to
// the log, not to the prober: it may name internal hosts.
func (h *handler) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()

	err := h.ready(ctx)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err != nil {
		if h.wasReady.Swap(false) {
			h.log.WarnContext(ctx, "iamd is not ready", "error", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}

	if !h.wasReady.Swap(true) {
		h.log.InfoContext(ctx, "iamd is ready again")
	}
	_, _ = w.Write([]byte("ok\n"))
}
