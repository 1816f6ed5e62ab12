// Package iamtest starts a facade over an embedded, in-memory SpiceDB for
// tests.
package iamtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
)

// NewEngine starts an embedded SpiceDB with the schema written, closed at
// the end of the test.
func NewEngine(t testing.TB) *engine.Engine {
	t.Helper()
	ctx := context.Background()

	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	require.NoError(t, e.WriteSchema(ctx))
	return e
}

// NewService returns a facade over a fresh embedded SpiceDB.
func NewService(t testing.TB, opts ...iam.Option) *iam.Service {
	t.Helper()
	return iam.New(NewEngine(t), opts...)
}
