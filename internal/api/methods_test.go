package api_test

import (
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/api"
)

// TestEveryMethod walks an IAM Admin of ab1cd2 through every method of
// the API, checking what each answers and that its effect is visible.
func TestEveryMethod(t *testing.T) {
	f := newFixture(t)

	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			c := f.as(adminA, proto.opts)
			member := "user:" + name("dev") + "@example.com"
			group := name("devs")
			policy := name("dev-access")

			// Members.
			_, err := c.AddMember(ctx, connect.NewRequest(&iamv1.AddMemberRequest{
				OrganizationId: orgA, Principal: member,
			}))
			require.NoError(t, err)
			members, err := c.ListMembers(ctx, connect.NewRequest(
				&iamv1.ListMembersRequest{OrganizationId: orgA}))
			require.NoError(t, err)
			require.Contains(t, members.Msg.GetPrincipals(), member)

			// Groups.
			_, err = c.CreateGroup(ctx, connect.NewRequest(&iamv1.CreateGroupRequest{
				OrganizationId: orgA, Name: group,
			}))
			require.NoError(t, err)
			_, err = c.AddGroupMember(ctx, connect.NewRequest(&iamv1.AddGroupMemberRequest{
				OrganizationId: orgA, Group: group, Member: member,
			}))
			require.NoError(t, err)
			g, err := c.GetGroup(ctx, connect.NewRequest(&iamv1.GetGroupRequest{
				OrganizationId: orgA, Name: group,
			}))
			require.NoError(t, err)
			require.Equal(t, []string{member}, g.Msg.GetGroup().GetMembers())
			groups, err := c.ListGroups(ctx, connect.NewRequest(
				&iamv1.ListGroupsRequest{OrganizationId: orgA}))
			require.NoError(t, err)
			require.NotEmpty(t, groups.Msg.GetGroups())

			// Policies: create, read, replace with its etag, and a
			// stale etag is refused.
			created, err := c.CreatePolicy(ctx, connect.NewRequest(&iamv1.CreatePolicyRequest{
				Policy: &iamv1.Policy{
					OrganizationId: orgA, PolicyId: policy, Description: "devs",
					Rules: []*iamv1.Rule{{
						Principals: []string{"group:" + group},
						Roles:      []string{"CKS Admin"},
					}},
				},
			}))
			require.NoError(t, err)
			first := created.Msg.GetPolicy()
			require.Equal(t, []string{"cks-admin"}, first.GetRules()[0].GetRoles())
			require.NotEmpty(t, first.GetEtag())
			require.NotNil(t, first.GetCreateTime())
			written := created.Msg.GetResult().GetConsistencyToken()
			require.NotEmpty(t, written)

			got, err := c.GetPolicy(ctx, connect.NewRequest(&iamv1.GetPolicyRequest{
				OrganizationId: orgA, PolicyId: policy, ConsistencyToken: written,
			}))
			require.NoError(t, err)
			require.Equal(t, first.GetEtag(), got.Msg.GetPolicy().GetEtag())

			list, err := c.ListPolicies(ctx, connect.NewRequest(
				&iamv1.ListPoliciesRequest{OrganizationId: orgA}))
			require.NoError(t, err)
			require.True(t, list.Msg.GetPolicies()[0].GetDefault())

			// Check through the group, then bulk.
			allowed, err := c.Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
				OrganizationId: orgA, Principal: member,
				Action: "cks.clusters.create", ConsistencyToken: written,
			}))
			require.NoError(t, err)
			require.True(t, allowed.Msg.GetAllowed())
			bulk, err := c.CheckBulk(ctx, connect.NewRequest(&iamv1.CheckBulkRequest{
				Checks: []*iamv1.CheckRequest{
					{OrganizationId: orgA, Principal: member, Role: "CKS Viewer"},
					{OrganizationId: orgA, Principal: member, Action: "billing.balance.view"},
				},
			}))
			require.NoError(t, err)
			require.Equal(t, []bool{true, false}, bulk.Msg.GetAllowed())

			replaced, err := c.ReplacePolicy(ctx, connect.NewRequest(&iamv1.ReplacePolicyRequest{
				Policy: &iamv1.Policy{
					OrganizationId: orgA, PolicyId: policy, Etag: first.GetEtag(),
					Rules: []*iamv1.Rule{{
						Principals: []string{"group:" + group},
						Roles:      []string{"cks-viewer"},
					}},
				},
			}))
			require.NoError(t, err)
			require.NotEqual(t, first.GetEtag(), replaced.Msg.GetPolicy().GetEtag())
			require.Equal(t, []string{"cks-viewer"},
				replaced.Msg.GetPolicy().GetRules()[0].GetRoles())

			_, err = c.ReplacePolicy(ctx, connect.NewRequest(&iamv1.ReplacePolicyRequest{
				Policy: &iamv1.Policy{
					OrganizationId: orgA, PolicyId: policy, Etag: first.GetEtag(),
					Rules: []*iamv1.Rule{{
						Principals: []string{member}, Roles: []string{"IAM Admin"},
					}},
				},
			}))
			requireCode(t, connect.CodeAborted, err)
			require.Equal(t, "etag", errorInfo(t, err).GetMetadata()["field"])
			_, err = c.DeletePolicy(ctx, connect.NewRequest(&iamv1.DeletePolicyRequest{
				OrganizationId: orgA, PolicyId: policy, Etag: first.GetEtag(),
			}))
			requireCode(t, connect.CodeAborted, err)

			// Legacy groups.
			_, err = c.AssignLegacyGroup(ctx, connect.NewRequest(
				&iamv1.AssignLegacyGroupRequest{
					OrganizationId: orgA, LegacyGroup: "metrics", Principal: member,
				}))
			require.NoError(t, err)
			_, err = c.UnassignLegacyGroup(ctx, connect.NewRequest(
				&iamv1.UnassignLegacyGroupRequest{
					OrganizationId: orgA, LegacyGroup: "metrics", Principal: member,
				}))
			require.NoError(t, err)
		})
	}
}

