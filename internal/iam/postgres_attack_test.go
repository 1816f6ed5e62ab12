package iam_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/pgtest"
)

// TestAttackNULInDescriptionOnPostgres stores a description holding
// control characters. The description is valid UTF-8 of legal length,
// so the facade passes it to SpiceDB, which keeps it in a caveat
// context; PostgreSQL's JSONB cannot hold U+0000. The answer must be a
// stored policy or an invalid argument, never an internal error.
func TestAttackNULInDescriptionOnPostgres(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	svc, _ := seededOn(t, onPostgres(t, pg.URI()))

	for name, description := range map[string]string{
		"NUL":        "before\x00after",
		"only NULs":  strings.Repeat("\x00", 16),
		"ANSI color": "\x1b[31mred\x1b[0m",
	} {
		t.Run(name, func(t *testing.T) {
			id := "desc-" + strings.ReplaceAll(strings.ToLower(name), " ", "-")
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{
				Org: org, ID: id, Description: description,
			})
			if err != nil {
				require.True(t, iamerr.Is(err, iamerr.InvalidArgument),
					"a bad description is the caller's mistake: %v", err)
				return
			}
			p, err := svc.GetPolicy(ctx, org, id, "")
			require.NoError(t, err)
			require.Equal(t, description, p.Description)
		})
	}
}
