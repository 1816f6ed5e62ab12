package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authzed/spicedb/pkg/cmd/datastore"
	spicedatastore "github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/datastore/migration"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// MinPostgresVersion is the oldest PostgreSQL major version SpiceDB
// v1.57 supports.
const MinPostgresVersion = 14

// postgresCheckTimeout bounds InspectPostgres: a start-up check that
// hangs on an unreachable host is worse than one that fails.
const postgresCheckTimeout = 15 * time.Second

// migrationTimeout bounds one Migrate run. SpiceDB's own default is an
// hour: some migrations backfill every relationship.
const migrationTimeout = time.Hour

// migrationLockKey names the advisory lock that serialises Migrate
// between replicas started at the same moment. Any constant works as
// long as every iamd uses the same one.
const migrationLockKey int64 = 0x69616d642d6d6967 // "iamd-mig"

// PostgresHeadRevision returns the SpiceDB migration a PostgreSQL
// datastore must be at for this build of iamd.
func PostgresHeadRevision() (string, error) {
	return migration.HeadRevision(PostgresDatastore)
}

// Migrate brings the PostgreSQL database at uri to SpiceDB's head
// migration, and moves its transaction counter past every ID SpiceDB
// recorded, which a restore from a logical dump leaves behind. It does
// nothing on a database already there, and replicas that run it at once
// take turns, so every start may call it.
func Migrate(ctx context.Context, uri string) error {
	target, err := describePostgres(uri)
	if err != nil {
		return err
	}

	// The lock lives on its own connection for the whole run: SpiceDB's
	// migrations open their own, and some run outside a transaction.
	conn, err := connectPostgres(ctx, uri, target)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	if err := lockMigrations(ctx, conn); err != nil {
		return fmt.Errorf("engine: waiting for other migrations of %s: %w",
			target, err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx),
			"SELECT pg_advisory_unlock($1)", migrationLockKey)
	}()

	err = migration.Run(ctx, &migration.Config{
		DatastoreEngine: PostgresDatastore,
		DatastoreURI:    uri,
		Timeout:         migrationTimeout,
		BatchSize:       1000,
	}, "head")
	if err != nil {
		return fmt.Errorf("engine: migrating %s: %w", target, err)
	}

	if err := repairTransactionIDs(ctx, conn, uri); err != nil {
		return fmt.Errorf("engine: advancing the transaction counter of %s: %w",
			target, err)
	}
	return nil
}

// transactionIDs returns the next transaction ID PostgreSQL will assign
// and the highest one SpiceDB recorded. SpiceDB orders its revisions by
// these IDs, so the next must be higher: a logical dump (pg_dump)
// restored into another server breaks that, since the counter is not
// part of the dump.
func transactionIDs(ctx context.Context, conn *pgx.Conn) (next, recorded int64, err error) {
	err = conn.QueryRow(ctx, `SELECT
		pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
		coalesce((SELECT max(xid) FROM relation_tuple_transaction)::text::bigint, 0)`,
	).Scan(&next, &recorded)
	return next, recorded, err
}

// repairTransactionIDs moves the transaction counter past every ID
// SpiceDB recorded, with SpiceDB's own repair, when it is behind.
func repairTransactionIDs(ctx context.Context, conn *pgx.Conn, uri string) error {
	next, recorded, err := transactionIDs(ctx, conn)
	if err != nil || next > recorded {
		return err
	}

	ds, err := datastore.NewDatastore(ctx,
		datastore.DefaultDatastoreConfig().ToOption(),
		datastore.WithEngine(PostgresDatastore),
		datastore.WithURI(uri),
		datastore.WithEnableDatastoreMetrics(false),
		// No garbage collection while the counter is behind.
		datastore.WithGCInterval(-time.Hour),
	)
	if err != nil {
		return err
	}
	defer func() { _ = ds.Close() }()

	repairable := spicedatastore.UnwrapAs[spicedatastore.RepairableDatastore](ds)
	if repairable == nil {
		return errors.New("the postgres datastore offers no repair")
	}
	return repairable.Repair(ctx, "transaction-ids", false)
}

