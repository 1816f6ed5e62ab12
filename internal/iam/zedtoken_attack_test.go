package iam_test

import (
	"encoding/base64"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// revisionDigits finds the decimal revision inside a decoded ZedToken.
var revisionDigits = regexp.MustCompile(`[0-9]{12,}`)

// futureToken rewrites a real ZedToken so that it names a revision far
// in the future (the first digit of a nanosecond revision becomes 2, some
// thirty years on, still an int64). The digit count is kept, so the
// token stays well formed.
func futureToken(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(token)
	require.NoError(t, err)
	loc := revisionDigits.FindIndex(raw)
	require.NotNil(t, loc, "no revision in %q", raw)
	raw[loc[0]] = '2'
	return base64.StdEncoding.EncodeToString(raw)
}

// TestAttackFutureZedTokenIsTheCallersMistake passes a well-formed
// ZedToken for a revision that does not exist yet. SpiceDB answers
// OutOfRange, which the facade classifies as internal: a 500 and an
// ERROR log line that any caller can trigger at will.
func TestAttackFutureZedTokenIsTheCallersMistake(t *testing.T) {
	ctx := t.Context()
	svc, token := seededService(t)
	future := futureToken(t, token)

	errs := map[string]error{}
	_, errs["Check"] = svc.Check(ctx, iam.CheckRequest{
		Org: org, Principal: "user:user-a@example.com",
		Action: "cks.clusters.list", AtLeastAsFresh: future,
	})
	_, _, errs["CheckBulk"] = svc.CheckBulk(ctx, []iam.CheckRequest{{
		Org: org, Principal: "user:user-a@example.com",
		Action: "cks.clusters.list", AtLeastAsFresh: future,
	}})
	_, errs["GetPolicy"] = svc.GetPolicy(ctx, org, "example-access", future)
	_, errs["ReadRelationships"] = svc.ReadRelationships(ctx, org, future)

	for name, err := range errs {
		t.Run(name, func(t *testing.T) {
			require.Error(t, err)
			require.True(t, iamerr.Is(err, iamerr.InvalidArgument),
				"kind %s: %v", iamerr.KindOf(err), err)
		})
	}
}
