package cli

import (
	"context"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) getCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Show one policy or group",
	}
	cmd.AddCommand(a.getPolicyCommand(), a.getGroupCommand())
	return cmd
}

func (a *app) getPolicyCommand() *cobra.Command {
	var token string

	cmd := &cobra.Command{
		Use:   "policy ORG ID",
		Short: "Show a policy with its rules and etag",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.GetPolicyRequest{
				OrganizationId:   args[0],
				PolicyId:         args[1],
				ConsistencyToken: token,
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.GetPolicy(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					policyTable(t, resp.Msg.GetPolicy())
				})
			})
		},
	}
	cmd.Flags().StringVar(&token, "consistency-token", "",
		"read at least as fresh as this token from a write")
	return cmd
}

// policyTable shows a policy's fields, then one row per principal of
// each rule, the rule's roles on its first row.
func policyTable(t *table, p *iamv1.Policy) {
	t.row("policy:", p.GetOrganizationId()+"/"+p.GetPolicyId())
	t.row("description:", orDash(p.GetDescription()))
	t.row("default:", yesNo(p.GetDefault()))
	t.row("created:", timestamp(p.GetCreateTime().AsTime()))
	t.row("etag:", orDash(p.GetEtag()))
	t.row("")

	if len(p.GetRules()) == 0 {
		t.row("(no rules)")
		return
	}
	t.row("RULE", "PRINCIPAL", "ROLES")
	for i, r := range p.GetRules() {
		n := strconv.Itoa(i + 1)
		principals := r.GetPrincipals()
		if len(principals) == 0 {
			principals = []string{"-"}
		}
		for j, who := range principals {
			roles := ""
			if j == 0 {
				roles = list(r.GetRoles())
			}
			t.row(n, who, roles)
		}
	}
}

func (a *app) getGroupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "group ORG NAME",
		Short: "Show a group and its direct members",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.GetGroupRequest{
				OrganizationId: args[0],
				Name:           args[1],
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.GetGroup(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					groupTable(t, resp.Msg.GetGroup())
				})
			})
		},
	}
}

func groupTable(t *table, g *iamv1.Group) {
	t.row("group:", g.GetOrganizationId()+"/"+g.GetName())
	t.row("")

	if len(g.GetMembers()) == 0 {
		t.row("(no members)")
		return
	}
	t.row("MEMBER")
	for _, m := range g.GetMembers() {
		t.row(m)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// timestamp shows a time in UTC; the zero time (no value) as "-".
func timestamp(ts time.Time) string {
	if ts.IsZero() || ts.Unix() == 0 {
		return "-"
	}
	return ts.UTC().Format(time.RFC3339)
}
