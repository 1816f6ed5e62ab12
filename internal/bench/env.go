package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/authzed/authzed-go/v1"

	"github.com/gpucloud/iam/internal/decisioncache"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
)

// Env holds one generated organization loaded twice: into the embedded
// engine iamd uses (reached over an in-memory gRPC connection) and into
// a SpiceDB server on a loopback port (the raw side). Every facade
// variant the benchmarks compare is built over them.
type Env struct {
	Org *Org

	// Raw is the loopback SpiceDB; RawClient reaches it with authzed-go.
	Raw       *SpiceDB
	RawClient *authzed.Client

	// Embedded is the engine of iamd's embedded mode.
	Embedded *engine.Engine

	// Facade is iam.Service over Embedded: the path as it is today.
	Facade *iam.Service

	// Cache is the decision cache over Embedded, watching it; Cached is
	// the facade over it. It needs nothing the engine does not expose.
	Cache  *decisioncache.Cache
	Cached *iam.Service

	// Local answers checks in process on Raw's datastore with SpiceDB's
	// embedded package (pkg/embedded), without a cache.
	Local *decisioncache.Local

	// LocalCache is the decision cache over Raw with in-process misses
	// and revision decoding from its datastore; LocalCached is the
	// facade over it. It shows what the embedded engine could do if it
	// exposed its datastore.
	LocalCache  *decisioncache.Cache
	LocalCached *iam.Service

	// RawLoad and EmbeddedLoad are what loading each side did. With
	// PostgreSQL both sides share one database, loaded once.
	RawLoad, EmbeddedLoad LoadResult
	shared                bool

	closers []func() error
}

// EnvConfig configures NewEnv.
type EnvConfig struct {
	Spec Spec

	// MeasureHeap measures the heap across each bulk import.
	MeasureHeap bool

	// PostgresURI, when set, puts both SpiceDBs on this PostgreSQL
	// database (migrated on start; it must hold no organization of the
	// same seed) instead of two memory datastores.
	PostgresURI string

	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// NewEnv generates the organization, starts both SpiceDBs and loads
// the organization into each. Close releases everything.
func NewEnv(ctx context.Context, cfg EnvConfig) (_ *Env, err error) {
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(logw, format+"\n", args...)
	}

	org, err := Generate(cfg.Spec)
	if err != nil {
		return nil, err
	}
	e := &Env{Org: org}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Close())
		}
	}()
	progress("generated organization %s: %d users, %d groups, %d policies",
		org.ID, len(org.Users), len(org.Groups), len(org.Policies))

	if cfg.PostgresURI != "" {
		if err := engine.Migrate(ctx, cfg.PostgresURI); err != nil {
			return nil, err
		}
		e.shared = true
	}
	if err := e.startRaw(ctx, cfg.PostgresURI); err != nil {
		return nil, err
	}
	e.RawLoad, err = Load(ctx, iam.New(e.RawClient), e.RawClient, org, cfg.MeasureHeap)
	if err != nil {
		return nil, fmt.Errorf("loading the loopback SpiceDB: %w", err)
	}
	progress("loopback SpiceDB: imported %d relationships in %s",
		e.RawLoad.Import.Relationships, e.RawLoad.Import.Duration.Round(time.Millisecond))

	if err := e.startEmbedded(ctx, cfg.PostgresURI); err != nil {
		return nil, err
	}
	if e.shared {
		e.EmbeddedLoad = e.RawLoad
	} else {
		e.EmbeddedLoad, err = Load(ctx, e.Facade, e.Embedded, org, cfg.MeasureHeap)
		if err != nil {
			return nil, fmt.Errorf("loading the embedded engine: %w", err)
		}
		progress("embedded engine: imported %d relationships in %s",
			e.EmbeddedLoad.Import.Relationships,
			e.EmbeddedLoad.Import.Duration.Round(time.Millisecond))
	}

	if err := e.startCaches(); err != nil {
		return nil, err
	}

	// Checks that bring no ZedToken read a snapshot up to one
	// quantization period old: let the newest writes reach it, so that
	// every path answers on the same data.
	time.Sleep(2 * quantization)
	return e, nil
}

// quantization is the revision quantization of both SpiceDBs.
const quantization = time.Second

// chunkSize is the dispatch chunk size of both SpiceDBs: the embedded
// engine's, so that the raw side runs the same SpiceDB.
const chunkSize = engine.DispatchChunkSize

func (e *Env) startRaw(ctx context.Context, postgresURI string) error {
	raw, err := StartSpiceDB(ctx, postgresURI)
	if err != nil {
		return err
	}
	e.closers = append(e.closers, raw.Close)
	e.Raw = raw

	client, err := raw.Dial()
	if err != nil {
		return err
	}
	e.closers = append(e.closers, client.Close)
	e.RawClient = client

	// The server starts listening in the background.
	eng := &engine.Engine{
		PermissionsServiceClient: client.PermissionsServiceClient,
		SchemaServiceClient:      client.SchemaServiceClient,
		WatchServiceClient:       client.WatchServiceClient,
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := eng.WriteSchema(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: SpiceDB at %s did not start: %w", raw.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *Env) startEmbedded(ctx context.Context, postgresURI string) error {
	cfg := engine.EmbeddedConfig{}
	if postgresURI != "" {
		cfg.DatastoreEngine = engine.PostgresDatastore
		cfg.DatastoreURI = postgresURI
	}
	eng, err := engine.NewEmbedded(ctx, cfg)
	if err != nil {
		return err
	}
	e.closers = append(e.closers, eng.Close)
	e.Embedded = eng
	if err := eng.WriteSchema(ctx); err != nil {
		return err
	}
	e.Facade = iam.New(eng)
	return nil
}

func (e *Env) startCaches() error {
	quiet := slog.New(slog.DiscardHandler)

	cache, err := decisioncache.New(decisioncache.Config{
		Engine: e.Embedded, Watch: e.Embedded, Logger: quiet,
	})
	if err != nil {
		return err
	}
	e.closers = append(e.closers, cache.Close)
	e.Cache, e.Cached = cache, iam.New(cache)

	local, err := decisioncache.NewLocal(e.Raw.Datastore)
	if err != nil {
		return err
	}
	e.closers = append(e.closers, local.Close)
	e.Local = local

	localCache, err := decisioncache.New(decisioncache.Config{
		Engine:    e.RawClient,
		Watch:     e.RawClient,
		Revisions: e.Raw.Datastore,
		Local:     local,
		Logger:    quiet,
	})
	if err != nil {
		return err
	}
	e.closers = append(e.closers, localCache.Close)
	e.LocalCache, e.LocalCached = localCache, iam.New(localCache)
	return nil
}

func (e *Env) datastoreName() string {
	if e.shared {
		return "postgres (one database shared by both SpiceDBs)"
	}
	return "memory (one datastore per SpiceDB, loaded twice)"
}

// Close stops everything NewEnv started, newest first.
func (e *Env) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}
