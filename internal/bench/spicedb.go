package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"

	"github.com/authzed/authzed-go/v1"
	"github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
	dsapi "github.com/authzed/spicedb/pkg/datastore"

	"github.com/gpucloud/iam/internal/bench/workload"
)

// SpiceDB is a real SpiceDB gRPC server on a loopback port, over a
// memory datastore this process holds: the "raw SpiceDB" side of every
// comparison. Its settings match the embedded engine's
// (internal/engine), so that both sides run the same SpiceDB.
type SpiceDB struct {
	// Addr is host:port of the gRPC API.
	Addr string

	// Key is the preshared key. It is random and never printed.
	Key string

	// Datastore is the server's datastore, for in-process checks and
	// for decoding ZedTokens.
	Datastore dsapi.Datastore

	stop func() error
}

// StartSpiceDB starts a SpiceDB server on 127.0.0.1 over a fresh
// memory datastore or, given a PostgreSQL URI, over that database,
// which must be migrated already. Close stops it.
func StartSpiceDB(ctx context.Context, postgresURI string) (*SpiceDB, error) {
	key, err := randomKey()
	if err != nil {
		return nil, err
	}

	kind := datastore.MemoryEngine
	if postgresURI != "" {
		kind = datastore.PostgresEngine
	}
	ds, err := datastore.NewDatastore(ctx,
		datastore.DefaultDatastoreConfig().ToOption(),
		datastore.WithEngine(kind),
		datastore.WithURI(postgresURI),
		datastore.WithRevisionQuantization(quantization),
		datastore.WithFilterMaximumIDCount(chunkSize),
		datastore.WithEnableDatastoreMetrics(false),
	)
	if err != nil {
		return nil, fmt.Errorf("bench: opening the %s datastore: %w", kind, err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = ds.Close()
		return nil, fmt.Errorf("bench: finding a loopback port: %w", err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()

	srv, err := server.NewConfigWithOptionsAndDefaults(
		server.WithDatastore(ds),
		server.WithDispatchChunkSize(chunkSize),
		server.WithPresharedSecureKey(key),
		server.WithGRPCServer(util.GRPCServerConfig{
			Address: addr, Network: "tcp", Enabled: true,
		}),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithSilentlyDisableTelemetry(true),
		server.WithEnableMemoryProtectionMiddleware(false),
	).Complete(ctx)
	if err != nil {
		_ = ds.Close()
		return nil, fmt.Errorf("bench: configuring SpiceDB: %w", err)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()

	s := &SpiceDB{Addr: addr, Key: key, Datastore: ds}
	s.stop = func() error {
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return errors.Join(err, ds.Close())
	}
	return s, nil
}

// Dial returns an authzed-go client of the server over loopback TCP,
// as any SpiceDB client would reach it.
func (s *SpiceDB) Dial() (*authzed.Client, error) {
	return workload.DialSpiceDB(s.Addr, s.Key)
}

// Close stops the server and drops its datastore.
func (s *SpiceDB) Close() error {
	return s.stop()
}

func randomKey() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bench: generating a preshared key: %w", err)
	}
	return hex.EncodeToString(b), nil
}
