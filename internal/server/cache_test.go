package server_test

import (
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/server"
)

// TestDecisionCacheHonoursRevocations serves with the decision cache: a
// check answered (and kept) before a revocation is denied right after it
// when the revocation's consistency token is passed, over and over.
func TestDecisionCacheHonoursRevocations(t *testing.T) {
	r := start(t, server.Config{
		OperatorToken: operatorToken,
		DecisionCache: true,
	})
	c := r.client(operatorToken)
	ctx := t.Context()

	_, err := c.CreateOrganization(ctx, connect.NewRequest(
		&iamv1.CreateOrganizationRequest{
			OrganizationId: "ab1cd2", FirstUser: "user:root@example.com",
		}))
	require.NoError(t, err)
	_, err = c.AddMember(ctx, connect.NewRequest(&iamv1.AddMemberRequest{
		OrganizationId: "ab1cd2", Principal: "user:dev@example.com",
	}))
	require.NoError(t, err)

	check := func(token string) bool {
		resp, err := c.Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
			OrganizationId: "ab1cd2", Principal: "user:dev@example.com",
			Action: "cks.clusters.list", ConsistencyToken: token,
		}))
		require.NoError(t, err)
		return resp.Msg.GetAllowed()
	}

	for range 10 {
		granted, err := c.AssignLegacyGroup(ctx, connect.NewRequest(
			&iamv1.AssignLegacyGroupRequest{
				OrganizationId: "ab1cd2", LegacyGroup: "read",
				Principal: "user:dev@example.com",
			}))
		require.NoError(t, err)
		token := granted.Msg.GetResult().GetConsistencyToken()
		require.True(t, check(token))
		require.True(t, check(token), "the kept decision")

		revoked, err := c.UnassignLegacyGroup(ctx, connect.NewRequest(
			&iamv1.UnassignLegacyGroupRequest{
				OrganizationId: "ab1cd2", LegacyGroup: "read",
				Principal: "user:dev@example.com",
			}))
		require.NoError(t, err)
		require.False(t, check(revoked.Msg.GetResult().GetConsistencyToken()),
			"a stale allow after a revocation whose token was passed")
	}
}
