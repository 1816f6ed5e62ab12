package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/api/apitest"
)

// walkthroughChecks are the checks of the README's walkthrough, with the
// answers the platform's page gives.
var walkthroughChecks = []struct {
	org, principal, action, role string
	allowed                      bool
}{
	{"ab1cd2", "user:user-a@example.com", "cks.clusters.create", "", true},
	{"ab1cd2", "user:user-a@example.com", "billing.invoices.list", "", false},
	{"ab1cd2", "user:user-b@example.com", "", "Billing Viewer", true},
	{"ab1cd2", "user:user-b@example.com", "iam.policies.update", "", true},
	{"ab1cd2", "user:eng-member@example.com", "cks.clusters.list", "", true},
	{"ab1cd2", "user:eng-member@example.com", "cks.clusters.create", "", false},
	{"ab1cd2", "user:legacy-admin@example.com", "inference.gateways.list", "", false},
	{"ab1cd2", "user:legacy-admin@example.com", "iam.users.invite", "", true},
	{"ab1cd2", "user:legacy-billing@example.com", "billing.invoices.download", "", true},
	{"ab1cd2", "user:no-access@example.com", "cks.clusters.list", "", false},
	{"ff00ff", "user:user-a@example.com", "cks.clusters.list", "", false},
	{"ff00ff", "user:other-admin@example.org", "iam.policies.create", "", true},
}

// TestReadmeWalkthrough applies the example organization the way the
// README does and runs its checks with iamctl over the Connect protocol
// and over gRPC, and as plain JSON over HTTP as curl would.
func TestReadmeWalkthrough(t *testing.T) {
	srv := apitest.NewServer(t)
	op := srv.OperatorToken
	iamctl(t, srv.URL, op, "apply", "-f",
		"../../deploy/examples/seed-example.yaml").expect(t, ExitOK, "applied")

	for _, protocol := range [][]string{nil, {"--grpc"}} {
		for _, c := range walkthroughChecks {
			args := append([]string{"check", "--org", c.org,
				"--principal", c.principal}, protocol...)
			if c.action != "" {
				args = append(args, "--action", c.action)
			} else {
				args = append(args, "--role", c.role)
			}

			want, code := "denied", ExitDenied
			if c.allowed {
				want, code = "allowed", ExitOK
			}
			iamctl(t, srv.URL, op, args...).expect(t, code, want)
		}
	}

	for _, c := range walkthroughChecks {
		body := `{"organization_id":"` + c.org + `","principal":"` + c.principal +
			`","action":"` + c.action + `","role":"` + c.role + `"}`
		req, err := http.NewRequest(http.MethodPost,
			srv.URL+"/iam.v1.IAMService/Check", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+op)
		req.Header.Set("Content-Type", "application/json")

		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())

		require.Equal(t, http.StatusOK, resp.StatusCode, string(got))
		require.Equal(t, c.allowed, strings.Contains(string(got), `"allowed":true`),
			"%s %s %s%s: %s", c.org, c.principal, c.action, c.role, got)
	}
}
