package e2e

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
)

// composeFile is the Compose file that deploy/ ships.
const composeFile = "../deploy/docker-compose.yaml"

// TestCompose brings deploy/docker-compose.yaml up with the images the
// suite builds, applies the seed example through iamd's published port
// and asks the seed's questions; then takes it all down.
func TestCompose(t *testing.T) {
	pool := Docker(t)
	ctx := t.Context()

	images := BuildImages(t, pool)
	iamdRef, err := BuildIAMDImage(ctx, pool)
	require.NoError(t, err)

	secrets := NewIAMDSecrets()
	port, err := freeLoopbackPort()
	require.NoError(t, err)

	// The exact images of this run, rather than :latest, which a
	// concurrent run with other inputs may move.
	project := StartCompose(t, ComposeOptions{
		File: composeFile,
		Env: []string{
			"IAMD_IMAGE=" + iamdRef,
			"SPICEDB_IMAGE=" + images.SpiceDB,
			"POSTGRES_IMAGE=" + images.Postgres,
			"IAMD_PORT=" + port,
			"IAMD_SECRETS_DIR=" + writeComposeSecrets(t, secrets),
			"SPICEDB_PRESHARED_KEY=" + randomHex(16),
		},
	})

	d := NewEndpoint("http://127.0.0.1:"+port, secrets)

	t.Run("every service is healthy", func(t *testing.T) {
		want := map[string]string{
			"postgres":        "healthy",
			"spicedb-migrate": "exited 0",
			"spicedb-1":       "healthy",
			"spicedb-2":       "healthy",
			"iamd":            "healthy",
		}

		eventually(t, 3*time.Minute, func(ctx context.Context) error {
			got, err := project.ServiceStates(ctx)
			if err != nil {
				return err
			}

			if !maps.Equal(want, got) {
				return fmt.Errorf("services: got %v, want %v", got, want)
			}

			return nil
		})
	})

	t.Run("the seed example", func(t *testing.T) {
		seed, cases := readSeed(t)
		op := d.Operator()

		resp, err := op.Apply(ctx, connect.NewRequest(
			&iamv1.ApplyRequest{Document: string(seed)}))
		require.NoError(t, err)
		require.True(t, resp.Msg.GetApplied())
		require.NotEmpty(t, resp.Msg.GetPlan())

		token := resp.Msg.GetConsistencyToken()
		require.NoError(t, checkSeed(ctx, op, cases, token))

		testComposeMintedToken(t, op, d)
	})
}

// testComposeMintedToken checks that a minted token authenticates:
// the signing key file reached iamd.
func testComposeMintedToken(
	t *testing.T,
	op iamv1connect.IAMServiceClient,
	d *Endpoint,
) {
	ctx := t.Context()

	minted, err := op.MintToken(ctx, connect.NewRequest(
		&iamv1.MintTokenRequest{Principal: userB}))
	require.NoError(t, err)

	resp, err := d.Client(minted.Msg.GetToken()).ListPolicies(ctx,
		connect.NewRequest(&iamv1.ListPoliciesRequest{
			OrganizationId: seedOrg,
		}))
	require.NoError(t, err)
	require.NotEmpty(t, resp.Msg.GetPolicies())
}

// writeComposeSecrets writes iamd's secret files for the Compose file
// into a folder of the test's, readable by iamd's user alone, and
// returns the folder.
func writeComposeSecrets(t *testing.T, secrets IAMDSecrets) string {
	t.Helper()

	dir := t.TempDir()
	files := map[string]string{
		"operator-token":    secrets.OperatorToken,
		"token-signing-key": secrets.SigningKey,
	}

	for name, content := range files {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(content), 0o400))

		// Compose mounts the files as they are. Only root may give
		// them to iamd's user; anyone else makes them readable to all,
		// in a folder that is the test's alone.
		err := os.Chown(path, iamdUID, iamdUID)
		if err != nil {
			require.NoError(t, os.Chmod(path, 0o444))
		}
	}

	return dir
}
