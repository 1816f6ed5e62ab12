package cli

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) checkCommand() *cobra.Command {
	req := &iamv1.CheckRequest{}

	cmd := &cobra.Command{
		Use: "check --org ORG --principal user:ID " +
			"(--action ACTION | --role ROLE)",
		Short: "Check a permission; exit 0 if allowed, 1 if denied",
		Long: "check asks whether a principal may perform a console " +
			"action, or holds a role, in an organization. It prints " +
			"allowed or denied and exits 0 when allowed, 1 when " +
			"denied and 2 on any error, so scripts can test it like " +
			"grep. Pass the consistency token of a write to see it.",
		Example: "  iamctl check --org ab1cd2 " +
			"--principal user:a@example.com --action cks.clusters.list",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOneOf(req); err != nil {
				return err
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				return a.check(ctx, c, req)
			})
		},
	}

	f := cmd.Flags()
	f.StringVar(&req.OrganizationId, "org", "", "organization ID")
	f.StringVar(&req.Principal, "principal", "",
		"who: user:ID, serviceaccount:ID or group:NAME")
	f.StringVar(&req.Action, "action", "",
		"console action, e.g. cks.clusters.list")
	f.StringVar(&req.Role, "role", "",
		"role, by name or ID, e.g. \"CKS Admin\"")
	f.StringVar(&req.ConsistencyToken, "consistency-token", "",
		"answer at least as fresh as this token from a write")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("principal")
	return cmd
}

// checkOneOf requires exactly one of --action and --role.
func checkOneOf(req *iamv1.CheckRequest) error {
	switch {
	case req.GetAction() != "" && req.GetRole() != "":
		return errors.New("--action and --role: give only one; " +
			"a check asks about an action or a role, not both")
	case req.GetAction() == "" && req.GetRole() == "":
		return errors.New("--action or --role is required; " +
			"name a console action or a role to check")
	}
	return nil
}

// check prints the decision. A denial is reported to Run as errDenied
// after the answer is printed, so the exit code can differ from an
// error's.
func (a *app) check(
	ctx context.Context, c api, req *iamv1.CheckRequest,
) error {
	resp, err := c.Check(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}

	err = a.print(resp.Msg, func(t *table) {
		t.row(decision(resp.Msg.GetAllowed()))
	})
	if err != nil {
		return err
	}
	if !resp.Msg.GetAllowed() {
		return errDenied
	}
	return nil
}

func decision(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}
