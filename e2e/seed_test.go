package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/catalog"
)

// The seed example and its expected answers. The answers are the ones
// the facade's own tests hold the embedded and remote engines to, so
// the suite asks the deployed service the very same questions.
const (
	seedExamplePath = "../deploy/examples/seed-example.yaml"
	seedChecksPath  = "../internal/iam/testdata/seed-checks.yaml"
)

// seedCases is the file at seedChecksPath.
type seedCases struct {
	// RolesHeld lists, per principal and organization, exactly the
	// roles it holds.
	RolesHeld []struct {
		Org       string   `yaml:"org"`
		Principal string   `yaml:"principal"`
		Roles     []string `yaml:"roles"`
	} `yaml:"roles_held"`

	// Checks are single checks in the words of the platform's page.
	Checks []struct {
		Org       string `yaml:"org"`
		Principal string `yaml:"principal"`
		Action    string `yaml:"action"`
		Role      string `yaml:"role"`
		Allowed   bool   `yaml:"allowed"`
	} `yaml:"checks"`
}

// readSeed returns the seed example and its cases.
func readSeed(t *testing.T) ([]byte, seedCases) {
	t.Helper()

	doc, err := os.ReadFile(seedExamplePath)
	require.NoError(t, err)

	raw, err := os.ReadFile(seedChecksPath)
	require.NoError(t, err)

	var cases seedCases
	require.NoError(t, yaml.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases.RolesHeld)
	require.NotEmpty(t, cases.Checks)

	return doc, cases
}

// checkSeed asks client every question of cases, at least as fresh as
// token, and returns the first wrong answer or failed call. Each
// principal's roles and actions go in one CheckBulk call.
func checkSeed(
	ctx context.Context,
	client iamv1connect.IAMServiceClient,
	cases seedCases,
	token string,
) error {
	for _, c := range cases.RolesHeld {
		var (
			checks []*iamv1.CheckRequest
			want   []bool
		)

		for _, role := range catalog.Roles() {
			checks = append(checks, &iamv1.CheckRequest{
				OrganizationId:   c.Org,
				Principal:        c.Principal,
				Role:             role.ID,
				ConsistencyToken: token,
			})
			want = append(want, slices.Contains(c.Roles, role.ID))
		}

		for _, action := range catalog.Actions() {
			granted := false
			for _, role := range c.Roles {
				granted = granted || catalog.Grants(role, action)
			}

			checks = append(checks, &iamv1.CheckRequest{
				OrganizationId:   c.Org,
				Principal:        c.Principal,
				Action:           action,
				ConsistencyToken: token,
			})
			want = append(want, granted)
		}

		resp, err := client.CheckBulk(ctx, connect.NewRequest(
			&iamv1.CheckBulkRequest{Checks: checks}))
		if err != nil {
			return fmt.Errorf("checks of %s in %s: %w",
				c.Principal, c.Org, err)
		}

		got := resp.Msg.GetAllowed()
		if len(got) != len(want) {
			return fmt.Errorf("checks of %s in %s: %d answers "+
				"for %d checks", c.Principal, c.Org, len(got), len(want))
		}

		for i := range want {
			if got[i] != want[i] {
				return fmt.Errorf("%s in %s, role %q action %q: "+
					"allowed %t, want %t", c.Principal, c.Org,
					checks[i].GetRole(), checks[i].GetAction(),
					got[i], want[i])
			}
		}
	}

	for _, c := range cases.Checks {
		resp, err := client.Check(ctx, connect.NewRequest(
			&iamv1.CheckRequest{
				OrganizationId:   c.Org,
				Principal:        c.Principal,
				Action:           c.Action,
				Role:             c.Role,
				ConsistencyToken: token,
			}))
		if err != nil {
			return fmt.Errorf("check %+v: %w", c, err)
		}

		if resp.Msg.GetAllowed() != c.Allowed {
			return fmt.Errorf("check %+v: allowed %t",
				c, resp.Msg.GetAllowed())
		}

		if resp.Msg.GetConsistencyToken() == "" {
			return fmt.Errorf("check %+v: no consistency token", c)
		}
	}

	return nil
}
