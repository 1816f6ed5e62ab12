package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/server"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

const operatorToken = "operator-token-of-the-server-tests"

// running is a server serving in the background.
type running struct {
	url    string
	log    *apitest.SyncBuffer
	stderr *apitest.SyncBuffer
	stop   func() error
}

// start serves cfg on a free loopback port until the test ends.
func start(t *testing.T, cfg server.Config) *running {
	t.Helper()
	r := &running{log: &apitest.SyncBuffer{}, stderr: &apitest.SyncBuffer{}}
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(r.log, nil))
	cfg.Stderr = r.stderr

	s, err := server.New(t.Context(), cfg)
	require.NoError(t, err)
	r.url = "http://" + s.Addr()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("the server did not stop")
			return nil
		}
	}
	t.Cleanup(func() { require.NoError(t, r.stop()) })
	return r
}

func (r *running) get(t *testing.T, path string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.url+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	require.NoError(t, resp.Body.Close())
	return resp.StatusCode
}

// client speaks gRPC over h2c, as a plain gRPC client would.
func (r *running) client(token string) iamv1connect.IAMServiceClient {
	return iamv1connect.NewIAMServiceClient(apitest.NewHTTPClient(), r.url,
		connect.WithGRPC(), connect.WithInterceptors(apitest.BearerToken(token)))
}

// TestServeAndShutdown starts the server, serves health, readiness and
// gRPC, and shuts down cleanly when its context ends.
func TestServeAndShutdown(t *testing.T) {
	r := start(t, server.Config{OperatorToken: operatorToken})

	require.Equal(t, http.StatusOK, r.get(t, "/healthz"))
	require.Equal(t, http.StatusOK, r.get(t, "/readyz"))
	require.Equal(t, http.StatusOK, r.get(t, "/metrics"))

	me, err := r.client(operatorToken).WhoAmI(t.Context(),
		connect.NewRequest(&iamv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.True(t, me.Msg.GetOperator())

	log := r.log.String()
	require.Regexp(t, `msg="iamd listening" addr=127\.0\.0\.1:\d+`, log)
	require.Contains(t, log, "memory datastore")
	require.Contains(t, log, "random key")
	require.Empty(t, r.stderr.String(), "a configured token is not printed")

	require.NoError(t, r.stop())
	_, err = http.Get(r.url + "/healthz")
	require.Error(t, err, "the port is closed after shutdown")
	require.Contains(t, r.log.String(), "shutting down")
}

// TestGeneratedOperatorToken prints a generated token once to stderr,
// with how to query the server, never to the log, and the token works.
func TestGeneratedOperatorToken(t *testing.T) {
	r := start(t, server.Config{})

	require.Eventually(t, func() bool {
		return strings.Contains(r.stderr.String(), "$IAMCTL_SERVER/iam.v1")
	}, 5*time.Second, 10*time.Millisecond)
	found := regexp.MustCompile(`\n    (\S+)\n`).FindStringSubmatch(r.stderr.String())
	require.Len(t, found, 2, r.stderr.String())
	token := found[1]
	require.Equal(t, 1, strings.Count(r.stderr.String(), "shown once"))
	require.Contains(t, r.stderr.String(), "IAMCTL_SERVER="+r.url)
	require.Contains(t, r.stderr.String(), "IAMCTL_TOKEN="+token)
	require.NotContains(t, r.log.String(), token)
	require.Contains(t, r.log.String(), "no operator token is set")

	_, err := r.client(token).ListOrganizations(t.Context(),
		connect.NewRequest(&iamv1.ListOrganizationsRequest{}))
	require.NoError(t, err)
}

// TestBootstrapAndSecretFiles applies an organization file at start and
// reads the operator token and signing key from files.
func TestBootstrapAndSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
		return path
	}
	cfg := server.Config{
		OperatorTokenFile: write("operator", operatorToken+"\n"),
		TokenSigningKeyFile: write("key",
			"0123456789abcdef0123456789abcdef\n"),
		BootstrapFile: write("orgs.yaml", "organizations:\n"+
			"  - id: ab1cd2\n    first_user: user:root@example.com\n"),
	}
	r := start(t, cfg)

	orgs, err := r.client(operatorToken).ListOrganizations(t.Context(),
		connect.NewRequest(&iamv1.ListOrganizationsRequest{}))
	require.NoError(t, err)
	require.Equal(t, []string{"ab1cd2"}, orgs.Msg.GetOrganizationIds())
	require.NotContains(t, r.log.String(), "random key")
	require.Contains(t, r.log.String(), "bootstrap file applied")
}

