package iamtest

import (
	"context"
	"net"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/engine"
)

// remoteKey is the preshared key of the test SpiceDB server.
const remoteKey = "iamtest-preshared-key"

// NewRemoteEngine starts a real SpiceDB gRPC server on a loopback port and
// returns an engine that reaches it over the network with authzed-go, as
// iamd does in remote mode.
func NewRemoteEngine(t testing.TB) *engine.Engine {
	t.Helper()
	addr := StartSpiceDB(t, remoteKey)

	e, err := engine.NewRemote(context.Background(), engine.RemoteConfig{
		Endpoint: addr, Token: remoteKey, Insecure: true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	require.Eventually(t, func() bool {
		return e.WriteSchema(context.Background()) == nil
	}, 10*time.Second, 20*time.Millisecond, "SpiceDB did not start")
	return e
}

// StartSpiceDB runs a SpiceDB server with a memory datastore on a free
// loopback port until the test ends, and returns its address.
func StartSpiceDB(t testing.TB, presharedKey string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())

	ds, err := datastore.NewDatastore(ctx, datastore.DefaultDatastoreConfig().ToOption())
	require.NoError(t, err)

	srv, err := server.NewConfigWithOptionsAndDefaults(
		server.WithDatastore(ds),
		server.WithPresharedSecureKey(presharedKey),
		server.WithGRPCServer(util.GRPCServerConfig{
			Address: addr, Network: "tcp", Enabled: true,
		}),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithSilentlyDisableTelemetry(true),
		server.WithEnableMemoryProtectionMiddleware(false),
	).Complete(ctx)
	require.NoError(t, err)

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = ds.Close()
	})
	return addr
}

// Backends are the engines every conformance test runs against.
var Backends = map[string]func(testing.TB) *engine.Engine{
	"embedded": NewEngine,
	"remote":   NewRemoteEngine,
}

// compile-time proof that both engines serve the facade's needs.
var _ v1.PermissionsServiceClient = (*engine.Engine)(nil)
