package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) createCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an organization or a group",
	}
	cmd.AddCommand(a.createOrgCommand(), a.createGroupCommand())
	return cmd
}

func (a *app) createOrgCommand() *cobra.Command {
	var firstUser string

	cmd := &cobra.Command{
		Use:     "org ORG --first-user user:ID",
		Aliases: []string{"organization"},
		Short:   "Create an organization (operator only)",
		Long: "create org creates an organization with its five " +
			"default policies. The first user becomes its first " +
			"member and is put in the legacy admin group.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.CreateOrganizationRequest{
				OrganizationId: args[0],
				FirstUser:      firstUser,
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.CreateOrganization(ctx,
					connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "created organization %s "+
					"with first user %s", args[0], firstUser)
			})
		},
	}
	cmd.Flags().StringVar(&firstUser, "first-user", "",
		"the first member, given the legacy admin roles (user:ID)")
	_ = cmd.MarkFlagRequired("first-user")
	return cmd
}

func (a *app) createGroupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "group ORG NAME",
		Short: "Create an empty group",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.CreateGroupRequest{
				OrganizationId: args[0],
				Name:           args[1],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.CreateGroup(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "created group %s/%s",
					args[0], args[1])
			})
		},
	}
}
