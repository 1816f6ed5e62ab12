package bootstrap_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/iamtest"
)

func readSeed(t *testing.T) *bootstrap.Document {
	t.Helper()
	data, err := os.ReadFile("../../deploy/examples/seed-example.yaml")
	require.NoError(t, err)
	doc, err := bootstrap.Parse(data)
	require.NoError(t, err)
	return doc
}

func TestApplySeedTwiceChangesNothing(t *testing.T) {
	ctx := t.Context()
	svc := iamtest.NewService(t)
	doc := readSeed(t)
	require.Equal(t, []string{"ab1cd2", "ff00ff"}, doc.OrganizationIDs())

	plan, err := bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	require.False(t, plan.Empty())
	require.Contains(t, plan.Lines(),
		"+ organization ab1cd2 (first user user:legacy-admin@example.com)")
	token, err := plan.Apply(ctx, svc)
	require.NoError(t, err)
	require.NotEmpty(t, token)

	again, err := bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	require.Empty(t, again.Lines())

	d, err := svc.Check(ctx, iam.CheckRequest{
		Org: "ab1cd2", Principal: "user:eng-member@example.com",
		Action: "cks.clusters.list", AtLeastAsFresh: token,
	})
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

func TestPlanShowsDriftAndRestoresIt(t *testing.T) {
	ctx := t.Context()
	svc := iamtest.NewService(t)
	doc := readSeed(t)
	plan, err := bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	_, err = plan.Apply(ctx, svc)
	require.NoError(t, err)

	// Drift: an extra legacy user, a missing group member, a changed rule.
	_, err = svc.AssignLegacyGroup(ctx, "ab1cd2", "read", "user:no-access@example.com")
	require.NoError(t, err)
	_, err = svc.RemoveGroupMember(ctx, "ab1cd2", "engineering", "user:eng-member@example.com")
	require.NoError(t, err)
	_, err = svc.ReplacePolicy(ctx, iam.PolicyInput{
		Org: "ab1cd2", ID: "example-access",
		Description: "The example policy of the IAM Access Policies page.",
		Rules: []iam.Rule{{Principals: []string{"user:user-a@example.com"},
			Roles: []string{"cks-viewer"}}},
	})
	require.NoError(t, err)

	plan, err = bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	lines := strings.Join(plan.Lines(), "\n")
	require.Contains(t, lines, "- legacy read ab1cd2 user:no-access@example.com")
	require.Contains(t, lines, "+ group member ab1cd2/engineering user:eng-member@example.com")
	require.Contains(t, lines, "~ policy ab1cd2/example-access")
	require.Len(t, plan.Lines(), 3)

	_, err = plan.Apply(ctx, svc)
	require.NoError(t, err)
	again, err := bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	require.True(t, again.Empty(), again.Lines())
}

func TestParseRejectsBadDocuments(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty"},
		{"unknown field", "organizations:\n  - id: ab1cd2\n    colour: red\n", "colour"},
		{"duplicate key", "organizations:\n  - id: ab1cd2\n    id: ab1cd3\n", "already defined"},
		{"bad org id", "organizations:\n  - id: AB1CD2\n", "six lowercase hex"},
		{"duplicate org", "organizations:\n  - id: ab1cd2\n  - id: ab1cd2\n", "declared twice"},
		{"unknown role", "organizations:\n  - id: ab1cd2\n    policies:\n      - id: p\n" +
			"        rules:\n          - principals: [user:a]\n            roles: [CKS Admn]\n",
			"did you mean \"cks-admin\""},
		{"bad principal", "organizations:\n  - id: ab1cd2\n    members: [alice]\n", "kind:id"},
		{"group as member", "organizations:\n  - id: ab1cd2\n    members: [group:x]\n", "users and service accounts"},
		{"unknown legacy", "organizations:\n  - id: ab1cd2\n" +
			"    legacy_groups:\n      owner: [user:a]\n", "unknown legacy group"},
		{"reserved policy", "organizations:\n  - id: ab1cd2\n    policies:\n      - id: legacy-x\n", "legacy_groups"},
		// Checked here as the facade checks it, so that a plan never
		// fails halfway on a description the facade refuses.
		{"control character in description", "organizations:\n  - id: ab1cd2\n" +
			"    policies:\n      - id: p\n        description: \"ring \\a\"\n",
			`organizations[0].policies[0].description "ring \a": ` +
				"the description contains the control character U+0007"},
		{"two documents", "organizations:\n  - id: ab1cd2\n---\norganizations: []\n", "several"},
		{"invalid utf8", "organizations:\n  - id: \xff\n", "UTF-8"},
		{"json works too but fields are checked", `{"organizations":[{"id":"ab1cd2","x":1}]}`, "x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bootstrap.Parse([]byte(tc.doc))
			require.Error(t, err)
			require.Equal(t, iamerr.InvalidArgument, iamerr.KindOf(err), err.Error())
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestParseRejectsHugeDocument(t *testing.T) {
	_, err := bootstrap.Parse(make([]byte, bootstrap.MaxDocumentSize+1))
	require.ErrorContains(t, err, "too large")
}

func TestNewOrganizationNeedsFirstUser(t *testing.T) {
	svc := iamtest.NewService(t)
	doc, err := bootstrap.Parse([]byte("organizations:\n  - id: abcdef\n"))
	require.NoError(t, err)
	_, err = bootstrap.Plan(t.Context(), svc, doc)
	require.ErrorContains(t, err, "first_user")
}
