package cli

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/bootstrap"
)

const importOrgID = "ab1cd2"

// importServer starts a server with one organization in which
// old@example.com is a member in the legacy read group.
func importServer(t *testing.T) *apitest.Server {
	t.Helper()
	srv := apitest.NewServer(t)
	ctx := t.Context()

	_, err := srv.Service.CreateOrganization(ctx, importOrgID,
		"user:admin@example.com")
	require.NoError(t, err)
	_, err = srv.Service.AddMember(ctx, importOrgID, "user:old@example.com")
	require.NoError(t, err)
	_, err = srv.Service.AssignLegacyGroup(ctx, importOrgID, "read",
		"user:old@example.com")
	require.NoError(t, err)
	return srv
}

// legacyPrincipalsOf reads a legacy group's principals from the service.
func legacyPrincipalsOf(t *testing.T, srv *apitest.Server, group string) []string {
	t.Helper()
	p, err := srv.Service.GetPolicy(t.Context(), importOrgID,
		"legacy-"+group, "")
	require.NoError(t, err)

	var out []string
	for _, r := range p.Rules {
		out = append(out, r.Principals...)
	}
	return sortedUnique(out)
}

// relationships is the organization's whole state, to prove a refused
// import wrote nothing.
func relationships(t *testing.T, srv *apitest.Server) []string {
	t.Helper()
	rels, err := srv.Service.ReadRelationships(t.Context(), importOrgID, "")
	require.NoError(t, err)
	return rels
}

const importCSV = "email,legacy_group\n" +
	"old@example.com,billing_viewer\n" +
	"new1@example.com,read\n" +
	"new2@example.com,read\n" +
	"new1@example.com,metrics\n"

func TestLegacyImport(t *testing.T) {
	srv := importServer(t)
	op := srv.OperatorToken
	file := writeFile(t, "export.csv", importCSV)
	before := relationships(t, srv)

	// The dry run shows only additions and writes nothing.
	dry := iamctl(t, srv.URL, op, "legacy", "import",
		"--org", importOrgID, "-f", file, "--dry-run")
	dry.expect(t, ExitOK,
		"+ member ab1cd2 user:new1@example.com\n",
		"+ member ab1cd2 user:new2@example.com\n",
		"+ legacy billing_viewer ab1cd2 user:old@example.com\n",
		"+ legacy metrics ab1cd2 user:new1@example.com\n",
		"+ legacy read ab1cd2 user:new1@example.com\n",
		"+ legacy read ab1cd2 user:new2@example.com\n",
		"dry run: 6 changes planned, nothing written\n")
	require.NotContains(t, dry.stdout, "- ")
	require.NotContains(t, dry.stdout, "member ab1cd2 user:old")
	require.Equal(t, before, relationships(t, srv))

	// The real import adds, and keeps the principals already there.
	iamctl(t, srv.URL, op, "legacy", "import",
		"--org", importOrgID, "-f", file).
		expect(t, ExitOK, "applied 6 changes")
	require.Equal(t, []string{
		"user:new1@example.com",
		"user:new2@example.com",
		"user:old@example.com",
	}, legacyPrincipalsOf(t, srv, "read"))
	require.Equal(t, []string{"user:new1@example.com"},
		legacyPrincipalsOf(t, srv, "metrics"))
	require.Equal(t, []string{"user:admin@example.com"},
		legacyPrincipalsOf(t, srv, "admin"))

	iamctl(t, srv.URL, op, "check", "--org", importOrgID,
		"--principal", "user:new2@example.com",
		"--action", "iam.users.list").
		expect(t, ExitOK, "allowed")

	// Importing the same file again changes nothing.
	iamctlIn(t, srv.URL, op, importCSV, "legacy", "import",
		"--org", importOrgID, "-f", "-").
		expect(t, ExitOK, "no changes")
}

func TestLegacyImportRefusesBadInputWithoutWriting(t *testing.T) {
	srv := importServer(t)
	op := srv.OperatorToken
	before := relationships(t, srv)

	tests := []struct {
		name string
		org  string
		csv  string
		want []string
	}{
		{
			name: "bad rows",
			org:  importOrgID,
			csv: "email,legacy_group\n" +
				"new1@example.com,read\n" +
				"new2@example.com,wirte\n" +
				"new3@,read\n" +
				"new1@example.com,read\n",
			want: []string{
				"3 problems, nothing was written",
				`line 3, column 2 (legacy_group) "wirte"`,
				`line 4, column 1 (email) "new3@"`,
				`line 5, column 1 (email) "new1@example.com": ` +
					"duplicate of line 2",
			},
		},
		{
			name: "unknown organization",
			org:  "fff000",
			csv:  importCSV,
			want: []string{"organization fff000 does not exist", "invalid_argument"},
		},
		{
			name: "no organization",
			org:  "",
			csv:  importCSV,
			want: []string{"--org: the organization ID is empty"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "export.csv", tt.csv)
			for _, dry := range []string{"--dry-run=true", "--dry-run=false"} {
				r := iamctl(t, srv.URL, op, "legacy", "import",
					"--org", tt.org, "-f", file, dry)
				r.expect(t, ExitError, tt.want...)
			}
			require.Equal(t, before, relationships(t, srv))
		})
	}
}

// TestLegacyImportKeepsConcurrentAssignments: an assignment that lands
// after the import built its document survives the import, because an
// import only adds.
func TestLegacyImportKeepsConcurrentAssignments(t *testing.T) {
	srv := importServer(t)
	ctx := t.Context()
	rows, err := parseLegacyCSV("in.csv", []byte(importCSV))
	require.NoError(t, err)
	doc, err := importDocument(importOrgID, rows)
	require.NoError(t, err)

	_, err = srv.Service.AddMember(ctx, importOrgID, "user:late@example.com")
	require.NoError(t, err)
	_, err = srv.Service.AssignLegacyGroup(ctx, importOrgID, "read", "user:late@example.com")
	require.NoError(t, err)

	resp, err := srv.Client().Apply(ctx, connect.NewRequest(
		&iamv1.ApplyRequest{Document: doc}))
	require.NoError(t, err)
	require.Empty(t, notAdditions(resp.Msg.GetPlan()))

	p, err := srv.Service.GetPolicy(ctx, importOrgID, "legacy-read", "")
	require.NoError(t, err)
	require.Contains(t, p.Rules[0].Principals, "user:late@example.com")
	require.Contains(t, p.Rules[0].Principals, "user:new2@example.com")
}

// TestImportDocumentIsTheBootstrapFormat proves the document the import
// builds is what the server parses, with the expected content.
func TestImportDocumentIsTheBootstrapFormat(t *testing.T) {
	rows, err := parseLegacyCSV("in.csv", []byte(importCSV))
	require.NoError(t, err)

	doc, err := importDocument(importOrgID, rows)
	require.NoError(t, err)

	parsed, err := bootstrap.Parse([]byte(doc))
	require.NoError(t, err)
	require.Equal(t, &bootstrap.Document{
		Organizations: []bootstrap.Organization{{
			ID: importOrgID,
			Members: []string{
				"user:new1@example.com",
				"user:new2@example.com",
				"user:old@example.com",
			},
			LegacyAdditions: map[string][]string{
				"billing_viewer": {"user:old@example.com"},
				"metrics":        {"user:new1@example.com"},
				"read": {
					"user:new1@example.com",
					"user:new2@example.com",
				},
			},
		}},
	}, parsed)
	require.False(t, strings.Contains(doc, "first_user"))
}
