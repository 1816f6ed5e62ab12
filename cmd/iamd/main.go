// Command iamd is the IAM access policy service: it serves the iamd API
// over an embedded or remote SpiceDB.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	// The first signal starts a graceful shutdown; releasing the signals
	// then lets a second one stop iamd at once.
	go func() {
		<-ctx.Done()
		stop()
	}()

	err := newRootCommand(os.Stdout, os.Stderr).ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "iamd:", err)
		os.Exit(1)
	}
}
