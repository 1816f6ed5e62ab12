package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/bench/workload"
)

// EnvSpiceDBToken holds the preshared key of the SpiceDB that
// `iamctl bench --spicedb` compares iamd with.
const EnvSpiceDBToken = "IAMCTL_SPICEDB_TOKEN"

// Bounds of `iamctl bench`: a load run always ends by itself.
const (
	maxBenchRequests    = 10_000_000
	maxBenchDuration    = 10 * time.Minute
	maxBenchConcurrency = 256
)

type benchOptions struct {
	checksFile  string
	check       workload.Check
	concurrency int
	requests    int
	duration    time.Duration
	spicedb     string
	allowRemote bool
}

func (a *app) benchCommand() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use: "bench (--checks FILE | --org ORG --principal user:ID " +
			"--action ACTION) [--spicedb HOST:PORT]",
		Short: "Load iamd with checks and print latency and throughput",
		Long: "bench sends checks to iamd at a fixed concurrency until " +
			"--requests are done or --duration has passed, and prints " +
			"p50, p95, p99 and checks per second. With --spicedb it " +
			"sends the same checks, as SpiceDB CheckPermission calls, " +
			"to that SpiceDB (key in " + EnvSpiceDBToken + ") at the " +
			"same concurrency, and prints the ratio.\n\n" +
			"The checks come from a checks.csv written by " +
			"`go run ./internal/bench/cmd/gen`, or are one check " +
			"repeated. Both targets must be on loopback unless " +
			"--allow-remote is given: this is a load test.",
		Example: "  iamctl bench --checks /tmp/org/checks.csv --grpc " +
			"--spicedb 127.0.0.1:50051",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks, err := o.validate(a)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(),
				o.duration*3+30*time.Second)
			defer cancel()
			return a.bench(ctx, o, checks)
		},
	}

	f := cmd.Flags()
	f.StringVar(&o.checksFile, "checks", "",
		"checks.csv of organization,principal,action rows")
	f.StringVar(&o.check.Org, "org", "", "organization ID, for one repeated check")
	f.StringVar(&o.check.Principal, "principal", "", "user:ID, for one repeated check")
	f.StringVar(&o.check.Action, "action", "", "console action, for one repeated check")
	f.IntVar(&o.concurrency, "concurrency", 8, "concurrent callers, on every target")
	f.IntVar(&o.requests, "requests", 20000, "most checks per target")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "longest time per target")
	f.StringVar(&o.spicedb, "spicedb", "",
		"host:port of a SpiceDB gRPC API (plaintext) to compare with")
	f.BoolVar(&o.allowRemote, "allow-remote", false,
		"allow targets that are not on loopback")
	return cmd
}

