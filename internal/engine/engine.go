// Package engine connects the service to SpiceDB: an embedded, in-process
// server or a remote one. Both are used through the same v1 gRPC clients,
// so nothing above this package knows which it has.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datastore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gpucloud/iam/schema"
)

// Engine is a SpiceDB reached over its v1 API.
type Engine struct {
	v1.PermissionsServiceClient
	v1.SchemaServiceClient
	v1.WatchServiceClient

	// Kind says where SpiceDB runs, for logs and readiness: "embedded" or
	// "remote".
	Kind string

	// ds is the embedded SpiceDB's datastore; nil for a remote engine.
	ds datastore.Datastore

	closers []func() error
}

// Datastore is the embedded SpiceDB's datastore, or nil for a remote
// engine. It lets the decision cache answer misses in process
// (decisioncache.NewLocal) and compare ZedTokens; it must not be written
// to, and it is closed with the engine.
func (e *Engine) Datastore() datastore.Datastore {
	return e.ds
}

func newEngine(kind string, conn grpc.ClientConnInterface) *Engine {
	return &Engine{
		PermissionsServiceClient: v1.NewPermissionsServiceClient(conn),
		SchemaServiceClient:      v1.NewSchemaServiceClient(conn),
		WatchServiceClient:       v1.NewWatchServiceClient(conn),
		Kind:                     kind,
	}
}

// ErrFirstModel is returned by WriteSchema for a datastore written
// under the first permission model, which only UpgradeModel may change.
var ErrFirstModel = errors.New("engine: the datastore holds the first " +
	"permission model; stop every iamd replica of the previous version, " +
	"then start one iamd with --upgrade-model (see the README, Migrations)")

// WriteSchema writes the permission model's schema. Writing the same
// schema again changes nothing, so every start may call it. It refuses,
// with ErrFirstModel, a datastore of the first model.
func (e *Engine) WriteSchema(ctx context.Context) error {
	first, err := e.holdsFirstModel(ctx)
	if err != nil {
		return err
	}
	if first {
		return ErrFirstModel
	}
	return e.writeCurrentSchema(ctx)
}

// UpgradeModel upgrades a datastore of the first model (see
// upgradeFirstModel), then writes the current schema. On any other
// datastore it is WriteSchema. Only one iamd may run it, and no replica
// of the previous version may run meanwhile: their writes have the first
// model's shape and skip the current one's preconditions.
func (e *Engine) UpgradeModel(ctx context.Context, log *slog.Logger) error {
	first, err := e.holdsFirstModel(ctx)
	if err != nil {
		return err
	}
	if first {
		if err := e.upgradeFirstModel(ctx, log); err != nil {
			return err
		}
	}
	return e.writeCurrentSchema(ctx)
}

// holdsFirstModel reports whether the stored schema is the first
// model's, or the transition schema of an unfinished upgrade.
func (e *Engine) holdsFirstModel(ctx context.Context) (bool, error) {
	stored, err := e.SchemaServiceClient.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	switch {
	case status.Code(err) == codes.NotFound:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("engine: reading the stored schema: %w", err)
	}
	return needsUpgrade(stored.GetSchemaText()), nil
}

func (e *Engine) writeCurrentSchema(ctx context.Context) error {
	_, err := e.SchemaServiceClient.WriteSchema(ctx,
		&v1.WriteSchemaRequest{Schema: schema.Text})
	if err != nil {
		return fmt.Errorf("engine: writing the schema: %w", err)
	}
	return nil
}

// Ping reads the schema back, proving that SpiceDB and its datastore
// answer. Readiness probes use it.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.SchemaServiceClient.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	return err
}

// Close releases the connection and, for an embedded engine, stops the
// server and its datastore.
func (e *Engine) Close() error {
	var errs []error
	for i := len(e.closers) - 1; i >= 0; i-- {
		errs = append(errs, e.closers[i]())
	}
	e.closers = nil
	return errors.Join(errs...)
}
