package cli

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func (a *app) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint bearer tokens (operator only)",
	}
	cmd.AddCommand(a.tokenMintCommand())
	return cmd
}

func (a *app) tokenMintCommand() *cobra.Command {
	var ttl time.Duration

	cmd := &cobra.Command{
		Use:   "mint PRINCIPAL",
		Short: "Mint a signed bearer token for a principal",
		Long: "token mint asks the server for a token for a principal. " +
			"The table form prints the token alone, for " +
			"IAMCTL_TOKEN=$(iamctl token mint ...); -o json adds its " +
			"expiry. Treat the output as a secret.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seconds, err := ttlSeconds(ttl)
			if err != nil {
				return err
			}
			req := &iamv1.MintTokenRequest{
				Principal:  args[0],
				TtlSeconds: seconds,
			}
			return a.call(cmd, func(ctx context.Context, c api) error {
				resp, err := c.MintToken(ctx, connect.NewRequest(req))
				if err != nil {
					return err
				}
				return a.print(resp.Msg, func(t *table) {
					t.row(resp.Msg.GetToken())
				})
			})
		},
	}
	cmd.Flags().DurationVar(&ttl, "ttl", 0,
		"lifetime, e.g. 8h; the server's default (1h) when unset, "+
			"at most 720h")
	return cmd
}

// ttlSeconds converts --ttl to whole seconds; the server enforces the
// upper bound.
func ttlSeconds(ttl time.Duration) (int64, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("--ttl %q: must be positive; "+
			"give a duration such as 8h", ttl)
	case ttl > 0 && ttl < time.Second:
		return 0, fmt.Errorf("--ttl %q: shorter than a second; "+
			"give a duration such as 10m", ttl)
	case ttl%time.Second != 0:
		return 0, fmt.Errorf("--ttl %q: not a whole number of "+
			"seconds; round it, e.g. to %s", ttl, ttl.Round(time.Second))
	}
	return int64(ttl / time.Second), nil
}
