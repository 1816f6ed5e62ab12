package catalog_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/catalog"
)

func TestSeventeenRolesWithSeedNames(t *testing.T) {
	var names []string
	for _, r := range catalog.Roles() {
		names = append(names, r.Name)
		require.NotEmpty(t, r.Description, r.ID)
		require.NotEmpty(t, r.Actions, r.ID)
	}
	require.Equal(t, []string{
		"Access Token Viewer", "Access Token Admin", "IAM Viewer", "IAM Admin",
		"CKS Viewer", "CKS Admin", "Inference Viewer", "Inference Admin",
		"Object Storage Admin", "Billing Viewer", "Observability Viewer",
		"Notifications Viewer", "Notifications Admin", "Integrations Viewer",
		"Integrations Admin", "Support Viewer", "Access Request Approver",
	}, names)
}

func TestEveryAdminIncludesItsViewer(t *testing.T) {
	for _, r := range catalog.Roles() {
		viewer, isAdmin := strings.CutSuffix(r.ID, "-admin")
		if !isAdmin || viewer == "object-storage" {
			continue
		}
		for _, a := range catalog.EffectiveActions(viewer + "-viewer") {
			require.True(t, catalog.Grants(r.ID, a), "%s lacks %s", r.ID, a)
		}
	}
}

func TestLegacyGroupsMatchSeed(t *testing.T) {
	want := map[string][]string{
		"admin": {"iam-admin", "cks-admin", "object-storage-admin",
			"access-token-admin", "access-request-approver"},
		"write":          {"cks-admin", "object-storage-admin", "access-token-admin"},
		"read":           {"iam-viewer", "cks-viewer", "access-token-viewer"},
		"metrics":        {"observability-viewer"},
		"billing_viewer": {"billing-viewer"},
	}
	got := map[string][]string{}
	for _, g := range catalog.LegacyGroups() {
		got[g.Name] = g.Roles
	}
	require.Equal(t, want, got)
}

func TestActionsCoverEveryCapability(t *testing.T) {
	// Each capability the seed's role descriptions name, by resource.
	resources := []string{
		"cks.clusters", "cks.vpcs", "inference.gateways", "inference.deployments",
		"inference.capacityclaims", "objectstorage.buckets", "objectstorage.orgpolicies",
		"objectstorage.bucketpolicies", "objectstorage.accesskeys", "billing.dashboard",
		"billing.balance", "billing.invoices", "observability.metrics",
		"observability.dashboards", "notifications.alerthistory",
		"notifications.deliverystatuses", "notifications.alertconfig",
		"notifications.subscriptions", "integrations.destinations",
		"integrations.credentials", "support.tickets", "accesstoken.tokens",
		"iam.users", "iam.groups", "iam.memberships", "iam.saml", "iam.provisioning",
		"iam.apitokens", "iam.policies", "accessrequests.requests",
	}
	all := strings.Join(catalog.Actions(), " ")
	for _, r := range resources {
		require.Contains(t, all, r+".", "no action on %s", r)
	}
	require.Contains(t, catalog.Actions(), "billing.invoices.download")
	require.Contains(t, catalog.Actions(), "cks.clusters.create")
}

func TestLookupRoleSpellings(t *testing.T) {
	for _, spelling := range []string{
		"CKS Admin", "cks-admin", "cks_admin", "CKS_ADMIN", " cks admin ", "Cks-Admin",
	} {
		r, err := catalog.LookupRole("role", spelling)
		require.NoError(t, err, spelling)
		require.Equal(t, "cks-admin", r.ID)
	}
}

func TestLookupSuggestsClosest(t *testing.T) {
	cases := []struct{ in, want string }{
		{"CKS Admn", `did you mean "cks-admin"`},
		{"billing viewr", `did you mean "billing-viewer"`},
		{"", "a role is required"},
	}
	for _, tc := range cases {
		_, err := catalog.LookupRole("roles[0]", tc.in)
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "roles[0]")
	}

	_, err := catalog.LookupAction("action", "cks.cluster.create")
	require.ErrorContains(t, err, `did you mean "cks.clusters.create"`)
	a, err := catalog.LookupAction("action", "CKS.Clusters.Create")
	require.NoError(t, err)
	require.Equal(t, "cks.clusters.create", a)

	_, err = catalog.LookupLegacyGroup("legacy_group", "billing-viewr")
	require.ErrorContains(t, err, `did you mean "billing_viewer"`)
	g, err := catalog.LookupLegacyGroup("legacy_group", "Billing-Viewer")
	require.NoError(t, err)
	require.Equal(t, "billing_viewer", g.Name)
}

func TestRoleNamesGranting(t *testing.T) {
	cases := map[string][]string{
		"cks.clusters.list":               {"CKS Viewer", "CKS Admin"},
		"cks.clusters.delete":             {"CKS Admin"},
		"billing.invoices.list":           {"Billing Viewer"},
		"no.such.action":                  {},
		"iam.users.permissions":           {"IAM Viewer", "IAM Admin"},
		"accessrequests.requests.approve": {"Access Request Approver"},
	}
	for action, want := range cases {
		require.Equal(t, want, catalog.RoleNamesGranting(action), action)
	}
}

func TestRoleRelationRoundTrip(t *testing.T) {
	for _, r := range catalog.Roles() {
		id, ok := catalog.RoleForRelation(catalog.RoleRelation(r.ID))
		require.True(t, ok)
		require.Equal(t, r.ID, id)
	}
	_, ok := catalog.RoleForRelation("principal")
	require.False(t, ok)
}

// TestReadmeTableIsGenerated keeps the README's catalog table in sync.
func TestReadmeTableIsGenerated(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Contains(t, string(readme), catalog.MarkdownTable(),
		"README.md's role table is stale: run `go generate ./...`")
}
