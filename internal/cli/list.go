package cli

import (
	"context"
	"strconv"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) listCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List policies, groups, members or organizations",
	}
	cmd.AddCommand(
		a.listPoliciesCommand(),
		a.listGroupsCommand(),
		a.listMembersCommand(),
		a.listOrgsCommand(),
	)
	return cmd
}

func (a *app) listPoliciesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "policies ORG",
		Short: "List an organization's policies, default ones included",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.ListPoliciesRequest{OrganizationId: args[0]}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.ListPolicies(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					policiesTable(t, resp.Msg.GetPolicies())
				})
			})
		},
	}
}

func policiesTable(t *table, policies []*iamv1.Policy) {
	t.row("POLICY", "DEFAULT", "RULES", "PRINCIPALS", "DESCRIPTION")
	for _, p := range policies {
		t.row(
			p.GetPolicyId(),
			yesNo(p.GetDefault()),
			strconv.Itoa(len(p.GetRules())),
			strconv.Itoa(countPrincipals(p)),
			orDash(p.GetDescription()),
		)
	}
}

// countPrincipals counts the distinct principals a policy names.
func countPrincipals(p *iamv1.Policy) int {
	seen := map[string]bool{}
	for _, r := range p.GetRules() {
		for _, who := range r.GetPrincipals() {
			seen[who] = true
		}
	}
	return len(seen)
}

func (a *app) listGroupsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "groups ORG",
		Short: "List an organization's groups",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.ListGroupsRequest{OrganizationId: args[0]}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.ListGroups(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					groupsTable(t, resp.Msg.GetGroups())
				})
			})
		},
	}
}

func groupsTable(t *table, groups []*iamv1.Group) {
	t.row("GROUP", "MEMBERS")
	for _, g := range groups {
		t.row(g.GetName(), strconv.Itoa(len(g.GetMembers())))
	}
}

func (a *app) listMembersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "members ORG",
		Short: "List an organization's users and service accounts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &iamv1.ListMembersRequest{OrganizationId: args[0]}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.ListMembers(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					column(t, "PRINCIPAL", resp.Msg.GetPrincipals())
				})
			})
		},
	}
}

func (a *app) listOrgsCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "orgs",
		Aliases: []string{"organizations"},
		Short:   "List every organization (operator only)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &iamv1.ListOrganizationsRequest{}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.ListOrganizations(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					column(t, "ORGANIZATION", resp.Msg.GetOrganizationIds())
				})
			})
		},
	}
}

// column is a one-column table.
func column(t *table, header string, values []string) {
	t.row(header)
	for _, v := range values {
		t.row(v)
	}
}
