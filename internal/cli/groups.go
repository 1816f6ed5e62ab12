package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Manage group memberships",
	}
	cmd.AddCommand(
		a.groupsAddMemberCommand(),
		a.groupsRemoveMemberCommand(),
	)
	return cmd
}

func (a *app) groupsAddMemberCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add-member ORG GROUP MEMBER",
		Short: "Add a user, service account or group to a group",
		Long: "groups add-member adds a member to a group. A group " +
			"member (group:NAME) nests that group; cycles are refused.",
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.AddGroupMemberRequest{
				OrganizationId: args[0],
				Group:          args[1],
				Member:         args[2],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.AddGroupMember(ctx,
					connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "added %s to group %s/%s",
					args[2], args[0], args[1])
			})
		},
	}
}

func (a *app) groupsRemoveMemberCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "remove-member ORG GROUP MEMBER",
		Short: "Remove a direct member from a group",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.RemoveGroupMemberRequest{
				OrganizationId: args[0],
				Group:          args[1],
				Member:         args[2],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.RemoveGroupMember(ctx,
					connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "removed %s from group %s/%s",
					args[2], args[0], args[1])
			})
		},
	}
}
