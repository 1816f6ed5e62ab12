package iam_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

func TestSmoke(t *testing.T) {
	ctx := t.Context()
	s := iamtest.NewService(t)

	w, err := s.CreateOrganization(ctx, "ab1cd2", "user:admin@example.com")
	require.NoError(t, err)

	d, err := s.Check(ctx, iam.CheckRequest{Org: "ab1cd2",
		Principal: "user:admin@example.com", Action: "iam.policies.create",
		AtLeastAsFresh: w.Token})
	require.NoError(t, err)
	require.True(t, d.Allowed)

	_, err = s.AddMember(ctx, "ab1cd2", "user:a@example.com")
	require.NoError(t, err)
	pw, err := s.CreatePolicy(ctx, iam.PolicyInput{Org: "ab1cd2", ID: "p1",
		Rules: []iam.Rule{{Principals: []string{"user:a@example.com"},
			Roles: []string{"CKS Admin"}}}})
	require.NoError(t, err)

	d, err = s.Check(ctx, iam.CheckRequest{Org: "ab1cd2",
		Principal: "user:a@example.com", Action: "cks.clusters.list",
		AtLeastAsFresh: pw.Token})
	require.NoError(t, err)
	require.True(t, d.Allowed)

	ps, err := s.ListPolicies(ctx, "ab1cd2")
	require.NoError(t, err)
	require.Len(t, ps, 6)
	t.Logf("%+v", ps)
}