// TestRemainingMethods covers the methods TestEveryMethod leaves out:
// deletes, raw relationships, roles, WhoAmI, Apply and tokens.
func TestRemainingMethods(t *testing.T) {
	f := newFixture(t)

	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			c := f.as(adminA, proto.opts)
			group := freshGroup(t, f, orgA)
			policy := freshPolicy(t, f, orgA)
			raw := "user:" + name("raw") + "@example.com"

			_, err := c.DeletePolicy(ctx, connect.NewRequest(&iamv1.DeletePolicyRequest{
				OrganizationId: orgA, PolicyId: policy,
			}))
			require.NoError(t, err)
			_, err = c.GetPolicy(ctx, connect.NewRequest(&iamv1.GetPolicyRequest{
				OrganizationId: orgA, PolicyId: policy,
			}))
			requireCode(t, connect.CodeNotFound, err)

			var written *connect.Response[iamv1.WriteRelationshipsResponse]
			for _, rel := range []string{
				"organization:" + orgA + "#member@" + raw,
				"group:" + orgA + "/" + group + "#direct_member@" + raw,
			} {
				written, err = c.WriteRelationships(ctx, connect.NewRequest(
					&iamv1.WriteRelationshipsRequest{
						OrganizationId: orgA,
						Updates: []*iamv1.RelationshipUpdate{{
							Operation:    iamv1.RelationshipUpdate_OPERATION_TOUCH,
							Relationship: rel,
						}},
					}))
				require.NoError(t, err)
			}
			rels, err := c.ReadRelationships(ctx, connect.NewRequest(
				&iamv1.ReadRelationshipsRequest{
					OrganizationId:   orgA,
					ConsistencyToken: written.Msg.GetResult().GetConsistencyToken(),
				}))
			require.NoError(t, err)
			require.Contains(t, rels.Msg.GetRelationships(),
				"group:"+orgA+"/"+group+"#direct_member@"+raw)

			_, err = c.RemoveGroupMember(ctx, connect.NewRequest(
				&iamv1.RemoveGroupMemberRequest{
					OrganizationId: orgA, Group: group, Member: raw,
				}))
			require.NoError(t, err)
			_, err = c.DeleteGroup(ctx, connect.NewRequest(&iamv1.DeleteGroupRequest{
				OrganizationId: orgA, Name: group,
			}))
			require.NoError(t, err)

			roles, err := c.ListRoles(ctx, connect.NewRequest(&iamv1.ListRolesRequest{}))
			require.NoError(t, err)
			require.Len(t, roles.Msg.GetLegacyGroups(), 5)
			require.Equal(t, "legacy-admin",
				roles.Msg.GetLegacyGroups()[0].GetDefaultPolicyId())
			var iamAdmin *iamv1.Role
			for _, r := range roles.Msg.GetRoles() {
				if r.GetId() == "iam-admin" {
					iamAdmin = r
				}
			}
			require.NotNil(t, iamAdmin)
			require.Contains(t, iamAdmin.GetActions(), "iam.policies.get",
				"an Admin role lists its Viewer's actions too")

			me, err := c.WhoAmI(ctx, connect.NewRequest(&iamv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, adminA, me.Msg.GetPrincipal())
			require.Equal(t, orgA, me.Msg.GetOrganizationId())
			require.False(t, me.Msg.GetOperator())
			require.Contains(t, me.Msg.GetRoles(), "iam-admin")
			require.Contains(t, me.Msg.GetActions(), "iam.policies.update")

			op, err := f.as(api.OperatorPrincipal, proto.opts).WhoAmI(ctx,
				connect.NewRequest(&iamv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.True(t, op.Msg.GetOperator())
			require.Equal(t, api.OperatorPrincipal, op.Msg.GetPrincipal())
			require.Empty(t, op.Msg.GetOrganizationId())
		})
	}
}

