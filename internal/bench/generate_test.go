package bench

import (
	"context"
	"sort"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

func TestGenerateIsDeterministic(t *testing.T) {
	a, err := Generate(Spec{Users: 500, Seed: 7})
	require.NoError(t, err)
	b, err := Generate(Spec{Users: 500, Seed: 7})
	require.NoError(t, err)
	c, err := Generate(Spec{Users: 500, Seed: 8})
	require.NoError(t, err)

	require.Equal(t, a, b)
	require.NotEqual(t, a.Groups, c.Groups)
	require.NotEqual(t, a.ID, c.ID)
}

func TestGenerateShape(t *testing.T) {
	cases := []struct {
		users, policies, minRelsPerUser int
	}{
		{users: 1, policies: 20},
		{users: 1000, policies: 22, minRelsPerUser: 5},
		{users: 10000, policies: 40, minRelsPerUser: 9},
	}
	for _, tc := range cases {
		o, err := Generate(Spec{Users: tc.users, Seed: 1})
		require.NoError(t, err)

		require.Len(t, o.Users, tc.users)
		require.Len(t, o.Policies, tc.policies)
		require.GreaterOrEqual(t, len(o.BulkRelationships()),
			tc.minRelsPerUser*tc.users)
		require.NotEmpty(t, o.Checks)

		// The document is valid and nests at most GroupLevels deep.
		_, err = bootstrap.Parse(mustYAML(t, o.Document()))
		require.NoError(t, err)
		require.LessOrEqual(t, nestingDepth(o), GroupLevels)
		for _, p := range o.Policies {
			require.NotEmpty(t, p.Rules)
		}
	}
}

func TestSpecRejectsBadInput(t *testing.T) {
	for _, spec := range []Spec{
		{Users: 0},
		{Users: 10, Memberships: -1},
		{Users: 10, Policies: -3},
		{Users: 10, Checks: -1},
	} {
		_, err := Generate(spec)
		require.Error(t, err, "%+v", spec)
	}
}

// TestBulkMatchesFacade loads one organization through the organization
// file (the facade, one write at a time) and through Load (the bulk
// import plus the facade for policies), and requires the same
// relationships, etags and timestamps aside.
func TestBulkMatchesFacade(t *testing.T) {
	ctx := context.Background()
	o, err := Generate(Spec{Users: 120, Seed: 3, Policies: 6})
	require.NoError(t, err)

	viaFile := iamtest.NewEngine(t)
	doc, err := bootstrap.Parse(mustYAML(t, o.Document()))
	require.NoError(t, err)
	svc := iam.New(viaFile)
	plan, err := bootstrap.Plan(ctx, svc, doc)
	require.NoError(t, err)
	_, err = plan.Apply(ctx, svc)
	require.NoError(t, err)

	viaBulk := iamtest.NewEngine(t)
	_, err = Load(ctx, iam.New(viaBulk), viaBulk, o, false)
	require.NoError(t, err)

	require.Equal(t, relationshipsOf(t, viaFile), relationshipsOf(t, viaBulk))
}

// relationshipsOf reads every relationship but the etag-bearing ones,
// as sorted strings.
func relationshipsOf(t *testing.T, e *engine.Engine) []string {
	t.Helper()
	var out []string
	for _, typ := range []string{"organization", "group", "policy", "rule"} {
		stream, err := e.ReadRelationships(context.Background(),
			&v1.ReadRelationshipsRequest{
				Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{
					FullyConsistent: true,
				}},
				RelationshipFilter: &v1.RelationshipFilter{ResourceType: typ},
			})
		require.NoError(t, err)
		for {
			resp, err := stream.Recv()
			if err != nil {
				break
			}
			r := resp.GetRelationship()
			if r.GetSubject().GetObject().GetObjectType() == "policy_version" {
				continue
			}
			out = append(out, strings.Join([]string{
				r.GetResource().GetObjectType(), r.GetResource().GetObjectId(),
				r.GetRelation(), r.GetSubject().GetObject().GetObjectType(),
				r.GetSubject().GetObject().GetObjectId(),
				r.GetSubject().GetOptionalRelation(),
			}, " "))
		}
	}
	sort.Strings(out)
	require.NotEmpty(t, out)
	return out
}

// nestingDepth is the longest chain of groups, counting the team.
func nestingDepth(o *Org) int {
	children := map[string][]string{}
	for _, g := range o.Groups {
		for _, m := range g.Members {
			if name, ok := strings.CutPrefix(m, "group:"); ok {
				children[g.Name] = append(children[g.Name], name)
			}
		}
	}
	var depth func(string) int
	depth = func(name string) int {
		d := 0
		for _, c := range children[name] {
			d = max(d, depth(c))
		}
		return d + 1
	}
	deepest := 0
	for _, g := range o.Groups {
		deepest = max(deepest, depth(g.Name))
	}
	return deepest
}

func mustYAML(t *testing.T, doc *bootstrap.Document) []byte {
	t.Helper()
	data, err := yaml.Marshal(doc)
	require.NoError(t, err)
	return data
}
