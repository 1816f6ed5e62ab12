package iam_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

// seedCases is testdata/seed-checks.yaml.
type seedCases struct {
	RolesHeld []struct {
		Org       string   `yaml:"org"`
		Principal string   `yaml:"principal"`
		Roles     []string `yaml:"roles"`
	} `yaml:"roles_held"`
	Checks []struct {
		Org       string `yaml:"org"`
		Principal string `yaml:"principal"`
		Action    string `yaml:"action"`
		Role      string `yaml:"role"`
		Allowed   bool   `yaml:"allowed"`
	} `yaml:"checks"`
}

// seededService applies the seed example to a facade over an embedded
// SpiceDB and returns the service and the token of the last write.
func seededService(t *testing.T) (*iam.Service, string) {
	t.Helper()
	return seededOn(t, iam.New(iamtest.NewEngine(t)))
}

// seededOn applies the seed example to svc.
func seededOn(t *testing.T, svc *iam.Service) (*iam.Service, string) {
	t.Helper()

	data, err := os.ReadFile("../../deploy/examples/seed-example.yaml")
	require.NoError(t, err)
	doc, err := bootstrap.Parse(data)
	require.NoError(t, err)
	plan, err := bootstrap.Plan(t.Context(), svc, doc)
	require.NoError(t, err)
	token, err := plan.Apply(t.Context(), svc)
	require.NoError(t, err)
	return svc, token
}

// TestSeedExampleAsData runs the seed cases against every backend: the
// embedded engine and a real SpiceDB server reached over the network.
func TestSeedExampleAsData(t *testing.T) {
	for name, newEngine := range iamtest.Backends {
		t.Run(name, func(t *testing.T) {
			svc, token := seededOn(t, iam.New(newEngine(t)))
			runSeedCases(t, svc, token)
		})
	}
}

func runSeedCases(t *testing.T, svc *iam.Service, token string) {
	ctx := t.Context()

	raw, err := os.ReadFile("testdata/seed-checks.yaml")
	require.NoError(t, err)
	var cases seedCases
	require.NoError(t, yaml.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases.RolesHeld)
	require.NotEmpty(t, cases.Checks)

	for _, c := range cases.RolesHeld {
		t.Run("roles/"+c.Org+"/"+c.Principal, func(t *testing.T) {
			for _, role := range catalog.Roles() {
				want := slices.Contains(c.Roles, role.ID)
				d, err := svc.CheckRole(ctx, c.Org, c.Principal, role.ID, token)
				require.NoError(t, err)
				require.Equal(t, want, d.Allowed, "role %s", role.ID)
			}
			for _, action := range catalog.Actions() {
				want := false
				for _, r := range c.Roles {
					want = want || catalog.Grants(r, action)
				}
				d, err := svc.Check(ctx, iam.CheckRequest{
					Org: c.Org, Principal: c.Principal, Action: action,
					AtLeastAsFresh: token,
				})
				require.NoError(t, err)
				require.Equal(t, want, d.Allowed, "action %s", action)
			}
		})
	}

	for _, c := range cases.Checks {
		name := fmt.Sprintf("check/%s/%s/%s%s", c.Org, c.Principal, c.Action, c.Role)
		t.Run(name, func(t *testing.T) {
			d, err := svc.Check(ctx, iam.CheckRequest{
				Org: c.Org, Principal: c.Principal,
				Action: c.Action, Role: c.Role, AtLeastAsFresh: token,
			})
			require.NoError(t, err)
			require.Equal(t, c.Allowed, d.Allowed)
			require.NotEmpty(t, d.Token)
		})
	}
}

// TestEveryRoleEveryAction gives one user per role exactly that role and
// checks every console action against the catalog, in one bulk call per
// user.
func TestEveryRoleEveryAction(t *testing.T) {
	ctx := t.Context()
	svc := iamtest.NewService(t)
	_, err := svc.CreateOrganization(ctx, "a1b2c3", "user:root@example.com")
	require.NoError(t, err)

	token := ""
	for _, role := range catalog.Roles() {
		who := "user:" + role.ID + "@example.com"
		_, err := svc.AddMember(ctx, "a1b2c3", who)
		require.NoError(t, err)
		w, err := svc.CreatePolicy(ctx, iam.PolicyInput{
			Org: "a1b2c3", ID: "only-" + role.ID,
			Rules: []iam.Rule{{Principals: []string{who}, Roles: []string{role.Name}}},
		})
		require.NoError(t, err)
		token = w.Token
	}

	actions := catalog.Actions()
	for _, role := range catalog.Roles() {
		t.Run(role.ID, func(t *testing.T) {
			who := "user:" + role.ID + "@example.com"
			var reqs []iam.CheckRequest
			for _, a := range actions {
				reqs = append(reqs, iam.CheckRequest{
					Org: "a1b2c3", Principal: who, Action: a, AtLeastAsFresh: token,
				})
			}
			answers, _, err := svc.CheckBulk(ctx, reqs)
			require.NoError(t, err)

			granted := 0
			for i, a := range actions {
				require.Equal(t, catalog.Grants(role.ID, a), answers[i].Allowed,
					"role %s, action %s", role.ID, a)
				if answers[i].Allowed {
					granted++
				}
			}
			require.Equal(t, len(catalog.EffectiveActions(role.ID)), granted)
			require.Positive(t, granted)
		})
	}
}
