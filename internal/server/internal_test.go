package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadinessTurnsOffWhileDraining: a server shutting down reports not
// ready, so that load balancers stop sending it requests.
func TestReadinessTurnsOffWhileDraining(t *testing.T) {
	s, err := New(t.Context(), Config{
		Addr:          "127.0.0.1:0",
		OperatorToken: "operator-token-of-the-server-tests",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	require.NoError(t, s.ready(t.Context()))

	s.draining.Store(true)
	require.ErrorContains(t, s.ready(t.Context()), "shutting down")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	require.NoError(t, s.Serve(ctx))
}
