package cli

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) legacyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "legacy",
		Short: "Manage legacy group assignments (the default policies)",
		Long: "The five legacy groups (admin, write, read, metrics, " +
			"billing_viewer) are the default policies legacy-<group> " +
			"of every organization; these commands change whom they " +
			"name.",
	}
	cmd.AddCommand(
		a.legacyEditCommand(true),
		a.legacyEditCommand(false),
		a.legacyImportCommand(),
	)
	return cmd
}

func (a *app) legacyEditCommand(assign bool) *cobra.Command {
	use, short, verb := "unassign", "Take a principal out of a legacy group",
		"unassigned %s from legacy group %s of %s"
	if assign {
		use, short, verb = "assign", "Put a principal in a legacy group",
			"assigned %s to legacy group %s of %s"
	}

	return &cobra.Command{
		Use:   use + " ORG LEGACY_GROUP PRINCIPAL",
		Short: short,
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			org, group, who := args[0], args[1], args[2]
			return a.call(cmd, func(ctx context.Context, c api) error {
				msg, err := editLegacy(ctx, c, assign, org, group, who)
				if err != nil {
					return err
				}
				return a.done(msg, verb, who, group, org)
			})
		},
	}
}

// editLegacy calls AssignLegacyGroup or UnassignLegacyGroup.
func editLegacy(
	ctx context.Context, c api, assign bool, org, group, who string,
) (*iamv1.WriteResult, error) {
	if assign {
		resp, err := c.AssignLegacyGroup(ctx, connect.NewRequest(
			&iamv1.AssignLegacyGroupRequest{
				OrganizationId: org,
				LegacyGroup:    group,
				Principal:      who,
			}))
		if err != nil {
			return nil, err
		}
		return resp.Msg.GetResult(), nil
	}

	resp, err := c.UnassignLegacyGroup(ctx, connect.NewRequest(
		&iamv1.UnassignLegacyGroupRequest{
			OrganizationId: org,
			LegacyGroup:    group,
			Principal:      who,
		}))
	if err != nil {
		return nil, err
	}
	return resp.Msg.GetResult(), nil
}

func (a *app) legacyImportCommand() *cobra.Command {
	var org, file string
	var dryRun bool

	cmd := &cobra.Command{
		Use:   "import --org ORG -f FILE.csv",
		Short: "Assign users to legacy groups from a CSV export",
		Long: "legacy import reads a CSV file with the header " +
			"email,legacy_group. Each row makes the user a member of " +
			"the organization if it is not one yet and puts it in " +
			"the legacy group. The whole file is checked first; any " +
			"bad row is reported with its line and column and " +
			"nothing is written.\n\n" +
			"The import only adds: it reads the legacy groups' " +
			"current principals, keeps them, and sends the result " +
			"as an organization file to apply. The plan is checked " +
			"to hold additions only before anything is written; " +
			"--dry-run prints it and stops.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, err := a.readLegacyCSV(file)
			if err != nil {
				return err
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				return a.importLegacy(ctx, c, org, rows, dryRun)
			})
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization ID")
	cmd.Flags().StringVarP(&file, "file", "f", "",
		"CSV file with the header email,legacy_group (- for stdin)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false,
		"print the plan and write nothing")
	_ = cmd.MarkFlagRequired("org")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// readLegacyCSV reads and validates an import file.
func (a *app) readLegacyCSV(file string) ([]legacyRow, error) {
	data, name, err := a.readInput(file)
	if err != nil {
		return nil, err
	}
	return parseLegacyCSV(name, data)
}

// importLegacy applies the import, or with dryRun only plans it. The
// document only adds, so a plan line that does anything else means the
// server and this client disagree on the format: it is reported, never
// applied.
func (a *app) importLegacy(
	ctx context.Context, c api, org string, rows []legacyRow, dryRun bool,
) error {
	doc, err := importDocument(org, rows)
	if err != nil {
		return err
	}

	planned, err := c.Apply(ctx, connect.NewRequest(
		&iamv1.ApplyRequest{Document: doc, DryRun: true}))
	if err != nil {
		return err
	}
	if bad := notAdditions(planned.Msg.GetPlan()); len(bad) > 0 {
		return fmt.Errorf("the import would not only add, so nothing "+
			"was written. Unexpected changes:\n  %s",
			strings.Join(bad, "\n  "))
	}
	if dryRun {
		return a.print(planned.Msg, func(t *table) {
			planTable(t, planned.Msg, true)
		})
	}

	applied, err := c.Apply(ctx, connect.NewRequest(
		&iamv1.ApplyRequest{Document: doc}))
	if err != nil {
		return err
	}
	return a.print(applied.Msg, func(t *table) {
		planTable(t, applied.Msg, false)
	})
}

// notAdditions returns the plan lines that do not add something.
func notAdditions(plan []string) []string {
	var out []string
	for _, line := range plan {
		if !strings.HasPrefix(line, "+ ") {
			out = append(out, line)
		}
	}
	return out
}
