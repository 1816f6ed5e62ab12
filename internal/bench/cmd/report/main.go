// Command report generates an organization, loads it into SpiceDB twice
// (the embedded engine and a loopback server) or once into PostgreSQL,
// measures every check path at one concurrency and prints the table
// BENCHMARKS.md quotes, with the ratios against raw SpiceDB.
//
//	go run ./internal/bench/cmd/report -users 10000 -seed 1
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/gpucloud/iam/internal/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(2)
	}
}

func run() error {
	var (
		spec     bench.Spec
		lim      bench.Limits
		cfg      bench.RunConfig
		jsonPath string
		timeout  time.Duration
	)
	flag.IntVar(&spec.Users, "users", 1000, "users of the generated organization")
	flag.Uint64Var(&spec.Seed, "seed", 1, "generator seed")
	flag.IntVar(&spec.Policies, "policies", 0, "policies (0: 20 + users/500)")
	flag.IntVar(&spec.Checks, "checks", 0, "distinct checks generated (0: 10000)")
	flag.IntVar(&cfg.WorkingSet, "working-set", 1000,
		"distinct checks the workload cycles through (0: all)")
	flag.IntVar(&lim.Concurrency, "concurrency", 8, "concurrent callers, every path")
	flag.IntVar(&lim.Requests, "requests", 200000, "most checks per path")
	flag.DurationVar(&lim.Duration, "duration", 10*time.Second, "longest time per path")
	flag.BoolVar(&cfg.Network, "network", true, "also measure iamd's API over loopback")
	flag.BoolVar(&cfg.Env.MeasureHeap, "heap", true,
		"measure the heap across each import (memory datastore)")
	flag.StringVar(&cfg.Env.PostgresURI, "postgres", "",
		"PostgreSQL URI: both SpiceDBs share it instead of memory datastores")
	flag.StringVar(&jsonPath, "json", "", "also write the report as JSON to this file")
	flag.DurationVar(&timeout, "timeout", 30*time.Minute, "limit for the whole run")
	flag.Parse()

	cfg.Env.Spec = spec
	cfg.Env.Log = os.Stderr
	cfg.Limits = lim

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := rep.WriteText(os.Stdout); err != nil {
		return err
	}
	if jsonPath == "" {
		return nil
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(jsonPath, append(data, '\n'), 0o644)
}
