package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/cli"
)

// committed is where the generated files live in the repository.
var committed = filepath.Join("..", "..", "..",
	"deploy", "examples", "large-org")

func TestCommittedFilesMatchTheGenerator(t *testing.T) {
	generated := files(build())
	require.Len(t, generated, 2)

	for name, want := range generated {
		got, err := os.ReadFile(filepath.Join(committed, name))
		require.NoError(t, err)
		if line := firstDifference(string(want), string(got)); line > 0 {
			t.Fatalf("%s is stale from line %d: run "+
				"`go generate ./internal/cli/examplegen`", name, line)
		}
	}
	require.Equal(t, generated, files(build()), "the output is not stable")
}

func TestDocumentIsTheModel(t *testing.T) {
	m := build()
	doc, err := bootstrap.Parse(m.yaml())
	require.NoError(t, err)
	require.Equal(t, m.document(), doc)

	org := doc.Organizations[0]
	require.Len(t, org.Members, 303)
	require.Len(t, org.Groups, 31)
	require.Len(t, org.Policies, 10)

	// Departments hold teams, teams hold users: one level of nesting.
	teams := map[string]bool{}
	for _, g := range org.Groups {
		if strings.HasPrefix(g.Members[0], "group:") {
			for _, m := range g.Members {
				teams[strings.TrimPrefix(m, "group:")] = true
			}
		}
	}
	require.Len(t, teams, 25)
	for _, g := range org.Groups {
		if teams[g.Name] {
			require.NotContains(t, strings.Join(g.Members, " "), "group:")
		}
	}

	// The policies use every role of the catalog.
	used := map[string]bool{}
	for _, p := range org.Policies {
		for _, r := range p.Rules {
			for _, name := range r.Roles {
				role, err := catalog.LookupRole("role", name)
				require.NoError(t, err)
				used[role.ID] = true
			}
		}
	}
	require.Len(t, used, len(catalog.Roles()))
}

// document is the model as the bootstrap package reads it.
func (m *model) document() *bootstrap.Document {
	org := bootstrap.Organization{
		ID:           orgID,
		FirstUser:    m.firstUser,
		Members:      m.members,
		LegacyGroups: map[string][]string{"admin": m.admins},
	}
	for _, g := range m.groups {
		org.Groups = append(org.Groups, bootstrap.Group{
			Name: g.name, Members: g.members,
		})
	}
	for _, p := range m.policies {
		bp := bootstrap.Policy{ID: p.id, Description: p.description}
		for _, r := range p.rules {
			bp.Rules = append(bp.Rules, bootstrap.Rule{
				Principals: r.principals, Roles: r.roles,
			})
		}
		org.Policies = append(org.Policies, bp)
	}
	return &bootstrap.Document{
		Organizations: []bootstrap.Organization{org},
	}
}

func TestExportIsAValidImport(t *testing.T) {
	m := build()
	members := map[string]bool{}
	for _, p := range m.members {
		members[p] = true
	}

	emails := map[string]bool{}
	for _, a := range m.export {
		require.True(t, members["user:"+a.email], a.email)
		emails[a.email] = true
	}
	require.InDelta(t, 250, len(emails), 5)
	require.True(t, slices.IsSortedFunc(m.export,
		func(a, b assignment) int {
			return strings.Compare(a.email+","+a.group,
				b.email+","+b.group)
		}))
}

// firstDifference returns the first line, from 1, where a and b differ,
// or 0 if they are equal.
func firstDifference(a, b string) int {
	if a == b {
		return 0
	}
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestImportDryRunAgainstTheAppliedOrganization applies the file to a
// server and dry-runs the export against it: every row is a legacy
// assignment to add, except the admins', which the file already made.
func TestImportDryRunAgainstTheAppliedOrganization(t *testing.T) {
	srv := apitest.NewServer(t)
	iamctl := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := cli.Run(t.Context(), args, cli.Env{
			Stdout: &out,
			Stderr: &errOut,
			Getenv: func(k string) string {
				return map[string]string{
					cli.EnvServer: srv.URL,
					cli.EnvToken:  srv.OperatorToken,
				}[k]
			},
		})
		return code, out.String(), errOut.String()
	}
	yamlPath := filepath.Join(committed, documentFile)
	csvPath := filepath.Join(committed, csvFile)

	code, out, errOut := iamctl("--timeout", "5m", "apply", "-f", yamlPath)
	require.Equal(t, cli.ExitOK, code, errOut)
	require.Contains(t, out, "+ organization c0ffee")
	require.Contains(t, out, "+ policy c0ffee/alerting (2 rules)")

	code, out, errOut = iamctl("legacy", "import", "--org", orgID,
		"-f", csvPath, "--dry-run")
	require.Equal(t, cli.ExitOK, code, errOut)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	plan, summary := lines[:len(lines)-1], lines[len(lines)-1]
	rows := len(build().export)
	require.Equal(t, rows-2, len(plan), "plan lines")
	for _, line := range plan {
		require.True(t, strings.HasPrefix(line, "+ legacy "), line)
	}
	require.Equal(t, "dry run: "+strconv.Itoa(rows-2)+
		" changes planned, nothing written", summary)

	// Nothing was written: the legacy read group is still empty.
	p, err := srv.Service.GetPolicy(t.Context(), orgID, "legacy-read", "")
	require.NoError(t, err)
	for _, r := range p.Rules {
		require.Empty(t, r.Principals)
	}
}
