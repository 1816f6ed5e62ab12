package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/iam"
)

type client = iamv1connect.IAMServiceClient

// call is one API call, ready to make.
type call func(ctx context.Context, c client) error

// orgOp is an API call within an organization. prepare arranges, through
// the facade, what the call needs (a group to delete, a member to add),
// and returns the call.
type orgOp struct {
	name    string
	action  string // the action a denial must name
	write   bool
	prepare func(t *testing.T, f *fixture, org string) call

	// orgField names the organization in a denial for acting outside
	// one's organization; "organization_id" if empty.
	orgField string
}

// orgAdmin is a principal of each organization, for rules to name.
var orgAdmin = map[string]string{orgA: adminA, orgB: adminB}

// freshMember adds a new user to org and returns it.
func freshMember(t *testing.T, f *fixture, org string) string {
	who := "user:" + name("member") + "@" + org + ".example"
	_, err := f.Service.AddMember(t.Context(), org, who)
	require.NoError(t, err)
	return who
}

// freshGroup creates a new group in org and returns its name.
func freshGroup(t *testing.T, f *fixture, org string) string {
	g := name("group")
	_, err := f.Service.CreateGroup(t.Context(), org, g)
	require.NoError(t, err)
	return g
}

// freshPolicy creates a policy naming org's admin and returns its ID.
func freshPolicy(t *testing.T, f *fixture, org string) string {
	id := name("policy")
	_, err := f.Service.CreatePolicy(t.Context(), iam.PolicyInput{
		Org: org, ID: id,
		Rules: []iam.Rule{{Principals: []string{orgAdmin[org]}, Roles: []string{"CKS Viewer"}}},
	})
	require.NoError(t, err)
	return id
}

// rpc makes a call whose answer does not matter, only its error.
func rpc[Req any, Res any](
	ctx context.Context,
	method func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
) error {
	_, err := method(ctx, connect.NewRequest(msg))
	return err
}

