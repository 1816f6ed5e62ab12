package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) membersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "members",
		Short: "Manage the members of an organization",
	}
	cmd.AddCommand(a.membersAddCommand())
	return cmd
}

func (a *app) membersAddCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add ORG PRINCIPAL",
		Short: "Add a user or service account to an organization",
		Long: "members add makes a user or service account a member " +
			"of an organization. A member holds no permission until " +
			"a policy or a legacy group names it.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.AddMemberRequest{
				OrganizationId: args[0],
				Principal:      args[1],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.AddMember(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "added %s to organization %s",
					args[1], args[0])
			})
		},
	}
}
