package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestProbe(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
	t.Cleanup(web.Close)

	grpcAddr := startHealthServer(t, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"":         healthpb.HealthCheckResponse_SERVING,
		"ready.v1": healthpb.HealthCheckResponse_SERVING,
		"down.v1":  healthpb.HealthCheckResponse_NOT_SERVING,
	})

	closed := closedPort(t)

	cases := []struct {
		name    string
		args    []string
		code    int
		message string
	}{
		{name: "http 200", args: []string{web.URL + "/readyz"}, code: 0},
		{name: "http 503", args: []string{web.URL + "/other"}, code: 1,
			message: "503"},
		{name: "http refused", args: []string{"http://" + closed + "/"},
			code: 1, message: "refused"},
		{name: "grpc server", args: []string{"grpc://" + grpcAddr}, code: 0},
		{name: "grpc service", args: []string{"grpc://" + grpcAddr + "/ready.v1"},
			code: 0},
		{name: "grpc not serving", args: []string{"grpc://" + grpcAddr + "/down.v1"},
			code: 1, message: "NOT_SERVING"},
		{name: "grpc unknown service",
			args: []string{"grpc://" + grpcAddr + "/nope.v1"},
			code: 1, message: "NotFound"},
		{name: "grpc refused", args: []string{"-timeout=1s", "grpc://" + closed},
			code: 1, message: "unhealthy"},
		{name: "no host", args: []string{"http:///readyz"}, code: 1,
			message: "names no host:port"},
		{name: "other scheme", args: []string{"https://127.0.0.1:1/"}, code: 1,
			message: `scheme "https"`},
		{name: "no URL", args: nil, code: 2, message: "usage"},
		{name: "two URLs", args: []string{"http://a:1", "http://b:1"}, code: 2,
			message: "usage"},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer

			code := run(tc.args, &stdout, &stderr)

			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			if tc.code == 0 {
				require.Equal(t, "healthy\n", stdout.String())
				return
			}

			require.Empty(t, stdout.String())
			require.True(t, strings.Contains(stderr.String(), tc.message),
				"stderr %q lacks %q", stderr.String(), tc.message)
		})
	}
}

// startHealthServer serves the gRPC health service with the statuses
// given, on a loopback port, until the test ends.
func startHealthServer(
	t *testing.T,
	statuses map[string]healthpb.HealthCheckResponse_ServingStatus,
) string {
	t.Helper()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	hs := health.NewServer()
	for service, status := range statuses {
		hs.SetServingStatus(service, status)
	}

	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)

	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	return lis.Addr().String()
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)

	addr := lis.Addr().String()
	require.NoError(t, lis.Close())

	return addr
}
