package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// EmbeddedConfig configures an in-process SpiceDB.
type EmbeddedConfig struct {
	// DatastoreEngine is "memory" (the default) or "postgres".
	DatastoreEngine string

	// DatastoreURI is the connection string of a postgres datastore.
	DatastoreURI string

	// Migrate brings a postgres datastore to SpiceDB's head migration
	// before opening it. Without it, a datastore that is not at head is
	// refused with the command that fixes it.
	Migrate bool

	// Logger receives the warnings found at start, such as PostgreSQL
	// settings that put acknowledged writes at risk. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DispatchChunkSize is how many objects SpiceDB checks in one
// sub-problem, and so in one datastore query. SpiceDB's default is 100;
// a check that descends through many groups then issues one query per
// hundred groups at each level, and the memory datastore scans the
// whole relation for every one of them. BENCHMARKS.md measures the
// choice; a SpiceDB server run for iamd should use the same
// (--dispatch-chunk-size, from which the server also sizes its
// datastore queries).
const DispatchChunkSize = 1000

// Datastore engines an embedded SpiceDB supports.
const (
	MemoryDatastore   = datastore.MemoryEngine
	PostgresDatastore = datastore.PostgresEngine
)

// NewEmbedded starts SpiceDB in this process, reachable only through an
// in-memory listener: no port is opened, no telemetry is sent.
func NewEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Engine, error) {
	engineName := cfg.DatastoreEngine
	if engineName == "" {
		engineName = MemoryDatastore
	}
	if engineName != MemoryDatastore && engineName != PostgresDatastore {
		return nil, fmt.Errorf(
			"engine: datastore engine %q is not supported; use %q or %q",
			engineName, MemoryDatastore, PostgresDatastore)
	}

	if engineName == PostgresDatastore {
		if err := preparePostgres(ctx, cfg); err != nil {
			return nil, err
		}
	}

	ds, err := datastore.NewDatastore(ctx,
		datastore.DefaultDatastoreConfig().ToOption(),
		datastore.WithEngine(engineName),
		datastore.WithURI(cfg.DatastoreURI),
		datastore.WithRevisionQuantization(time.Second),
		datastore.WithFilterMaximumIDCount(DispatchChunkSize),
		// The pool metrics register in the process-wide registry under
		// fixed names: a second engine in one process would be refused.
		datastore.WithEnableDatastoreMetrics(false),
	)
	if err != nil {
		return nil, fmt.Errorf("engine: opening the %s datastore: %w", engineName, err)
	}

	srv, err := server.NewConfigWithOptionsAndDefaults(
		server.WithDatastore(ds),
		server.WithDispatchChunkSize(DispatchChunkSize),
		server.WithGRPCServer(util.GRPCServerConfig{
			Network: util.BufferedNetwork,
			Enabled: true,
		}),
		// The listener is in memory: only this process can reach it.
		server.WithGRPCAuthFunc(allowInProcess),
		server.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		server.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		server.WithSilentlyDisableTelemetry(true),
		server.WithEnableMemoryProtectionMiddleware(false),
	).Complete(ctx)
	if err != nil {
		ds.Close()
		return nil, fmt.Errorf("engine: configuring embedded SpiceDB: %w", err)
	}

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()

	dialOpts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	if engineName == PostgresDatastore {
		probe := &datastoreProbe{ds: ds}
		dialOpts = append(dialOpts,
			grpc.WithChainUnaryInterceptor(probe.unaryInterceptor),
			grpc.WithChainStreamInterceptor(probe.streamInterceptor))
	}
	conn, err := srv.NewClient(dialOpts...)
	if err != nil {
		stop()
		<-done
		ds.Close()
		return nil, fmt.Errorf("engine: connecting to embedded SpiceDB: %w", err)
	}

	e := newEngine("embedded", conn)
	e.ds = ds
	e.closers = append(e.closers,
		func() error {
			stop()
			runErr := <-done
			if errors.Is(runErr, context.Canceled) {
				runErr = nil
			}
			return errors.Join(runErr, ds.Close())
		},
		conn.Close,
	)
	return e, nil
}

func allowInProcess(ctx context.Context) (context.Context, error) {
	return ctx, nil
}
