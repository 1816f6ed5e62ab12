package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) rolesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "roles",
		Short: "Show the role catalog and the legacy groups",
		Long: "roles shows every role the server knows with the roles " +
			"it includes and every console action it grants (its " +
			"included roles' actions too), then the legacy groups " +
			"with their default policies and roles.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &iamv1.ListRolesRequest{}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.ListRoles(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					rolesTable(t, resp.Msg)
				})
			})
		},
	}
}

func rolesTable(t *table, r *iamv1.ListRolesResponse) {
	t.row("ROLE", "ID", "INCLUDES", "ACTIONS")
	for _, role := range r.GetRoles() {
		t.row(
			role.GetName(),
			role.GetId(),
			list(role.GetIncludes()),
			list(role.GetActions()),
		)
	}
	t.row("")

	t.row("LEGACY GROUP", "DEFAULT POLICY", "ROLES")
	for _, g := range r.GetLegacyGroups() {
		t.row(g.GetName(), g.GetDefaultPolicyId(), list(g.GetRoles()))
	}
}
