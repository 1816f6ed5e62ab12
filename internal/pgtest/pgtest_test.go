package pgtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/pgtest"
)

// query returns the first column of the first row of sql.
func query(t *testing.T, uri, sql string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close(ctx) }()

	var out string
	err = conn.QueryRow(ctx, sql).Scan(&out)
	return out, err
}

func TestServerHasProductionSettings(t *testing.T) {
	s := pgtest.Start(t)
	require.True(t, strings.HasPrefix(s.URI(), "postgres://iam:"))
	require.Contains(t, s.URI(), "@127.0.0.1:")

	cases := map[string]string{
		"SHOW track_commit_timestamp": "on",
		"SHOW fsync":                  "on",
		"SHOW synchronous_commit":     "on",
		"SHOW listen_addresses":       "127.0.0.1",
		"SELECT current_database()":   pgtest.Database,
	}
	for sql, want := range cases {
		got, err := query(t, s.URI(), sql)
		require.NoError(t, err, sql)
		require.Equal(t, want, got, sql)
	}
}

func TestWrongPasswordIsRefused(t *testing.T) {
	s := pgtest.Start(t)
	bad := strings.Replace(s.URI(), "iam:", "iam:wrong", 1)
	_, err := query(t, bad, "SELECT 1")
	require.ErrorContains(t, err, "password authentication failed")
}

func TestDataSurvivesStopAndCrash(t *testing.T) {
	s := pgtest.Start(t)
	s.Exec(t, "CREATE TABLE kept (v text)")
	s.Exec(t, "INSERT INTO kept VALUES ('before stop')")

	s.Stop(t)
	_, err := query(t, s.URI(), "SELECT 1")
	require.Error(t, err, "a stopped server must refuse connections")
	s.Start(t)

	s.Exec(t, "INSERT INTO kept VALUES ('before crash')")
	s.Crash(t)
	s.Start(t)

	got, err := query(t, s.URI(), "SELECT string_agg(v, ',' ORDER BY v) FROM kept")
	require.NoError(t, err)
	require.Equal(t, "before crash,before stop", got)
}

func TestServersAreIndependent(t *testing.T) {
	a := pgtest.Start(t)
	b := pgtest.Start(t)
	require.NotEqual(t, a.Port(), b.Port())

	a.Exec(t, "CREATE TABLE only_in_a (v int)")
	_, err := query(t, b.URI(), "SELECT count(*)::text FROM only_in_a")
	require.ErrorContains(t, err, "does not exist")
}
