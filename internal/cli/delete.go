package cli

import (
	"context"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) deleteCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete",
		Short: "Delete a policy or a group",
	}
	cmd.AddCommand(a.deletePolicyCommand(), a.deleteGroupCommand())
	return cmd
}

func (a *app) deletePolicyCommand() *cobra.Command {
	var etag string

	cmd := &cobra.Command{
		Use:   "policy ORG ID",
		Short: "Delete a policy; default policies cannot be deleted",
		Long: "delete policy deletes a policy and its rules. With " +
			"--etag (from `iamctl get policy`) the delete fails with " +
			"a conflict if the policy changed since it was read.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.DeletePolicyRequest{
				OrganizationId: args[0],
				PolicyId:       args[1],
				Etag:           etag,
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.DeletePolicy(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "deleted policy %s/%s",
					args[0], args[1])
			})
		},
	}
	cmd.Flags().StringVar(&etag, "etag", "",
		"delete only the version with this etag")
	return cmd
}

func (a *app) deleteGroupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "group ORG NAME",
		Short: "Delete a group no policy or group refers to",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.DeleteGroupRequest{
				OrganizationId: args[0],
				Name:           args[1],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.DeleteGroup(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.done(resp.Msg, "deleted group %s/%s",
					args[0], args[1])
			})
		},
	}
}
