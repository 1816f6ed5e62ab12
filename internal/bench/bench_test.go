package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/iam"
)

// Flags of the benchmarks. Under -short the organization is tiny, so
// that `-bench . -benchtime=1x -short` only proves the benchmarks run.
var (
	flagUsers = flag.String("bench.users", "1000",
		"comma-separated organization sizes, in users")
	flagSeed        = flag.Uint64("bench.seed", 1, "generator seed")
	flagConcurrency = flag.Int("bench.concurrency", 8, "concurrent callers")
	flagWorkingSet  = flag.Int("bench.workingset", 1000,
		"distinct checks cycled through")
	flagPostgres = flag.String("bench.postgres", "",
		"PostgreSQL URI for both SpiceDBs (a fresh database per size)")
	flagNetwork = flag.Bool("bench.network", true, "also benchmark iamd's API")
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if err := closeEnvs(); err != nil {
		fmt.Fprintln(os.Stderr, "closing benchmark environments:", err)
		code = 1
	}
	os.Exit(code)
}

// envs holds one loaded environment per size, shared by every
// benchmark of the run: loading is the slow part.
var (
	envsMu sync.Mutex
	envs   = map[int]*Env{}
)

func sharedEnv(b *testing.B, users int) *Env {
	b.Helper()
	envsMu.Lock()
	defer envsMu.Unlock()
	if e, ok := envs[users]; ok {
		return e
	}
	if *flagPostgres != "" && len(envs) > 0 {
		b.Fatal("-bench.postgres takes one size per run: " +
			"each size needs a fresh database")
	}
	e, err := NewEnv(context.Background(), EnvConfig{
		Spec:        Spec{Users: users, Seed: *flagSeed, Checks: checkCount()},
		PostgresURI: *flagPostgres,
	})
	if err != nil {
		b.Fatal(err)
	}
	envs[users] = e
	return e
}

func closeEnvs() error {
	envsMu.Lock()
	defer envsMu.Unlock()
	var errs []string
	for users, e := range envs {
		if err := e.Close(); err != nil {
			errs = append(errs, fmt.Sprintf("%d users: %v", users, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func sizes(b *testing.B) []int {
	if testing.Short() {
		return []int{200}
	}
	var out []int
	for _, s := range strings.Split(*flagUsers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("-bench.users %q: give user counts such as 1000,10000", *flagUsers)
		}
		out = append(out, n)
	}
	return out
}

// checkCount is how many checks are generated: the working set of the
// cached paths, and a share each for the others.
func checkCount() int {
	if testing.Short() {
		return 200
	}
	return DefaultChecks
}

func workingSet() int {
	if testing.Short() {
		return 50
	}
	return *flagWorkingSet
}

// limits measures b.N operations; the time limit only guards against a
// stuck run.
func limits(b *testing.B) Limits {
	return Limits{Concurrency: *flagConcurrency, Requests: b.N, Duration: time.Hour}
}

// report adds the latency percentiles and throughput to the standard
// ns/op, in units benchstat keeps apart.
func report(b *testing.B, r Result) {
	b.ReportMetric(float64(r.P50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(r.P95.Nanoseconds()), "p95-ns")
	b.ReportMetric(float64(r.P99.Nanoseconds()), "p99-ns")
	b.ReportMetric(r.Throughput(), "ops/s")
}

// BenchmarkCheck measures every check path on the same organization
// and workload, at the same concurrency. Cached paths are warmed with
// one pass over the working set first.
func BenchmarkCheck(b *testing.B) {
	for _, users := range sizes(b) {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			env := sharedEnv(b, users)
			ws := min(workingSet(), len(env.Org.Checks))
			for _, p := range env.paths(ws, *flagNetwork) {
				b.Run("path="+strings.ReplaceAll(p.name, "/", "-"), func(b *testing.B) {
					benchmarkPath(b, p, ws)
				})
			}
		})
	}
}

func benchmarkPath(b *testing.B, p path, workingSet int) {
	ctx := context.Background()
	check, closer, err := p.open()
	if err != nil {
		b.Fatal(err)
	}
	defer closer()

	if p.cache != nil {
		warm := Limits{Concurrency: *flagConcurrency, Requests: workingSet, Duration: time.Hour}
		if _, err := workload.Measure(ctx, "warm", warm, check); err != nil {
			b.Fatal(err)
		}
	}
	before := cacheHits(p)

	b.ResetTimer()
	res, err := workload.Measure(ctx, p.name, limits(b), check)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d of %d checks failed; first: %v", res.Errors, res.Requests, res.FirstError)
	}
	report(b, res)
	if p.cache != nil {
		b.ReportMetric(100*float64(cacheHits(p)-before)/float64(res.Requests), "hit%")
	}
}

func cacheHits(p path) uint64 {
	if p.cache == nil {
		return 0
	}
	return p.cache.Stats().Hits
}

// BenchmarkPolicyApply replaces one policy of the loaded organization,
// one write at a time, alternating between two rule sets: the latency
// of `iamctl apply` for a changed policy.
func BenchmarkPolicyApply(b *testing.B) {
	for _, users := range sizes(b) {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			env := sharedEnv(b, users)
			ctx := context.Background()
			policy := env.Org.Policies[0]
			current, err := env.Facade.GetPolicy(ctx, policy.Org, policy.ID, "")
			if err != nil {
				b.Fatal(err)
			}
			etag := current.Etag
			variants := [][]iam.Rule{policy.Rules, {{
				Principals: []string{"user:" + env.Org.Users[0]},
				Roles:      []string{"iam-viewer"},
			}}}

			latencies := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				in := policy
				in.Rules = variants[(i+1)%2]
				in.Etag = etag
				start := time.Now()
				w, err := env.Facade.ReplacePolicy(ctx, in)
				latencies = append(latencies, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				etag = w.Etag
			}
			b.StopTimer()
			report(b, workload.Summarize("policy apply", latencies))
		})
	}
}

// BenchmarkImport bulk-imports the organization's relationships into a
// fresh loopback SpiceDB (memory datastore) per iteration, and reports
// the rate and the heap the datastore grew by.
func BenchmarkImport(b *testing.B) {
	for _, users := range sizes(b) {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			o, err := Generate(Spec{Users: users, Seed: *flagSeed, Checks: 1})
			if err != nil {
				b.Fatal(err)
			}
			rels := o.BulkRelationships()
			ctx := context.Background()

			var total ImportResult
			for range b.N {
				b.StopTimer()
				e := &Env{Org: o}
				if err := e.startRaw(ctx, ""); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := Import(ctx, e.RawClient, rels, true)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
				total.Relationships += res.Relationships
				total.Duration += res.Duration
				total.HeapBytes += res.HeapBytes
				b.StartTimer()
			}
			b.ReportMetric(total.Rate(), "rels/s")
			b.ReportMetric(total.BytesPerMillion()/(1<<20), "MiB/1M-rels")
		})
	}
}
