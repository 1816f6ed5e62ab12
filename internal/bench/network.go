package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/iam"
)

// API is iamd's API handler, the one `iamd serve` mounts, serving a
// facade on a loopback port with HTTP/2 without TLS, as iamd does.
type API struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string

	// OperatorToken is the random operator token; it is never printed.
	OperatorToken string

	srv *http.Server
}

// ServeAPI starts the API over svc. Close stops it.
func ServeAPI(svc *iam.Service) (*API, error) {
	token, err := randomKey()
	if err != nil {
		return nil, err
	}
	key := make([]byte, api.MinTokenKeyLength)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	h, err := api.NewHandler(api.Config{
		Service:       svc,
		OperatorToken: token,
		TokenKey:      key,
		Logger:        slog.New(slog.DiscardHandler),
		Ready:         func(context.Context) error { return nil },
	})
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listening on loopback: %w", err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:           h,
		Protocols:         protocols,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()

	return &API{
		URL:           "http://" + ln.Addr().String(),
		OperatorToken: token,
		srv:           srv,
	}, nil
}

// Close stops the server.
func (a *API) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// NewAPIClient returns an iamd client speaking gRPC (HTTP/2 without
// TLS) to baseURL, sending token on every call.
func NewAPIClient(baseURL, token string) (iamv1connect.IAMServiceClient, *http.Client) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	t.Protocols = &p
	hc := &http.Client{Transport: t}

	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
	client := iamv1connect.NewIAMServiceClient(hc, baseURL,
		connect.WithGRPC(), connect.WithInterceptors(auth))
	return client, hc
}