// lockMigrations takes the migration lock, polling rather than blocking:
// a session blocked in pg_advisory_lock holds a snapshot, and SpiceDB's
// CREATE INDEX CONCURRENTLY waits for every snapshot to end, so the
// holder's migration would wait forever for the waiters.
func lockMigrations(ctx context.Context, conn *pgx.Conn) error {
	for {
		var got bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)",
			migrationLockKey).Scan(&got)
		if err != nil || got {
			return err
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// PostgresStatus is what InspectPostgres found on a database.
type PostgresStatus struct {
	// Target names the database without its password, for messages.
	Target string

	// ServerVersion is PostgreSQL's version, e.g. "15.18".
	ServerVersion string

	// Revision is the SpiceDB migration the database is at; empty when
	// it was never migrated.
	Revision string

	// HeadRevision is the migration this build of iamd needs.
	HeadRevision string

	// Problems stop iamd from starting. Each names the setting or state,
	// why it matters, and the fix.
	Problems []string

	// Warnings are risks iamd starts despite, such as settings that can
	// lose acknowledged writes in a crash.
	Warnings []string
}

// Err joins Problems into one error, or returns nil when there are none.
func (s PostgresStatus) Err() error {
	if len(s.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("engine: %s is not ready for iamd:\n  - %s",
		s.Target, strings.Join(s.Problems, "\n  - "))
}

// CheckPostgres returns an error, naming every setting to fix, unless
// the database at uri is reachable, migrated to head and configured as
// SpiceDB needs. Warnings are dropped; use InspectPostgres to see them.
func CheckPostgres(ctx context.Context, uri string) error {
	status, err := InspectPostgres(ctx, uri)
	if err != nil {
		return err
	}
	return status.Err()
}

// InspectPostgres connects to the database at uri and reports what stops
// iamd from using it, and what puts acknowledged writes at risk. The
// error is only for a database it could not inspect at all.
func InspectPostgres(ctx context.Context, uri string) (PostgresStatus, error) {
	target, err := describePostgres(uri)
	if err != nil {
		return PostgresStatus{}, err
	}
	status := PostgresStatus{Target: target}

	ctx, cancel := context.WithTimeout(ctx, postgresCheckTimeout)
	defer cancel()

	conn, err := connectPostgres(ctx, uri, target)
	if err != nil {
		return status, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	settings, err := readSettings(ctx, conn)
	if err != nil {
		return status, fmt.Errorf("engine: reading the settings of %s: %w",
			target, err)
	}
	status.ServerVersion = settings["server_version"]
	checkVersion(&status, settings["server_version_num"])
	checkSettings(&status, settings)

	status.HeadRevision, err = PostgresHeadRevision()
	if err != nil {
		return status, fmt.Errorf("engine: %w", err)
	}
	status.Revision, err = migration.Version(ctx, &migration.Config{
		DatastoreEngine: PostgresDatastore,
		DatastoreURI:    uri,
	})
	if err != nil {
		return status, fmt.Errorf("engine: reading the migration of %s: %w",
			target, err)
	}
	checkRevision(&status)
	if status.Revision != status.HeadRevision {
		return status, nil
	}

	next, recorded, err := transactionIDs(ctx, conn)
	if err != nil {
		return status, fmt.Errorf("engine: reading the transaction IDs of %s: %w",
			target, err)
	}
	if next <= recorded {
		status.Problems = append(status.Problems, fmt.Sprintf(
			"PostgreSQL's next transaction ID (%d) is behind the IDs SpiceDB"+
				" recorded (up to %d), which happens when a logical dump"+
				" (pg_dump) is restored into another server; run `iamd"+
				" migrate --datastore-uri URI`, which advances the counter,"+
				" before serving", next, recorded))
	}
	return status, nil
}

// describePostgres names host, port, database and user of uri, never its
// password. A malformed uri is reported without echoing it back, since
// the part that failed to parse may be the password.
func describePostgres(uri string) (string, error) {
	if uri == "" {
		return "", errors.New("engine: the postgres datastore needs a" +
			" connection string; pass" +
			" --datastore-uri postgres://USER:PASSWORD@HOST:5432/DATABASE")
	}
	cfg, err := pgconn.ParseConfig(uri)
	if err != nil {
		return "", errors.New("engine: the datastore URI is not a valid" +
			" PostgreSQL connection string; use" +
			" postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full" +
			" and percent-encode special characters in the password")
	}

	return fmt.Sprintf("PostgreSQL database %q at %s:%d as user %q",
		cfg.Database, cfg.Host, cfg.Port, cfg.User), nil
}

func connectPostgres(ctx context.Context, uri, target string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("engine: cannot reach %s: %w; check that the"+
			" server runs, listens on that address and accepts this user"+
			" and password (pg_hba.conf)", target, err)
	}
	return conn, nil
}

// watchedSettings are the server settings InspectPostgres judges.
var watchedSettings = []string{
	"server_version", "server_version_num", "track_commit_timestamp",
	"fsync", "synchronous_commit", "full_page_writes",
}

func readSettings(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	rows, err := conn.Query(ctx,
		"SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
		watchedSettings)
	if err != nil {
		return nil, err
	}
	settings := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		settings[name] = value
	}
	return settings, rows.Err()
}

func checkVersion(status *PostgresStatus, versionNum string) {
	// server_version_num is e.g. 150018 for 15.18.
	num, err := strconv.Atoi(versionNum)
	if err != nil {
		status.Problems = append(status.Problems, fmt.Sprintf(
			"server_version_num %q is not a number; is this PostgreSQL?",
			versionNum))
		return
	}
	if num/10000 < MinPostgresVersion {
		status.Problems = append(status.Problems, fmt.Sprintf(
			"PostgreSQL %s is older than %d, the oldest SpiceDB supports;"+
				" upgrade the server", status.ServerVersion, MinPostgresVersion))
	}
}

func checkSettings(status *PostgresStatus, settings map[string]string) {
	if settings["track_commit_timestamp"] != "on" {
		status.Problems = append(status.Problems,
			"track_commit_timestamp is off: SpiceDB's Watch API, which"+
				" streams every change with who made it, needs it; set"+
				" track_commit_timestamp = on in postgresql.conf (or run"+
				" ALTER SYSTEM SET track_commit_timestamp = on) and restart"+
				" PostgreSQL")
	}

	if settings["fsync"] != "on" {
		status.Warnings = append(status.Warnings,
			"fsync is off: a crash of the database host can lose or"+
				" corrupt acknowledged grants and revocations; set fsync = on")
	}
	if settings["synchronous_commit"] == "off" {
		status.Warnings = append(status.Warnings,
			"synchronous_commit is off: a database crash can lose the"+
				" last writes iamd acknowledged; set synchronous_commit = on")
	}
	if settings["full_page_writes"] != "on" {
		status.Warnings = append(status.Warnings,
			"full_page_writes is off: a crash during a write can leave"+
				" torn pages the database cannot recover; set"+
				" full_page_writes = on")
	}
}

func checkRevision(status *PostgresStatus) {
	rev, head := status.Revision, status.HeadRevision
	if rev == head {
		return
	}

	fix := "run `iamd migrate --datastore-uri URI`, or start iamd with" +
		" --migrate"
	if rev == "" {
		status.Problems = append(status.Problems,
			"the database has no SpiceDB tables yet; "+fix)
		return
	}

	known, err := migration.MigrationNames(PostgresDatastore)
	if err == nil && !slices.Contains(known, rev) {
		status.Problems = append(status.Problems, fmt.Sprintf(
			"the database is at SpiceDB migration %q, which this iamd does"+
				" not know (it needs %q): a newer iamd migrated it; run that"+
				" version", rev, head))
		return
	}
	status.Problems = append(status.Problems, fmt.Sprintf(
		"the database is at SpiceDB migration %q, but this iamd needs %q; %s",
		rev, head, fix))
}

// preparePostgres runs before an embedded engine opens a postgres
// datastore: it migrates when asked, then refuses a database iamd cannot
// use safely, and logs the settings that put writes at risk.
func preparePostgres(ctx context.Context, cfg EmbeddedConfig) error {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}

	if cfg.Migrate {
		if err := Migrate(ctx, cfg.DatastoreURI); err != nil {
			return err
		}
	}

	status, err := InspectPostgres(ctx, cfg.DatastoreURI)
	if err != nil {
		return err
	}
	for _, w := range status.Warnings {
		log.WarnContext(ctx, "PostgreSQL setting puts writes at risk",
			"datastore", status.Target, "warning", w)
	}
	return status.Err()
}