// validate checks the flags and reads the workload. It sends nothing.
func (o *benchOptions) validate(a *app) ([]workload.Check, error) {
	switch {
	case o.concurrency < 1 || o.concurrency > maxBenchConcurrency:
		return nil, fmt.Errorf("--concurrency %d: use 1 to %d",
			o.concurrency, maxBenchConcurrency)
	case o.requests < 1 || o.requests > maxBenchRequests:
		return nil, fmt.Errorf("--requests %d: use 1 to %d",
			o.requests, maxBenchRequests)
	case o.duration <= 0 || o.duration > maxBenchDuration:
		return nil, fmt.Errorf("--duration %s: use a positive duration "+
			"up to %s", o.duration, maxBenchDuration)
	}

	base, err := parseServer(a.server)
	if err != nil {
		return nil, err
	}
	if !o.allowRemote && !isLoopback(base.Hostname()) {
		return nil, fmt.Errorf("--server %s is not on loopback; a load "+
			"test goes to loopback unless --allow-remote is given", a.server)
	}
	if o.spicedb != "" {
		host, _, err := net.SplitHostPort(o.spicedb)
		if err != nil {
			return nil, fmt.Errorf("--spicedb %q: write it host:port, "+
				"e.g. 127.0.0.1:50051", o.spicedb)
		}
		if !o.allowRemote && !isLoopback(host) {
			return nil, fmt.Errorf("--spicedb %s is not on loopback; the key "+
				"travels in clear text: use a loopback address", o.spicedb)
		}
		if a.env.Getenv(EnvSpiceDBToken) == "" {
			return nil, errors.New("--spicedb needs the SpiceDB preshared key " +
				"in " + EnvSpiceDBToken)
		}
	}

	one := o.check != (workload.Check{})
	switch {
	case o.checksFile != "" && one:
		return nil, errors.New("--checks and --org/--principal/--action: " +
			"give a checks file or one check, not both")
	case o.checksFile != "":
		return workload.ReadChecks(o.checksFile)
	case o.check.Org == "" || o.check.Principal == "" || o.check.Action == "":
		return nil, errors.New("--checks FILE, or all of --org, --principal " +
			"and --action, is required")
	}
	return []workload.Check{o.check}, nil
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// benchRow is one target's measurement.
type benchRow struct {
	target string
	res    workload.Result
}

func (a *app) bench(ctx context.Context, o *benchOptions, checks []workload.Check) error {
	lim := workload.Limits{
		Concurrency: o.concurrency, Requests: o.requests, Duration: o.duration,
	}
	at := func(i int) workload.Check { return checks[i%len(checks)] }

	client, release := a.benchClient(o.concurrency)
	defer release()
	iamd, err := workload.Measure(ctx, "iamd", lim, func(ctx context.Context, i int) error {
		_, err := client.Check(ctx, workload.APICheck(at(i)))
		return err
	})
	if err != nil {
		return err
	}
	if iamd.Errors > 0 {
		return fmt.Errorf("iamd: %d of %d checks failed; first: %w",
			iamd.Errors, iamd.Requests, iamd.FirstError)
	}
	rows := []benchRow{{target: "iamd " + a.server, res: iamd}}

	if o.spicedb != "" {
		raw, err := benchSpiceDB(ctx, o.spicedb, a.env.Getenv(EnvSpiceDBToken), lim, at)
		if err != nil {
			return err
		}
		rows = append(rows, benchRow{target: "spicedb " + o.spicedb, res: raw})
	}
	return a.printBench(o, len(checks), rows)
}

// benchClient is the API client with a connection pool sized for the
// concurrency: iamctl's usual client keeps two idle connections.
func (a *app) benchClient(concurrency int) (iamv1connect.IAMServiceClient, func()) {
	base, _ := url.Parse(a.server)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	if a.grpc && base.Scheme == "http" {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	}
	hc := &http.Client{Transport: t}

	opts := []connect.ClientOption{connect.WithInterceptors(bearer(a.token))}
	if a.grpc {
		opts = append(opts, connect.WithGRPC())
	}
	return iamv1connect.NewIAMServiceClient(hc, base.String(), opts...),
		hc.CloseIdleConnections
}

func benchSpiceDB(
	ctx context.Context, addr, key string, lim workload.Limits,
	at func(int) workload.Check,
) (workload.Result, error) {
	client, err := workload.DialSpiceDB(addr, key)
	if err != nil {
		return workload.Result{}, fmt.Errorf("--spicedb %s: %w", addr, err)
	}
	defer client.Close()

	res, err := workload.Measure(ctx, "spicedb", lim, func(ctx context.Context, i int) error {
		_, err := client.CheckPermission(ctx, workload.SpiceDBCheck(at(i), nil))
		return err
	})
	if err != nil {
		return res, err
	}
	if res.Errors > 0 {
		return res, fmt.Errorf("spicedb: %d of %d checks failed; first: %w",
			res.Errors, res.Requests, res.FirstError)
	}
	return res, nil
}

func (a *app) printBench(o *benchOptions, distinct int, rows []benchRow) error {
	protocol := "connect"
	if a.grpc {
		protocol = "grpc"
	}
	doc := map[string]any{
		"concurrency":     o.concurrency,
		"distinct_checks": distinct,
		"iamd_protocol":   protocol,
	}
	var targets []any
	for _, r := range rows {
		targets = append(targets, map[string]any{
			"target":     r.target,
			"requests":   r.res.Requests,
			"p50_us":     micros(r.res.P50),
			"p95_us":     micros(r.res.P95),
			"p99_us":     micros(r.res.P99),
			"max_us":     micros(r.res.Max),
			"per_second": r.res.Throughput(),
		})
	}
	doc["targets"] = targets
	ratio := 0.0
	if len(rows) == 2 && rows[1].res.Throughput() > 0 {
		ratio = rows[0].res.Throughput() / rows[1].res.Throughput()
		doc["iamd_over_spicedb_throughput"] = ratio
	}
	msg, err := structpb.NewStruct(doc)
	if err != nil {
		return err
	}

	return a.print(msg, func(t *table) {
		t.row("TARGET", "REQUESTS", "P50", "P95", "P99", "MAX", "CHECKS/S")
		for _, r := range rows {
			t.row(r.target, fmt.Sprint(r.res.Requests),
				r.res.P50.String(), r.res.P95.String(), r.res.P99.String(),
				r.res.Max.String(), fmt.Sprintf("%.0f", r.res.Throughput()))
		}
		t.row("")
		t.row(fmt.Sprintf("concurrency %d, %d distinct checks, iamd over %s",
			o.concurrency, distinct, protocol))
		if ratio > 0 {
			t.row(fmt.Sprintf("iamd / spicedb throughput: %.2fx", ratio))
		}
	})
}

func micros(d time.Duration) float64 {
	return float64(d) / float64(time.Microsecond)
}
