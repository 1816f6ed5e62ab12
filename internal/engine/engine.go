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

// WriteSchema writes the permission model's schema, first upgrading a
// datastore written under the first model (see upgradeFirstModel).
// Writing the same schema again changes nothing, so every start may
// call it.
func (e *Engine) WriteSchema(ctx context.Context) error {
	stored, err := e.SchemaServiceClient.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	switch {
	case status.Code(err) == codes.NotFound:
		// A new datastore: nothing to upgrade.
	case err != nil:
		return fmt.Errorf("engine: reading the stored schema: %w", err)
	case needsUpgrade(stored.GetSchemaText()):
		if err := e.upgradeFirstModel(ctx, slog.Default()); err != nil {
			return err
		}
	}

	_, err = e.SchemaServiceClient.WriteSchema(ctx,
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
