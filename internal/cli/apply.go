package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

// maxDocumentBytes bounds an apply file. It is the server's own limit
// (bootstrap.MaxDocumentSize), checked here so that a too large file
// fails before any call; it is repeated rather than imported to keep
// iamctl a client of the API alone, and a test keeps the two equal.
const maxDocumentBytes = 4 << 20

func (a *app) applyCommand() *cobra.Command {
	var file string
	var dryRun bool

	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply an organization file (the bootstrap format)",
		Long: "apply sends an organization file, YAML or JSON, to the " +
			"server, which makes the organizations match it and " +
			"prints one line per change. With --dry-run the plan is " +
			"printed and nothing is written. -f - reads standard input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			doc, _, err := a.readInput(file)
			if err != nil {
				return err
			}
			return a.apply(cmd, string(doc), dryRun)
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "",
		"organization file to apply (- for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false,
		"print the plan and write nothing")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// readInput reads -f, a file or "-" for standard input, and returns it
// with a name for messages. Files too large to be an organization are
// refused rather than cut.
func (a *app) readInput(file string) ([]byte, string, error) {
	var r io.Reader = a.env.Stdin
	name := "standard input"
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, "", fmt.Errorf("--file: %w", err)
		}
		defer f.Close()
		r, name = f, file
	}

	data, err := io.ReadAll(io.LimitReader(r, maxDocumentBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("--file %q: %w", file, err)
	}
	if len(data) > maxDocumentBytes {
		return nil, "", fmt.Errorf("--file %q: larger than %d MiB; "+
			"split it into several files", file, maxDocumentBytes>>20)
	}
	return data, name, nil
}

// apply sends doc to the Apply method and prints the plan.
func (a *app) apply(cmd *cobra.Command, doc string, dryRun bool) error {
	return a.call(cmd, func(ctx context.Context, c api) error {
		return a.applyWith(ctx, c, doc, dryRun)
	})
}

func (a *app) applyWith(
	ctx context.Context, c api, doc string, dryRun bool,
) error {
	resp, err := c.Apply(ctx, connect.NewRequest(
		&iamv1.ApplyRequest{Document: doc, DryRun: dryRun}))
	if err != nil {
		return err
	}
	return a.print(resp.Msg, func(t *table) {
		planTable(t, resp.Msg, dryRun)
	})
}

// planTable shows the plan lines and a summary saying whether anything
// was written.
func planTable(t *table, r *iamv1.ApplyResponse, dryRun bool) {
	for _, line := range r.GetPlan() {
		t.row(line)
	}

	n := len(r.GetPlan())
	switch {
	case n == 0:
		t.row("no changes")
	case r.GetApplied():
		t.row(fmt.Sprintf("applied %s", plural(n, "change")))
	case dryRun:
		t.row(fmt.Sprintf("dry run: %s planned, nothing written",
			plural(n, "change")))
	default:
		t.row(fmt.Sprintf("%s planned, nothing written",
			plural(n, "change")))
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