// TestConfigErrors refuses to start on a contradictory or weak
// configuration, naming what to change.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("tiny\n"), 0o600))
	badDoc := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(badDoc, []byte("organizations: [{id: XYZ}]"), 0o600))

	cases := []struct {
		name string
		cfg  server.Config
		says string
	}{
		{"remote and datastore", server.Config{
			SpiceDBEndpoint: "127.0.0.1:50051", DatastoreURI: "postgres://x",
		}, "--datastore-uri"},
		{"token without remote", server.Config{SpiceDBToken: "k"}, "--spicedb-endpoint"},
		{"postgres without URI", server.Config{DatastoreEngine: "postgres"},
			"--datastore-uri"},
		{"two operator tokens", server.Config{
			OperatorToken: operatorToken, OperatorTokenFile: short,
		}, "choose one"},
		{"short operator token", server.Config{OperatorToken: "secret"}, "at least 16"},
		{"short operator token file", server.Config{OperatorTokenFile: short},
			"at least 16"},
		{"short signing key", server.Config{
			OperatorToken: operatorToken, TokenSigningKeyFile: short,
		}, "at least 32"},
		{"missing signing key", server.Config{
			OperatorToken: operatorToken, TokenSigningKeyFile: filepath.Join(dir, "none"),
		}, "no such file"},
		{"unknown datastore", server.Config{
			OperatorToken: operatorToken, DatastoreEngine: "mysql",
		}, "mysql"},
		{"bad bootstrap file", server.Config{
			OperatorToken: operatorToken, BootstrapFile: badDoc,
		}, "organizations[0].id"},
		{"bad address", server.Config{
			OperatorToken: operatorToken, Addr: "127.0.0.1:-1",
		}, "listening"},
		{"negative read timeout", server.Config{
			OperatorToken: operatorToken, ReadTimeout: -time.Second,
		}, "--read-timeout"},
		{"negative request timeout", server.Config{
			OperatorToken: operatorToken, RequestTimeout: -time.Second,
		}, "--request-timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Addr == "" {
				cfg.Addr = "127.0.0.1:0"
			}
			cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			cfg.Stderr = io.Discard

			_, err := server.New(t.Context(), cfg)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

// TestStalledBodyIsCutOff sends an authenticated request whose body
// stops halfway. The server gives up after its read timeout, over HTTP/1.1
// and over HTTP/2, instead of holding the request open.
func TestStalledBodyIsCutOff(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	r := start(t, server.Config{
		OperatorToken: operatorToken, ReadTimeout: readTimeout,
	})
	host := strings.TrimPrefix(r.url, "http://")

	t.Run("http1", func(t *testing.T) {
		conn, err := net.Dial("tcp", host)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "POST /iam.v1.IAMService/Check HTTP/1.1\r\n"+
			"Host: "+host+"\r\n"+
			"Authorization: Bearer "+operatorToken+"\r\n"+
			"Content-Type: application/json\r\n"+
			"Content-Length: 1000\r\n\r\n"+
			`{"organization_id":`)
		require.NoError(t, err)

		// The server answers, or closes, once its read timeout passes;
		// either ends this read long before the client would give up.
		start := time.Now()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = io.Copy(io.Discard, conn)
		var timeout net.Error
		if errors.As(err, &timeout) {
			require.False(t, timeout.Timeout(), "the server held the connection")
		}
		require.Less(t, time.Since(start), 5*time.Second)
	})

	t.Run("h2c", func(t *testing.T) {
		body, stall := io.Pipe()
		defer stall.Close()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
			r.url+"/iam.v1.IAMService/Check", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Authorization", "Bearer "+operatorToken)
		go func() {
			// A gRPC envelope promising 100 bytes, and 3 of them.
			_, _ = stall.Write([]byte{0, 0, 0, 0, 100, 1, 2, 3})
		}()

		start := time.Now()
		client := apitest.NewHTTPClient()
		defer client.CloseIdleConnections()
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			require.NoError(t, resp.Body.Close())
			status := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status")
			require.NotEqual(t, "0", status, "a stalled request succeeded")
		}
		require.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestNewLogger(t *testing.T) {
	var buf strings.Builder
	log, err := server.NewLogger(&buf, "warn", "json")
	require.NoError(t, err)
	log.Info("hidden")
	log.Warn("shown")
	require.NotContains(t, buf.String(), "hidden")
	require.Contains(t, buf.String(), `"msg":"shown"`)

	_, err = server.NewLogger(&buf, "loud", "text")
	require.ErrorContains(t, err, "--log-level")
	_, err = server.NewLogger(&buf, "info", "xml")
	require.ErrorContains(t, err, "--log-format")
}
