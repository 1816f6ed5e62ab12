package main

import (
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/pgtest"
)

// runIamd runs this test binary as iamd with args and waits for it,
// bounded in time; it returns the combined output and the error.
func runIamd(t *testing.T, uri, args string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asIamdEnv+"="+args,
		"IAMD_DATASTORE_URI="+uri)
	cmd.WaitDelay = time.Second

	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		defer close(done)
		out, err = cmd.CombinedOutput()
	}()
	select {
	case <-done:
		return string(out), err
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("iamd %s did not finish:\n%s", args, out)
		return "", nil
	}
}

// TestMigrateCommand: serve refuses a database that was never migrated
// and says how to fix it; `iamd migrate` fixes it, and is safe to repeat.
func TestMigrateCommand(t *testing.T) {
	pg := pgtest.Start(t)
	parsed, err := url.Parse(pg.URI())
	require.NoError(t, err)
	password, _ := parsed.User.Password()
	require.NotEmpty(t, password)

	out, err := runIamd(t, pg.URI(),
		"serve --addr 127.0.0.1:0 --datastore-engine postgres")
	require.Error(t, err)
	require.Contains(t, out, "iamd migrate")
	require.NotContains(t, out, "iamd listening")

	for range 2 {
		out, err = runIamd(t, pg.URI(), "migrate")
		require.NoError(t, err, out)
		require.Contains(t, out, "is at migration")
		require.NotContains(t, out, password)
	}
}

// TestMigrateNeedsAURI names the missing setting.
func TestMigrateNeedsAURI(t *testing.T) {
	out, err := runIamd(t, "", "migrate")
	require.Error(t, err)
	require.Contains(t, out, "--datastore-uri is empty")
}