var orgOps = []orgOp{
	{name: "ListMembers", action: "iam.users.list",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.ListMembers, &iamv1.ListMembersRequest{OrganizationId: org})
			}
		}},
	{name: "AddMember", action: "iam.users.invite", write: true,
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			who := "user:" + name("invited") + "@example.com"
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.AddMember, &iamv1.AddMemberRequest{
					OrganizationId: org, Principal: who})
			}
		}},
	{name: "ListPolicies", action: "iam.policies.list",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.ListPolicies, &iamv1.ListPoliciesRequest{OrganizationId: org})
			}
		}},
	{name: "GetPolicy", action: "iam.policies.get",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.GetPolicy, &iamv1.GetPolicyRequest{
					OrganizationId: org, PolicyId: "legacy-admin"})
			}
		}},
	{name: "CreatePolicy", action: "iam.policies.create", write: true,
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			p := &iamv1.Policy{OrganizationId: org, PolicyId: name("created"),
				Rules: []*iamv1.Rule{{Principals: []string{orgAdmin[org]},
					Roles: []string{"CKS Admin"}}}}
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.CreatePolicy, &iamv1.CreatePolicyRequest{Policy: p})
			}
		}},
	{name: "ReplacePolicy", action: "iam.policies.update", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			id := freshPolicy(t, f, org)
			p := &iamv1.Policy{OrganizationId: org, PolicyId: id,
				Rules: []*iamv1.Rule{{Principals: []string{orgAdmin[org]},
					Roles: []string{"CKS Admin"}}}}
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.ReplacePolicy, &iamv1.ReplacePolicyRequest{Policy: p})
			}
		}},
	{name: "DeletePolicy", action: "iam.policies.delete", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			id := freshPolicy(t, f, org)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.DeletePolicy, &iamv1.DeletePolicyRequest{
					OrganizationId: org, PolicyId: id})
			}
		}},
	{name: "ListGroups", action: "iam.groups.list",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.ListGroups, &iamv1.ListGroupsRequest{OrganizationId: org})
			}
		}},
	{name: "GetGroup", action: "iam.groups.get",
		prepare: func(t *testing.T, f *fixture, org string) call {
			g := freshGroup(t, f, org)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.GetGroup, &iamv1.GetGroupRequest{
					OrganizationId: org, Name: g})
			}
		}},
	{name: "CreateGroup", action: "iam.groups.create", write: true,
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			g := name("new-group")
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.CreateGroup, &iamv1.CreateGroupRequest{
					OrganizationId: org, Name: g})
			}
		}},
	{name: "DeleteGroup", action: "iam.groups.delete", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			g := freshGroup(t, f, org)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.DeleteGroup, &iamv1.DeleteGroupRequest{
					OrganizationId: org, Name: g})
			}
		}},
	{name: "AddGroupMember", action: "iam.memberships.create", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			g := freshGroup(t, f, org)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.AddGroupMember, &iamv1.AddGroupMemberRequest{
					OrganizationId: org, Group: g, Member: orgAdmin[org]})
			}
		}},
	{name: "RemoveGroupMember", action: "iam.memberships.delete", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			g := freshGroup(t, f, org)
			_, err := f.Service.AddGroupMember(t.Context(), org, g, orgAdmin[org])
			require.NoError(t, err)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.RemoveGroupMember, &iamv1.RemoveGroupMemberRequest{
					OrganizationId: org, Group: g, Member: orgAdmin[org]})
			}
		}},
	{name: "AssignLegacyGroup", action: "iam.policies.update", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			who := freshMember(t, f, org)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.AssignLegacyGroup, &iamv1.AssignLegacyGroupRequest{
					OrganizationId: org, LegacyGroup: "metrics", Principal: who})
			}
		}},
	{name: "UnassignLegacyGroup", action: "iam.policies.update", write: true,
		prepare: func(t *testing.T, f *fixture, org string) call {
			who := freshMember(t, f, org)
			_, err := f.Service.AssignLegacyGroup(t.Context(), org, "metrics", who)
			require.NoError(t, err)
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.UnassignLegacyGroup, &iamv1.UnassignLegacyGroupRequest{
					OrganizationId: org, LegacyGroup: "metrics", Principal: who})
			}
		}},
	{name: "ReadRelationships", action: "iam.users.list",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.ReadRelationships, &iamv1.ReadRelationshipsRequest{
					OrganizationId: org})
			}
		}},
	{name: "WriteRelationships", action: "iam.users.invite", write: true,
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			rel := "organization:" + org + "#member@user:" + name("raw") + "@example.com"
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.WriteRelationships, &iamv1.WriteRelationshipsRequest{
					OrganizationId: org,
					Updates: []*iamv1.RelationshipUpdate{{
						Operation:    iamv1.RelationshipUpdate_OPERATION_TOUCH,
						Relationship: rel,
					}},
				})
			}
		}},
	{name: "Apply", action: "iam.policies.update", write: true,
		orgField: "organizations[0].id",
		prepare: func(_ *testing.T, _ *fixture, org string) call {
			doc := "organizations:\n  - id: " + org + "\n    groups:\n" +
				"      - name: " + name("applied") + "\n"
			return func(ctx context.Context, c client) error {
				return rpc(ctx, c.Apply, &iamv1.ApplyRequest{Document: doc})
			}
		}},
}

// TestAuthorizationMatrix runs every organization-scoped method as
// callers of different roles and organizations. A denial names what is
// missing and writes nothing.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)

	const ok = connect.Code(0)
	denied := connect.CodePermissionDenied
	callers := []struct {
		who, org      string
		reads, writes connect.Code
		// otherOrg marks a denial for acting outside one's organization
		// rather than for a missing action.
		otherOrg bool
	}{
		{who: api.OperatorPrincipal, org: orgA, reads: ok, writes: ok},
		{who: api.OperatorPrincipal, org: orgB, reads: ok, writes: ok},
		{who: adminA, org: orgA, reads: ok, writes: ok},
		{who: adminA, org: orgB, reads: denied, writes: denied, otherOrg: true},
		{who: adminB, org: orgA, reads: denied, writes: denied, otherOrg: true},
		{who: viewerA, org: orgA, reads: ok, writes: denied},
		{who: billingA, org: orgA, reads: denied, writes: denied},
		{who: plainA, org: orgA, reads: denied, writes: denied},
	}

	for _, proto := range protocols {
		for _, c := range callers {
			for _, op := range orgOps {
				want := c.reads
				if op.write {
					want = c.writes
				}
				t.Run(proto.name+"/"+c.who+"/"+c.org+"/"+op.name, func(t *testing.T) {
					run := op.prepare(t, f, c.org)
					before, err := f.Service.ReadRelationships(t.Context(), c.org, "")
					require.NoError(t, err)

					err = run(t.Context(), f.as(c.who, proto.opts))
					if want == ok {
						require.NoError(t, err)
						return
					}

					requireCode(t, want, err)
					info := errorInfo(t, err)
					if c.otherOrg {
						field := op.orgField
						if field == "" {
							field = "organization_id"
						}
						require.Equal(t, field, info.GetMetadata()["field"])
						require.Equal(t, c.org, info.GetMetadata()["value"])
					} else {
						require.Equal(t, "action", info.GetMetadata()["field"])
						require.Equal(t, op.action, info.GetMetadata()["value"])
					}
					after, err := f.Service.ReadRelationships(t.Context(), c.org, "")
					require.NoError(t, err)
					require.Equal(t, before, after, "a denied call wrote")
				})
			}
		}
	}
}