// TestApply plans and applies an organization file: a dry run changes
// nothing, applying twice plans nothing the second time, and creating an
// organization is the operator's.
func TestApply(t *testing.T) {
	f := newFixture(t)

	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			ctx := t.Context()
			group := name("platform")
			member := "user:" + name("sre") + "@example.com"
			doc := "organizations:\n" +
				"  - id: " + orgA + "\n" +
				"    members: [" + member + "]\n" +
				"    groups:\n" +
				"      - name: " + group + "\n" +
				"        members: [" + member + "]\n"
			c := f.as(adminA, proto.opts)

			dry, err := c.Apply(ctx, connect.NewRequest(&iamv1.ApplyRequest{
				Document: doc, DryRun: true,
			}))
			require.NoError(t, err)
			require.False(t, dry.Msg.GetApplied())
			require.NotEmpty(t, dry.Msg.GetPlan())
			_, err = f.Service.GetGroup(ctx, orgA, group)
			require.Error(t, err, "a dry run must not write")

			applied, err := c.Apply(ctx, connect.NewRequest(&iamv1.ApplyRequest{Document: doc}))
			require.NoError(t, err)
			require.True(t, applied.Msg.GetApplied())
			require.Equal(t, dry.Msg.GetPlan(), applied.Msg.GetPlan())
			require.NotEmpty(t, applied.Msg.GetConsistencyToken())
			g, err := f.Service.GetGroup(ctx, orgA, group)
			require.NoError(t, err)
			require.Equal(t, []string{member}, g.Members)

			again, err := c.Apply(ctx, connect.NewRequest(&iamv1.ApplyRequest{Document: doc}))
			require.NoError(t, err)
			require.Empty(t, again.Msg.GetPlan())

			_, err = c.Apply(ctx, connect.NewRequest(&iamv1.ApplyRequest{
				Document: "organizations: [{id: " + orgA + ", colour: blue}]",
			}))
			requireCode(t, connect.CodeInvalidArgument, err)
		})
	}

	newOrg := "organizations:\n  - id: 00beef\n    first_user: user:root@beef.example\n"
	op := f.as(api.OperatorPrincipal, protocols[0].opts)
	resp, err := op.Apply(t.Context(), connect.NewRequest(&iamv1.ApplyRequest{Document: newOrg}))
	require.NoError(t, err)
	require.True(t, resp.Msg.GetApplied())
	orgs, err := f.Service.ListOrganizations(t.Context())
	require.NoError(t, err)
	require.Contains(t, orgs, "00beef")
}

// TestMintToken mints tokens only for principals of an organization, for
// a bounded lifetime.
func TestMintToken(t *testing.T) {
	f := newFixture(t)
	op := f.as(api.OperatorPrincipal, protocols[1].opts)

	cases := []struct {
		name      string
		principal string
		ttl       int64
		want      connect.Code
		field     string
	}{
		{"default lifetime", adminA, 0, 0, ""},
		{"service account spelled sa", "sa:" + name("ci"), 60, 0, ""},
		{"no organization", "user:stranger@example.com", 0,
			connect.CodeFailedPrecondition, "principal"},
		{"a group", "group:engineering", 0, connect.CodeInvalidArgument, "principal"},
		{"negative lifetime", adminA, -1, connect.CodeInvalidArgument, "ttl_seconds"},
		{"too long", adminA, 31 * 24 * 3600, connect.CodeInvalidArgument, "ttl_seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			who := tc.principal
			if tc.name == "service account spelled sa" {
				_, err := f.Service.AddMember(ctx, orgA, who)
				require.NoError(t, err)
			}

			start := time.Now()
			resp, err := op.MintToken(ctx, connect.NewRequest(&iamv1.MintTokenRequest{
				Principal: who, TtlSeconds: tc.ttl,
			}))
			if tc.want != 0 {
				requireCode(t, tc.want, err)
				require.Equal(t, tc.field, errorInfo(t, err).GetMetadata()["field"])
				return
			}
			require.NoError(t, err)

			ttl := time.Duration(tc.ttl) * time.Second
			if ttl == 0 {
				ttl = api.DefaultTokenTTL
			}
			expires := resp.Msg.GetExpireTime().AsTime()
			require.WithinDuration(t, start.Add(ttl), expires, 2*time.Second)

			me, err := f.ClientAs(resp.Msg.GetToken()).WhoAmI(ctx,
				connect.NewRequest(&iamv1.WhoAmIRequest{}))
			require.NoError(t, err)
			require.Equal(t, orgA, me.Msg.GetOrganizationId())
		})
	}
}

// TestGRPCWeb serves gRPC-Web on the same port, errors included.
func TestGRPCWeb(t *testing.T) {
	f := newFixture(t)
	c := f.as(viewerA, []connect.ClientOption{connect.WithGRPCWeb()})

	me, err := c.WhoAmI(t.Context(), connect.NewRequest(&iamv1.WhoAmIRequest{}))
	require.NoError(t, err)
	require.Contains(t, me.Msg.GetRoles(), "iam-viewer")

	_, err = c.CreateGroup(t.Context(), connect.NewRequest(&iamv1.CreateGroupRequest{
		OrganizationId: orgA, Name: "ops",
	}))
	requireCode(t, connect.CodePermissionDenied, err)
	require.Equal(t, "iam.groups.create", errorInfo(t, err).GetMetadata()["value"])
}
