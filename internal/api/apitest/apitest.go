// Package apitest serves the iamd API on a loopback test server over an
// embedded, in-memory SpiceDB, for tests of the API and of its clients.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

// Server is a running API. It serves HTTP/1.1 and unencrypted HTTP/2, so
// Connect, gRPC-Web and gRPC clients all reach it at URL.
type Server struct {
	// URL is the server's base URL, "http://127.0.0.1:port".
	URL string

	// OperatorToken is the bearer token that may do everything.
	OperatorToken string

	// Service is the facade behind the API, for arranging state and
	// reading it back without going through the API.
	Service *iam.Service

	// Registry holds the API's metrics.
	Registry *prometheus.Registry

	// Log collects every log line of the server, as text.
	Log *SyncBuffer

	http   *httptest.Server
	client *http.Client

	mu       sync.Mutex
	readyErr error
}

// NewServer starts a server, closed at the end of the test.
func NewServer(t testing.TB) *Server {
	t.Helper()

	s := &Server{
		OperatorToken: randomHex(t, 24),
		Registry:      prometheus.NewRegistry(),
		Log:           &SyncBuffer{},
	}
	logger := slog.New(api.NewLogHandler(
		slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// Fully consistent checks make a grant visible to the very next call,
	// so that tests need not wait out SpiceDB's revision quantization.
	s.Service = iamtest.NewService(t,
		iam.WithFullyConsistentChecks(true))

	h, err := api.NewHandler(api.Config{
		Service:       s.Service,
		OperatorToken: s.OperatorToken,
		TokenKey:      []byte(randomHex(t, 32)),
		Logger:        logger,
		Ready:         s.ready,
		Registry:      s.Registry,
	})
	require.NoError(t, err)

	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	s.http = srv
	s.URL = srv.URL
	s.client = NewHTTPClient()
	t.Cleanup(s.client.CloseIdleConnections)
	return s
}

// NewHTTPClient returns a client that speaks unencrypted HTTP/2 (h2c),
// which gRPC needs without TLS; Connect and gRPC-Web work over it too.
func NewHTTPClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: protocols}}
}

// HTTPClient is the h2c client the Server's clients use.
func (s *Server) HTTPClient() *http.Client {
	return s.client
}

// SetReadyError makes the readiness probe fail with err, or pass again
// with nil.
func (s *Server) SetReadyError(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readyErr = err
}

func (s *Server) ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyErr
}

// Client returns a client authenticated as the operator. opts choose the
// protocol, e.g. connect.WithGRPC(); the default is Connect.
func (s *Server) Client(opts ...connect.ClientOption) iamv1connect.IAMServiceClient {
	return s.ClientAs(s.OperatorToken, opts...)
}

// ClientAs returns a client that sends token as its bearer token; an
// empty token sends none.
func (s *Server) ClientAs(
	token string, opts ...connect.ClientOption,
) iamv1connect.IAMServiceClient {
	if token != "" {
		opts = append(opts, connect.WithInterceptors(BearerToken(token)))
	}
	return iamv1connect.NewIAMServiceClient(s.client, s.URL, opts...)
}

// Token mints a one-hour token for principal, which must belong to an
// organization.
func (s *Server) Token(t testing.TB, principal string) string {
	t.Helper()
	resp, err := s.Client().MintToken(t.Context(),
		connect.NewRequest(&iamv1.MintTokenRequest{Principal: principal}))
	require.NoError(t, err)
	return resp.Msg.GetToken()
}

// BearerToken is a client interceptor that sends token in the
// Authorization header.
func BearerToken(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, such as the
// goroutines of a server's requests.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
