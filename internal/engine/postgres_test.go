package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/pgtest"
)

func TestMigrateBringsDatabaseToHead(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)

	err := engine.CheckPostgres(ctx, pg.URI())
	require.ErrorContains(t, err, "no SpiceDB tables")
	require.ErrorContains(t, err, "iamd migrate")

	require.NoError(t, engine.Migrate(ctx, pg.URI()))
	status, err := engine.InspectPostgres(ctx, pg.URI())
	require.NoError(t, err)
	require.NoError(t, status.Err())
	require.Equal(t, status.HeadRevision, status.Revision)
	require.NotEmpty(t, status.Revision)
	require.Empty(t, status.Warnings)
	require.Contains(t, status.Target, `database "iam" at 127.0.0.1:`)

	// A second run finds nothing to do.
	require.NoError(t, engine.Migrate(ctx, pg.URI()))
	require.NoError(t, engine.CheckPostgres(ctx, pg.URI()))
}

func TestReplicasMigratingAtOnceTakeTurns(t *testing.T) {
	pg := pgtest.Start(t)

	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { errs[i] = engine.Migrate(t.Context(), pg.URI()) })
	}
	wg.Wait()

	for _, err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, engine.CheckPostgres(t.Context(), pg.URI()))
}

func TestCheckExplainsEverySetting(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	require.NoError(t, engine.Migrate(ctx, pg.URI()))

	pg.Exec(t, "ALTER SYSTEM SET track_commit_timestamp = off")
	pg.Exec(t, "ALTER SYSTEM SET fsync = off")
	pg.Exec(t, "ALTER SYSTEM SET synchronous_commit = off")
	pg.Exec(t, "ALTER SYSTEM SET full_page_writes = off")
	pg.Restart(t)

	status, err := engine.InspectPostgres(ctx, pg.URI())
	require.NoError(t, err)
	require.Len(t, status.Problems, 1)
	require.ErrorContains(t, status.Err(), "track_commit_timestamp is off")
	require.ErrorContains(t, status.Err(),
		"set track_commit_timestamp = on in postgresql.conf")
	require.ErrorContains(t, status.Err(), "restart PostgreSQL")

	warnings := strings.Join(status.Warnings, "\n")
	require.Len(t, status.Warnings, 3, warnings)
	for _, want := range []string{
		"set fsync = on", "set synchronous_commit = on",
		"set full_page_writes = on",
	} {
		require.Contains(t, warnings, want)
	}

	_, err = engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
	})
	require.ErrorContains(t, err, "track_commit_timestamp is off")
}

func TestCheckRefusesUnknownMigration(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	require.NoError(t, engine.Migrate(ctx, pg.URI()))

	pg.Exec(t, "UPDATE alembic_version SET version_num = 'from-the-future'")
	err := engine.CheckPostgres(ctx, pg.URI())
	require.ErrorContains(t, err, `migration "from-the-future"`)
	require.ErrorContains(t, err, "a newer iamd migrated it")
}

func TestBadConnectionStringsKeepTheirSecret(t *testing.T) {
	const secret = "s3cr3t-pw"
	pg := pgtest.Start(t)
	wrongPassword := strings.Replace(pg.URI(),
		"iam:", "iam:"+secret, 1)

	cases := []struct {
		name string
		uri  string
		msg  string
	}{
		{"empty", "", "needs a connection string"},
		{"malformed", "postgres://iam:" + secret + "@host:notaport/iam",
			"not a valid PostgreSQL connection string"},
		{"nothing listening", "postgres://iam:" + secret +
			"@127.0.0.1:1/iam?connect_timeout=5", "cannot reach"},
		{"wrong password", wrongPassword, "password authentication failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for name, run := range map[string]func() error{
				"check": func() error {
					return engine.CheckPostgres(t.Context(), tc.uri)
				},
				"migrate": func() error {
					return engine.Migrate(t.Context(), tc.uri)
				},
			} {
				err := run()
				require.ErrorContains(t, err, tc.msg, name)
				require.NotContains(t, err.Error(), secret, name)
			}
		})
	}
}

func TestEmbeddedOnPostgres(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)

	_, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
	})
	require.ErrorContains(t, err, "iamd migrate")

	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
		Migrate:         true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	require.NoError(t, e.WriteSchema(ctx))
	require.NoError(t, e.Ping(ctx))
}

// TestPingFollowsTheDatastore stops PostgreSQL under a running engine:
// Ping fails within a bounded time, then succeeds again once PostgreSQL
// is back, on the same engine.
func TestPingFollowsTheDatastore(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    pg.URI(),
		Migrate:         true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	require.NoError(t, e.WriteSchema(ctx))

	ping := func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return e.Ping(ctx)
	}
	require.NoError(t, ping())

	pg.Stop(t)
	start := time.Now()
	require.Error(t, ping())
	require.Less(t, time.Since(start), 6*time.Second)

	pg.Start(t)
	require.Eventually(t, func() bool { return ping() == nil },
		30*time.Second, 100*time.Millisecond,
		"the engine did not recover after PostgreSQL came back")
}

// TestMigrateRepairsALogicalRestore restores a pg_dump of a busy
// database into a fresh server, whose transaction counter starts low:
// the check refuses it, naming the fix, and Migrate repairs it.
func TestMigrateRepairsALogicalRestore(t *testing.T) {
	ctx := t.Context()
	source := pgtest.Start(t)
	e := embeddedOn(t, source.URI())
	source.Exec(t, `DO $$ BEGIN
		FOR i IN 1..5000 LOOP PERFORM pg_current_xact_id(); ROLLBACK; END LOOP;
	END $$`)
	require.NoError(t, e.WriteSchema(ctx))
	require.NoError(t, e.Close())

	restored := pgtest.Start(t)
	source.CopyTo(t, restored)

	err := engine.CheckPostgres(ctx, restored.URI())
	require.ErrorContains(t, err, "next transaction ID")
	require.ErrorContains(t, err, "pg_dump")
	require.ErrorContains(t, err, "iamd migrate")

	require.NoError(t, engine.Migrate(ctx, restored.URI()))
	require.NoError(t, engine.CheckPostgres(ctx, restored.URI()))

	// The restored copy serves reads and writes again.
	e = embeddedOn(t, restored.URI())
	require.NoError(t, e.WriteSchema(ctx))
	require.NoError(t, e.Ping(ctx))
}

// embeddedOn starts an embedded engine on the database at uri, migrating
// it first.
func embeddedOn(t *testing.T, uri string) *engine.Engine {
	t.Helper()
	e, err := engine.NewEmbedded(t.Context(), engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    uri,
		Migrate:         true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}
