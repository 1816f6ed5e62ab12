// Package iamdtest runs a real iamd (internal/server, with an embedded
// in-memory SpiceDB) on a loopback port, for the adapters' tests and
// runnable examples, which have no *testing.T and so cannot use
// internal/api/apitest. The server can be stopped mid-test, to prove
// that the adapters fail closed when iamd is gone.
package iamdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/server"
)

// stopTimeout bounds a graceful stop.
const stopTimeout = 20 * time.Second

// IAMD is a running iamd.
type IAMD struct {
	// URL is "http://127.0.0.1:<port>".
	URL string

	// OperatorToken may do everything.
	OperatorToken string

	http    *http.Client
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

// Start serves an iamd and applies document, an organization file, to
// it. Checks without a consistency token read the newest data, so that
// what a test just wrote is seen without waiting.
func Start(document string) (*IAMD, error) {
	ctx := context.Background()
	token, err := randomHex(24)
	if err != nil {
		return nil, err
	}

	srv, err := server.New(ctx, server.Config{
		Addr:                  "127.0.0.1:0",
		OperatorToken:         token,
		FullyConsistentChecks: true,
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		Stderr:                io.Discard,
	})
	if err != nil {
		return nil, err
	}

	serveCtx, cancel := context.WithCancel(ctx)
	d := &IAMD{
		URL:           "http://" + srv.Addr(),
		OperatorToken: token,
		http:          &http.Client{Transport: &http.Transport{}},
		cancel:        cancel,
		done:          make(chan error, 1),
	}
	go func() { d.done <- srv.Serve(serveCtx) }()

	if document != "" {
		if err := d.apply(ctx, document); err != nil {
			return nil, errors.Join(err, d.Stop())
		}
	}
	return d, nil
}

// StartT is Start for a test: it fails the test on error and stops the
// server when the test ends.
func StartT(t testing.TB, document string) *IAMD {
	t.Helper()
	d, err := Start(document)
	if err != nil {
		t.Fatalf("starting iamd: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping iamd: %v", err)
		}
	})
	return d
}

// Client returns an API client authenticated as the operator.
func (d *IAMD) Client() iamv1connect.IAMServiceClient {
	return iamv1connect.NewIAMServiceClient(d.http, d.URL,
		connect.WithInterceptors(bearer(d.OperatorToken)))
}

// Token mints a one-hour token for principal.
func (d *IAMD) Token(principal string) (string, error) {
	resp, err := d.Client().MintToken(context.Background(),
		connect.NewRequest(&iamv1.MintTokenRequest{Principal: principal}))
	if err != nil {
		return "", err
	}
	return resp.Msg.GetToken(), nil
}

// TokenT is Token for a test.
func (d *IAMD) TokenT(t testing.TB, principal string) string {
	t.Helper()
	token, err := d.Token(principal)
	if err != nil {
		t.Fatalf("minting a token for %s: %v", principal, err)
	}
	return token
}

// Stop shuts the server down; calling it again does nothing.
func (d *IAMD) Stop() error {
	if d.stopped {
		return nil
	}
	d.stopped = true
	d.cancel()
	d.http.CloseIdleConnections()

	select {
	case err := <-d.done:
		return err
	case <-time.After(stopTimeout):
		return errors.New("iamd did not stop in time")
	}
}

func (d *IAMD) apply(ctx context.Context, document string) error {
	_, err := d.Client().Apply(ctx,
		connect.NewRequest(&iamv1.ApplyRequest{Document: document}))
	return err
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
