package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

// TestBadRequests answers bad input with InvalidArgument (or the code a
// case names) naming the field, the value and a fix, and writes nothing.
func TestBadRequests(t *testing.T) {
	f := newFixture(t)

	rule := func(principal, role string) []*iamv1.Rule {
		return []*iamv1.Rule{{Principals: []string{principal}, Roles: []string{role}}}
	}
	cases := []struct {
		name  string
		call  func(ctx context.Context, c client) error
		field string
		value string
	}{
		{"misspelt role", func(ctx context.Context, c client) error {
			return rpc(ctx, c.CreatePolicy, &iamv1.CreatePolicyRequest{
				Policy: &iamv1.Policy{OrganizationId: orgA, PolicyId: name("p"),
					Rules: rule(adminA, "CKS Admn")}})
		}, "rules[0].roles[0]", "CKS Admn"},
		{"no policy", func(ctx context.Context, c client) error {
			return rpc(ctx, c.CreatePolicy, &iamv1.CreatePolicyRequest{})
		}, "policy", ""},
		{"bad policy ID", func(ctx context.Context, c client) error {
			return rpc(ctx, c.CreatePolicy, &iamv1.CreatePolicyRequest{
				Policy: &iamv1.Policy{OrganizationId: orgA, PolicyId: "My Policy!",
					Rules: rule(adminA, "CKS Admin")}})
		}, "policy_id", "My Policy!"},
		{"principal of another organization", func(ctx context.Context, c client) error {
			return rpc(ctx, c.ReplacePolicy, &iamv1.ReplacePolicyRequest{
				Policy: &iamv1.Policy{OrganizationId: orgA, PolicyId: "legacy-metrics",
					Rules: rule(adminB, "observability-viewer")}})
		}, "rules[0].principals[0]", adminB},
		{"principal without kind", func(ctx context.Context, c client) error {
			return rpc(ctx, c.AddMember, &iamv1.AddMemberRequest{
				OrganizationId: orgA, Principal: "alice"})
		}, "principal", "alice"},
		{"bad organization ID", func(ctx context.Context, c client) error {
			return rpc(ctx, c.CreateGroup, &iamv1.CreateGroupRequest{
				OrganizationId: "XYZ", Name: "ops"})
		}, "organization_id", "XYZ"},
		{"unknown legacy group", func(ctx context.Context, c client) error {
			return rpc(ctx, c.AssignLegacyGroup, &iamv1.AssignLegacyGroupRequest{
				OrganizationId: orgA, LegacyGroup: "admins", Principal: plainA})
		}, "legacy_group", "admins"},
		{"operation not set", func(ctx context.Context, c client) error {
			return rpc(ctx, c.WriteRelationships, &iamv1.WriteRelationshipsRequest{
				OrganizationId: orgA,
				Updates: []*iamv1.RelationshipUpdate{{
					Relationship: "organization:" + orgA + "#member@user:x@example.com",
				}}})
		}, "updates[0].operation", "OPERATION_UNSPECIFIED"},
		{"relationship not writable", func(ctx context.Context, c client) error {
			return rpc(ctx, c.WriteRelationships, &iamv1.WriteRelationshipsRequest{
				OrganizationId: orgA,
				Updates: []*iamv1.RelationshipUpdate{{
					Operation:    iamv1.RelationshipUpdate_OPERATION_TOUCH,
					Relationship: "organization:" + orgA + "#platform@platform:iam",
				}}})
		}, "updates[0].relationship", ""},
		{"action and role", func(ctx context.Context, c client) error {
			return rpc(ctx, c.Check, &iamv1.CheckRequest{OrganizationId: orgA,
				Principal: adminA, Action: "cks.clusters.list", Role: "CKS Viewer"})
		}, "role", "CKS Viewer"},
		{"misspelt action", func(ctx context.Context, c client) error {
			return rpc(ctx, c.Check, &iamv1.CheckRequest{OrganizationId: orgA,
				Principal: adminA, Action: "cks.cluster.list"})
		}, "action", "cks.cluster.list"},
		{"empty bulk check", func(ctx context.Context, c client) error {
			return rpc(ctx, c.CheckBulk, &iamv1.CheckBulkRequest{})
		}, "checks", ""},
		{"document does not parse", func(ctx context.Context, c client) error {
			return rpc(ctx, c.Apply, &iamv1.ApplyRequest{
				Document: "organizations: [{id: " + orgA + ", groups: 7}]"})
		}, "document", ""},
	}

	// Cases answered with another code than InvalidArgument. A principal
	// of another organization is well formed, but no grant can reach it:
	// the facade calls that a failed precondition.
	codes := map[string]connect.Code{
		"principal of another organization": connect.CodeFailedPrecondition,
	}

	for _, proto := range protocols {
		for _, tc := range cases {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				ctx := t.Context()
				before, err := f.Service.ReadRelationships(ctx, orgA, "")
				require.NoError(t, err)

				want, ok := codes[tc.name]
				if !ok {
					want = connect.CodeInvalidArgument
				}
				err = tc.call(ctx, f.as(adminA, proto.opts))
				ce := requireCode(t, want, err)
				md := errorInfo(t, err).GetMetadata()
				require.Equal(t, tc.field, md["field"])
				if tc.value != "" {
					require.Equal(t, tc.value, md["value"])
				}
				require.NotEmpty(t, md["fix"])
				require.Contains(t, ce.Message(), tc.field)
				require.Contains(t, ce.Message(), md["fix"])

				after, err := f.Service.ReadRelationships(ctx, orgA, "")
				require.NoError(t, err)
				require.Equal(t, before, after, "a bad request wrote")
			})
		}
	}
}
