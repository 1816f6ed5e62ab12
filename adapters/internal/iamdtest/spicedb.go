package iamdtest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/cmd/datastore"
	spicedb "github.com/authzed/spicedb/pkg/cmd/server"
	"github.com/authzed/spicedb/pkg/cmd/util"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
)

// startTimeout bounds SpiceDB's start.
const startTimeout = 15 * time.Second

// SpiceDB is a real SpiceDB gRPC server on a loopback port, with a
// memory datastore, iamd's schema and an organization file written the
// way iamd writes them: what a service in direct mode reads.
type SpiceDB struct {
	// Endpoint is "127.0.0.1:<port>".
	Endpoint string

	// PresharedKey is the server's key.
	PresharedKey string

	// Service writes to the server as iamd would, for tests that
	// change permissions.
	Service *iam.Service

	engine  *engine.Engine
	cancel  context.CancelFunc
	done    chan struct{}
	ds      interface{ Close() error }
	stopped bool
}

// StartSpiceDB starts the server and applies document to it.
func StartSpiceDB(document string) (*SpiceDB, error) {
	key, err := randomHex(16)
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	ds, err := datastore.NewDatastore(ctx,
		datastore.DefaultDatastoreConfig().ToOption())
	if err != nil {
		cancel()
		return nil, err
	}
	srv, err := spicedb.NewConfigWithOptionsAndDefaults(
		spicedb.WithDatastore(ds),
		spicedb.WithPresharedSecureKey(key),
		spicedb.WithGRPCServer(util.GRPCServerConfig{
			Address: addr, Network: "tcp", Enabled: true,
		}),
		spicedb.WithHTTPGateway(util.HTTPServerConfig{HTTPEnabled: false}),
		spicedb.WithMetricsAPI(util.HTTPServerConfig{HTTPEnabled: false}),
		spicedb.WithDispatchServer(util.GRPCServerConfig{Enabled: false}),
		spicedb.WithSilentlyDisableTelemetry(true),
		spicedb.WithEnableMemoryProtectionMiddleware(false),
	).Complete(ctx)
	if err != nil {
		cancel()
		return nil, errors.Join(err, ds.Close())
	}

	s := &SpiceDB{
		Endpoint: addr, PresharedKey: key,
		cancel: cancel, done: make(chan struct{}), ds: ds,
	}
	go func() {
		defer close(s.done)
		_ = srv.Run(ctx)
	}()

	if err := s.prepare(document); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// StartSpiceDBT is StartSpiceDB for a test: it fails the test on error
// and stops the server when the test ends.
func StartSpiceDBT(t testing.TB, document string) *SpiceDB {
	t.Helper()
	s, err := StartSpiceDB(document)
	if err != nil {
		t.Fatalf("starting SpiceDB: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping SpiceDB: %v", err)
		}
	})
	return s
}

// prepare waits for the server, writes the schema and applies document.
func (s *SpiceDB) prepare(document string) error {
	ctx := context.Background()
	e, err := engine.NewRemote(ctx, engine.RemoteConfig{
		Endpoint: s.Endpoint, Token: s.PresharedKey, Insecure: true,
	})
	if err != nil {
		return err
	}
	s.engine = e

	deadline := time.Now().Add(startTimeout)
	for {
		err = e.WriteSchema(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("SpiceDB did not start"), err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	s.Service = iam.New(e, iam.WithFullyConsistentChecks(true))
	if document == "" {
		return nil
	}
	doc, err := bootstrap.Parse([]byte(document))
	if err != nil {
		return err
	}
	changes, err := bootstrap.Plan(ctx, s.Service, doc)
	if err != nil {
		return err
	}
	_, err = changes.Apply(ctx, s.Service)
	return err
}

// Stop shuts the server down; calling it again does nothing.
func (s *SpiceDB) Stop() error {
	if s.stopped {
		return nil
	}
	s.stopped = true

	var errs []error
	if s.engine != nil {
		errs = append(errs, s.engine.Close())
	}
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(stopTimeout):
		errs = append(errs, errors.New("SpiceDB did not stop in time"))
	}
	errs = append(errs, s.ds.Close())
	return errors.Join(errs...)
}

// freeAddr returns a loopback address with a port free at the time of
// the call. SpiceDB binds its own listener, so the port is released
// first; another process taking it in between is unlikely on a test
// machine, and fails the start loudly.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
