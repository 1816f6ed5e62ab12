package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show the caller's principal, groups, roles and actions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &iamv1.WhoAmIRequest{}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.WhoAmI(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					whoamiTable(t, resp.Msg)
				})
			})
		},
	}
}

func whoamiTable(t *table, w *iamv1.WhoAmIResponse) {
	t.row("principal:", w.GetPrincipal())
	t.row("organization:", orDash(w.GetOrganizationId()))
	t.row("operator:", yesNo(w.GetOperator()))
	t.row("groups:", list(w.GetGroups()))
	t.row("roles:", list(w.GetRoles()))

	// Actions get one line each: a user may hold a hundred.
	if len(w.GetActions()) == 0 {
		t.row("actions:", "-")
		return
	}
	for i, action := range w.GetActions() {
		label := ""
		if i == 0 {
			label = "actions:"
		}
		t.row(label, action)
	}
}
