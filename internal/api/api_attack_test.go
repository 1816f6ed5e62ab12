package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/iam"
)

// TestAttackTokenDoesNotFollowItsPrincipal mints a token for a member of
// organization A, removes the member, and lets organization B take it
// in. The token was issued for A; it must not start working in B.
func TestAttackTokenDoesNotFollowItsPrincipal(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	mover := freshMember(t, f, orgA)
	token := f.Token(t, mover)

	_, err := f.Service.WriteRelationships(ctx, orgA, []iam.RawUpdate{{
		Delete: true, Relationship: "organization:" + orgA + "#member@" + mover,
	}})
	require.NoError(t, err)
	_, err = f.Service.AddMember(ctx, orgB, mover)
	require.NoError(t, err)

	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			c := f.ClientAs(token, proto.opts...)
			_, err := c.WhoAmI(t.Context(), connect.NewRequest(&iamv1.WhoAmIRequest{}))
			requireCode(t, connect.CodeUnauthenticated, err)
		})
	}
}

// TestAttackErrorsDoNotNameAnotherTenant has an administrator of A name
// a principal of B everywhere A's methods take one. Refusing is right;
// saying which organization the principal belongs to tells A about B's
// users, one guess at a time. The principal's own name must not contain
// B's ID, as errors rightly echo the name the caller sent.
func TestAttackErrorsDoNotNameAnotherTenant(t *testing.T) {
	f := newFixture(t)
	group := freshGroup(t, f, orgA)
	c := f.as(adminA, protocols[0].opts)
	memberB := "user:" + name("elsewhere") + "@example.com"
	_, err := f.Service.AddMember(t.Context(), orgB, memberB)
	require.NoError(t, err)

	calls := map[string]func(ctx context.Context) error{
		"AddMember": func(ctx context.Context) error {
			return rpc(ctx, c.AddMember, &iamv1.AddMemberRequest{
				OrganizationId: orgA, Principal: memberB,
			})
		},
		"CreatePolicy": func(ctx context.Context) error {
			return rpc(ctx, c.CreatePolicy, &iamv1.CreatePolicyRequest{
				Policy: &iamv1.Policy{
					OrganizationId: orgA, PolicyId: name("probe"),
					Rules: []*iamv1.Rule{{
						Principals: []string{memberB}, Roles: []string{"CKS Viewer"},
					}},
				},
			})
		},
		"AddGroupMember": func(ctx context.Context) error {
			return rpc(ctx, c.AddGroupMember, &iamv1.AddGroupMemberRequest{
				OrganizationId: orgA, Group: group, Member: memberB,
			})
		},
		"AssignLegacyGroup": func(ctx context.Context) error {
			return rpc(ctx, c.AssignLegacyGroup, &iamv1.AssignLegacyGroupRequest{
				OrganizationId: orgA, LegacyGroup: "read", Principal: memberB,
			})
		},
		"WriteRelationships": func(ctx context.Context) error {
			return rpc(ctx, c.WriteRelationships, &iamv1.WriteRelationshipsRequest{
				OrganizationId: orgA,
				Updates: []*iamv1.RelationshipUpdate{{
					Operation:    iamv1.RelationshipUpdate_OPERATION_TOUCH,
					Relationship: "organization:" + orgA + "#member@" + memberB,
				}},
			})
		},
	}

	for method, call := range calls {
		t.Run(method, func(t *testing.T) {
			err := call(t.Context())
			require.Error(t, err)
			require.NotContains(t, err.Error(), orgB)
			for k, v := range errorInfo(t, err).GetMetadata() {
				require.NotContains(t, v, orgB, "ErrorInfo %s", k)
			}
		})
	}
}

// TestAttackApplyAuthorizesBeforeParsing sends Apply documents from a
// member with no role. Apply parses and validates the whole document
// (up to 4 MiB, role names looked up with suggestions) before it checks
// that the caller may apply anything: an unauthorized caller learns
// what is wrong with its file and makes the server do the work.
func TestAttackApplyAuthorizesBeforeParsing(t *testing.T) {
	f := newFixture(t)
	c := f.as(plainA, protocols[0].opts)

	docs := map[string]string{
		"unparsable": "organizations: [",
		"unknown role": "organizations:\n  - id: " + orgA + "\n" +
			"    policies:\n      - id: p\n        rules:\n" +
			"          - principals: [" + plainA + "]\n" +
			"            roles: [" + strings.Repeat("x", 4<<10) + "]\n",
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) {
			_, err := c.Apply(t.Context(), connect.NewRequest(&iamv1.ApplyRequest{
				Document: doc, DryRun: true,
			}))
			requireCode(t, connect.CodePermissionDenied, err)
		})
	}
}

// TestAttackUnknownJSONFieldsAreRefused sends JSON with a misspelled
// field. Connect's default codec drops unknown fields, so a DeletePolicy
// whose etag is misspelled deletes whatever is stored instead of
// failing on a stale etag.
func TestAttackUnknownJSONFieldsAreRefused(t *testing.T) {
	f := newFixture(t)
	policy := freshPolicy(t, f, orgA)

	body := `{"organization_id":"` + orgA + `","policy_id":"` + policy +
		`","etgs":"0123456789abcdef"}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		f.URL+"/iam.v1.IAMService/DeletePolicy", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.OperatorToken)

	resp, err := f.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", answer)

	_, err = f.Service.GetPolicy(t.Context(), orgA, policy, "")
	require.NoError(t, err, "the refused delete must not delete")
}

// TestAttackErrorInfoSurvivesLongNames sends a group name too long by
// two-byte characters. The facade cuts the echoed value inside a
// character, and the API then drops the ErrorInfo detail without a word.
func TestAttackErrorInfoSurvivesLongNames(t *testing.T) {
	f := newFixture(t)
	long := "a" + strings.Repeat("é", iam.MaxGroupNameLength)

	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			c := f.as(api.OperatorPrincipal, proto.opts)
			err := rpc(t.Context(), c.CreateGroup, &iamv1.CreateGroupRequest{
				OrganizationId: orgA, Name: long,
			})
			requireCode(t, connect.CodeInvalidArgument, err)
			require.Equal(t, "group", errorInfo(t, err).GetMetadata()["field"])
		})
	}
}
