package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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

// TestTimeouts: every request is read within the read timeout and runs
// under a deadline; zero durations take the defaults.
func TestTimeouts(t *testing.T) {
	var deadline time.Time
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		deadline, _ = r.Context().Deadline()
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	cases := []struct {
		name              string
		read, request     time.Duration
		wantRead, wantReq time.Duration
	}{
		{"defaults", 0, 0, DefaultReadTimeout, DefaultRequestTimeout},
		{"configured", 5 * time.Second, 7 * time.Second, 5 * time.Second, 7 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newHTTPServer(h, log, tc.read, tc.request)
			require.Equal(t, tc.wantRead, srv.ReadTimeout)
			require.Equal(t, tc.wantReq+writeGrace, srv.WriteTimeout)

			before := time.Now()
			srv.Handler.ServeHTTP(httptest.NewRecorder(),
				httptest.NewRequest(http.MethodGet, "/healthz", nil))
			require.WithinRange(t, deadline,
				before.Add(tc.wantReq), time.Now().Add(tc.wantReq))
		})
	}
}
