// Command gen writes a generated organization to files, so that anyone
// can reproduce a benchmark run or load the organization into their own
// SpiceDB:
//
//	go run ./internal/bench/cmd/gen -users 100000 -seed 1 -out /tmp/org
//
// With -import HOST:PORT it also loads the organization into that
// SpiceDB (on loopback; its preshared key in BENCH_SPICEDB_KEY): the
// schema, the bulk import of relationships.csv, then the facade writes
// of facade.yaml. `iamd serve --spicedb-endpoint` on that SpiceDB then
// serves the organization, and checks.csv drives `iamctl bench`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gpucloud/iam/internal/bench"
	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
)

// envKey holds the preshared key of the SpiceDB -import loads.
const envKey = "BENCH_SPICEDB_KEY"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
}

func run() error {
	var spec bench.Spec
	var out, importAddr string
	flag.IntVar(&spec.Users, "users", 1000, "users of the organization")
	flag.Uint64Var(&spec.Seed, "seed", 1, "generator seed")
	flag.IntVar(&spec.Memberships, "memberships", 0, "mean teams per user (0: 9)")
	flag.IntVar(&spec.Policies, "policies", 0, "policies (0: 20 + users/500)")
	flag.IntVar(&spec.Checks, "checks", 0, "distinct checks (0: 10000)")
	flag.StringVar(&out, "out", "", "directory to write the files into")
	flag.StringVar(&importAddr, "import", "",
		"also load into the SpiceDB at this loopback host:port")
	flag.Parse()
	if out == "" {
		return errors.New("-out DIR is required: the directory to write into")
	}

	org, err := bench.Generate(spec)
	if err != nil {
		return err
	}
	m, err := org.WriteFiles(out)
	if err != nil {
		return err
	}
	summary, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(summary))

	if importAddr == "" {
		return nil
	}
	return load(org, importAddr)
}

// load writes the organization into a SpiceDB on loopback.
func load(org *bench.Org, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-import %q: write it host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-import %s: only a loopback SpiceDB is loaded; "+
			"the key travels in clear text", addr)
	}
	key := os.Getenv(envKey)
	if key == "" {
		return errors.New("-import needs the SpiceDB preshared key in " + envKey)
	}

	client, err := workload.DialSpiceDB(addr, key)
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	eng := &engine.Engine{
		PermissionsServiceClient: client.PermissionsServiceClient,
		SchemaServiceClient:      client.SchemaServiceClient,
		WatchServiceClient:       client.WatchServiceClient,
	}
	if err := eng.WriteSchema(ctx); err != nil {
		return err
	}
	res, err := bench.Load(ctx, iam.New(client), client, org, false)
	if err != nil {
		return err
	}
	fmt.Printf("imported %d relationships in %s (%.0f/s); %d policies applied\n",
		res.Import.Relationships, res.Import.Duration.Round(time.Millisecond),
		res.Import.Rate(), len(res.PolicyApply))
	return nil
}
