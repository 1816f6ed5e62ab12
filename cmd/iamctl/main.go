// Command iamctl is the command line client of iamd. The commands live
// in internal/cli; this only connects them to the process.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/gpucloud/iam/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Run(ctx, os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}