// TestOperatorOnlyMethods refuses organization management and token
// minting to anyone but the operator, an IAM Admin included.
func TestOperatorOnlyMethods(t *testing.T) {
	f := newFixture(t)

	calls := map[string]func(c client) error{
		"CreateOrganization": func(c client) error {
			return rpc(t.Context(), c.CreateOrganization, &iamv1.CreateOrganizationRequest{
				OrganizationId: "c0ffee", FirstUser: "user:" + name("first") + "@example.com"})
		},
		"ListOrganizations": func(c client) error {
			return rpc(t.Context(), c.ListOrganizations, &iamv1.ListOrganizationsRequest{})
		},
		"MintToken": func(c client) error {
			return rpc(t.Context(), c.MintToken, &iamv1.MintTokenRequest{Principal: adminA})
		},
		"ApplyNewOrganization": func(c client) error {
			return rpc(t.Context(), c.Apply, &iamv1.ApplyRequest{Document: "organizations:\n" +
				"  - id: " + orgA + "\n  - id: abcdef\n    first_user: user:x@example.com\n"})
		},
	}

	for _, proto := range protocols {
		for method, call := range calls {
			t.Run(proto.name+"/"+method, func(t *testing.T) {
				err := call(f.as(adminA, proto.opts))
				requireCode(t, connect.CodePermissionDenied, err)
			})
		}
	}

	orgs, err := f.Service.ListOrganizations(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{orgA, orgB}, orgs)

	for _, proto := range protocols {
		t.Run(proto.name+"/operator", func(t *testing.T) {
			c := f.as(api.OperatorPrincipal, proto.opts)
			require.NoError(t, calls["ListOrganizations"](c))
			require.NoError(t, calls["MintToken"](c))
		})
	}
}

// TestCheckAuthorization lets a principal check itself, and only holders
// of iam.users.permissions check others, in their own organization.
func TestCheckAuthorization(t *testing.T) {
	f := newFixture(t)

	check := func(org, who string) *iamv1.CheckRequest {
		return &iamv1.CheckRequest{
			OrganizationId: org, Principal: who, Action: "iam.policies.update",
		}
	}
	cases := []struct {
		name   string
		caller string
		checks []*iamv1.CheckRequest
		want   connect.Code
	}{
		{"self without roles", plainA, []*iamv1.CheckRequest{check(orgA, plainA)}, 0},
		{"other without permission", plainA, []*iamv1.CheckRequest{check(orgA, viewerA)},
			connect.CodePermissionDenied},
		{"self and other", plainA, []*iamv1.CheckRequest{
			check(orgA, plainA), check(orgA, adminA)}, connect.CodePermissionDenied},
		{"viewer checks others", viewerA, []*iamv1.CheckRequest{
			check(orgA, adminA), check(orgA, plainA)}, 0},
		{"admin checks another organization", adminA,
			[]*iamv1.CheckRequest{check(orgB, adminB)}, connect.CodePermissionDenied},
		{"self in another organization", adminA,
			[]*iamv1.CheckRequest{check(orgB, adminA)}, connect.CodePermissionDenied},
		{"operator checks anyone", api.OperatorPrincipal, []*iamv1.CheckRequest{
			check(orgA, adminA), check(orgB, adminB)}, 0},
	}

	for _, proto := range protocols {
		for _, tc := range cases {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				c := f.as(tc.caller, proto.opts)
				bulkErr := rpc(t.Context(), c.CheckBulk, &iamv1.CheckBulkRequest{Checks: tc.checks})
				var oneErr error
				if len(tc.checks) == 1 {
					oneErr = rpc(t.Context(), c.Check, tc.checks[0])
				}

				if tc.want == 0 {
					require.NoError(t, bulkErr)
					require.NoError(t, oneErr)
					return
				}
				requireCode(t, tc.want, bulkErr)
				if len(tc.checks) == 1 {
					requireCode(t, tc.want, oneErr)
				}
			})
		}
	}
}
