package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/decisioncache"
	"github.com/gpucloud/iam/internal/iam"
)

// RunConfig configures Run.
type RunConfig struct {
	Env EnvConfig

	// Limits bound each measured path; every path runs at the same
	// concurrency.
	Limits Limits

	// WorkingSet is how many distinct checks the workload cycles
	// through; zero means every generated check.
	WorkingSet int

	// Network also measures iamd's API over loopback.
	Network bool
}

// Paths measured by Run, in report order.
const (
	PathSpiceDB          = "spicedb-grpc"
	PathFacade           = "facade"
	PathFacadeCache      = "facade+cache"
	PathEmbeddedPkg      = "pkg/embedded"
	PathFacadeCacheLocal = "facade+cache+local"
	PathAPI              = "iamd-api"
	PathAPICache         = "iamd-api+cache"
)

// pathDescriptions say what each path measures.
var pathDescriptions = map[string]string{
	PathSpiceDB:          "SpiceDB CheckPermission, authzed-go over loopback gRPC",
	PathFacade:           "iam.Service.Check over the embedded engine (bufconn gRPC)",
	PathFacadeCache:      "same, with the decision cache (misses over bufconn)",
	PathEmbeddedPkg:      "SpiceDB pkg/embedded Check in process, no cache",
	PathFacadeCacheLocal: "facade, decision cache, misses in process (pkg/embedded)",
	PathAPI:              "iamd API Check (Connect, gRPC protocol, loopback)",
	PathAPICache:         "same, the facade behind it with the decision cache",
}

// Row is one measured path.
type Row struct {
	Result
	Path string

	// HitRate is the share of checks answered from memory while
	// measuring, or -1 for paths without a cache.
	HitRate float64
}

// ImportRow is one bulk import.
type ImportRow struct {
	Side string
	ImportResult
}

// Ratio compares two measurements against a target.
type Ratio struct {
	Name   string
	Value  float64
	Target string
	Met    bool
}

// Report is the outcome of Run.
type Report struct {
	Machine     Machine
	Datastore   string
	Spec        Spec
	Org         string
	Users       int
	Groups      int
	Policies    int
	Bulk        int
	Concurrency int
	WorkingSet  int

	Imports     []ImportRow
	PolicyApply Result
	Rows        []Row
	Ratios      []Ratio
}

// Run builds the environment, measures every path on the same data
// and computes the ratios against raw SpiceDB.
func Run(ctx context.Context, cfg RunConfig) (*Report, error) {
	if err := cfg.Limits.Validate(); err != nil {
		return nil, err
	}
	if cfg.Limits.Concurrency > maxConcurrency {
		return nil, fmt.Errorf("concurrency %d: use at most %d",
			cfg.Limits.Concurrency, maxConcurrency)
	}
	logw := cfg.Env.Log
	if logw == nil {
		logw = io.Discard
	}

	env, err := NewEnv(ctx, cfg.Env)
	if err != nil {
		return nil, err
	}
	defer env.Close()

	o := env.Org
	ws := cfg.WorkingSet
	if ws <= 0 || ws > len(o.Checks) {
		ws = len(o.Checks)
	}
	rep := &Report{
		Machine:     DescribeMachine(),
		Datastore:   env.datastoreName(),
		Spec:        o.Spec,
		Org:         o.ID,
		Users:       len(o.Users),
		Groups:      len(o.Groups),
		Policies:    len(o.Policies),
		Bulk:        env.RawLoad.Import.Relationships,
		Concurrency: cfg.Limits.Concurrency,
		WorkingSet:  ws,
		PolicyApply: workload.Summarize("policy apply", env.EmbeddedLoad.PolicyApply),
	}
	rep.Imports = append(rep.Imports, ImportRow{"loopback SpiceDB", env.RawLoad.Import})
	if !env.shared {
		rep.Imports = append(rep.Imports, ImportRow{"embedded engine", env.EmbeddedLoad.Import})
	}

	for _, p := range env.paths(ws, cfg.Network) {
		fmt.Fprintf(logw, "measuring %s\n", p.name)
		row, err := measurePath(ctx, p, cfg.Limits, ws)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if row.Errors > 0 {
			return nil, fmt.Errorf("%s: %d of %d checks failed; first: %w",
				p.name, row.Errors, row.Requests, row.FirstError)
		}
		rep.Rows = append(rep.Rows, row)
	}
	rep.Ratios = rep.ratios()
	return rep, nil
}

// path is one way of answering a check. open starts what the path
// needs (a server, for the API paths) and returns its check.
type path struct {
	name  string
	cache *decisioncache.Cache
	open  func() (check func(context.Context, int) error, closer func() error, err error)

	// warmFrom, for a path without a cache, is the first index of
	// checks that warm the datastore before measuring (the measured
	// ones start at 0): the first path measured would otherwise pay
	// for cold database buffers alone.
	warmFrom int

	// measured, for a path without a cache, is how many checks it
	// measures at most: one pass over its own checks, short of the
	// warm-up ones, since a second pass would find them in SpiceDB's
	// dispatch cache.
	measured int
}

// maxConcurrency bounds the concurrency a run may ask for; the warm-up
// checks of a path sit that far from its measured ones.
const maxConcurrency = 256

// paths lists the check paths over the organization's checks. Cached
// paths cycle through the first workingSet checks. Paths without a
// cache each get their own share of all the checks, drawn from the same
// distribution: a path measured after another on the same SpiceDB
// would otherwise find the answers in SpiceDB's own dispatch cache.
func (e *Env) paths(workingSet int, network bool) []path {
	all := e.Org.Checks
	cycle := func(checks []Check) func(int) Check {
		return func(i int) Check { return checks[i%len(checks)] }
	}
	uncachedCount := 3
	if network {
		uncachedCount++
	}
	share := max(1, len(all)/uncachedCount)
	part := func(k int) func(int) Check {
		lo := min(k*share, len(all)-1)
		return cycle(all[lo:min(lo+share, len(all))])
	}
	at := cycle(all[:workingSet])

	fixed := func(check func(context.Context, int) error) func() (
		func(context.Context, int) error, func() error, error,
	) {
		return func() (func(context.Context, int) error, func() error, error) {
			return check, func() error { return nil }, nil
		}
	}
	facade := func(svc *iam.Service, at func(int) Check) func(context.Context, int) error {
		return func(ctx context.Context, i int) error {
			c := at(i)
			_, err := svc.Check(ctx, iam.CheckRequest{
				Org: c.Org, Principal: c.Principal, Action: c.Action,
			})
			return err
		}
	}

	// Paths without a cache run first, so that no warm-up of another
	// path has filled SpiceDB's own caches before them.
	raw, local := part(0), part(2)
	warmFrom := share - 2*maxConcurrency
	measured := share
	if warmFrom > 0 {
		measured = warmFrom
	}
	uncachedPath := func(name string, open func() (
		func(context.Context, int) error, func() error, error,
	)) path {
		return path{name: name, warmFrom: warmFrom, measured: measured, open: open}
	}
	uncached := []path{
		uncachedPath(PathSpiceDB, fixed(func(ctx context.Context, i int) error {
			_, err := e.RawClient.CheckPermission(ctx,
				workload.SpiceDBCheck(raw(i), minimizeLatency))
			return err
		})),
		uncachedPath(PathFacade, fixed(facade(e.Facade, part(1)))),
		uncachedPath(PathEmbeddedPkg, fixed(func(ctx context.Context, i int) error {
			_, err := e.Local.Check(ctx, workload.SpiceDBCheck(local(i), nil))
			return err
		})),
	}
	cached := []path{
		{name: PathFacadeCache, cache: e.Cache, open: fixed(facade(e.Cached, at))},
		{name: PathFacadeCacheLocal, cache: e.LocalCache,
			open: fixed(facade(e.LocalCached, at))},
	}
	if network {
		uncached = append(uncached,
			uncachedPath(PathAPI, apiOpener(e.Facade, part(3))))
		cached = append(cached,
			path{name: PathAPICache, cache: e.Cache, open: apiOpener(e.Cached, at)})
	}
	return append(uncached, cached...)
}

// apiOpener serves svc through iamd's API and checks through it.
func apiOpener(svc *iam.Service, at func(int) Check) func() (
	func(context.Context, int) error, func() error, error,
) {
	return func() (func(context.Context, int) error, func() error, error) {
		srv, err := ServeAPI(svc)
		if err != nil {
			return nil, nil, err
		}
		client, hc := NewAPIClient(srv.URL, srv.OperatorToken)
		check := func(ctx context.Context, i int) error {
			_, err := client.Check(ctx, workload.APICheck(at(i)))
			return err
		}
		closer := func() error {
			hc.CloseIdleConnections()
			return srv.Close()
		}
		return check, closer, nil
	}
}

var fullyConsistent = &v1.Consistency{
	Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
}

var minimizeLatency = &v1.Consistency{
	Requirement: &v1.Consistency_MinimizeLatency{MinimizeLatency: true},
}

// measurePath warms a cached path with one pass over the working set,
// then measures it.
func measurePath(ctx context.Context, p path, lim Limits, workingSet int) (Row, error) {
	check, closer, err := p.open()
	if err != nil {
		return Row{}, err
	}
	defer closer()
	if err := check(ctx, 0); err != nil {
		return Row{}, err
	}

	row := Row{Path: p.name, HitRate: -1}
	if p.cache == nil && p.warmFrom > 0 {
		warm := lim
		warm.Requests = lim.Concurrency
		warm.Duration = 3 * lim.Duration
		_, err := workload.Measure(ctx, "warm "+p.name, warm,
			func(ctx context.Context, i int) error { return check(ctx, p.warmFrom+i) })
		if err != nil {
			return row, err
		}
	}

	var before decisioncache.Stats
	if p.cache != nil {
		// The warm pass fills the cache; misses are slow, so it gets
		// more time than a measurement.
		warm := lim
		warm.Requests = workingSet
		warm.Duration = 3 * lim.Duration
		if _, err := workload.Measure(ctx, "warm "+p.name, warm, check); err != nil {
			return row, err
		}
		before = p.cache.Stats()
	}

	measure := lim
	if p.measured > 0 {
		measure.Requests = min(lim.Requests, p.measured)
	}
	res, err := workload.Measure(ctx, p.name, measure, check)
	if err != nil {
		return row, err
	}
	row.Result = res
	if p.cache != nil {
		after := p.cache.Stats()
		hits := after.Hits - before.Hits
		total := hits + (after.Misses - before.Misses) + (after.Bypasses - before.Bypasses)
		if total > 0 {
			row.HitRate = float64(hits) / float64(total)
		}
	}
	return row, nil
}

func (r *Report) row(path string) (Row, bool) {
	for _, row := range r.Rows {
		if row.Path == path {
			return row, true
		}
	}
	return Row{}, false
}

// ratios compares the facade and the API with raw SpiceDB, against the
// targets of the benchmark issue.
func (r *Report) ratios() []Ratio {
	raw, ok := r.row(PathSpiceDB)
	if !ok || raw.Throughput() == 0 {
		return nil
	}
	var out []Ratio
	throughput := func(path, target string, want float64) {
		row, ok := r.row(path)
		if !ok {
			return
		}
		v := row.Throughput() / raw.Throughput()
		out = append(out, Ratio{
			Name:   path + " / " + PathSpiceDB + " throughput",
			Value:  v,
			Target: target,
			Met:    v >= want,
		})
	}
	throughput(PathFacade, ">= 5x", 5)
	throughput(PathFacadeCache, ">= 5x", 5)
	throughput(PathFacadeCacheLocal, ">= 5x", 5)
	throughput(PathAPI, ">= 1x", 1)
	throughput(PathAPICache, ">= 1x", 1)

	for _, path := range []string{PathFacade, PathFacadeCache, PathFacadeCacheLocal} {
		if row, ok := r.row(path); ok {
			out = append(out, Ratio{
				Name:   path + " p50 (µs)",
				Value:  float64(row.P50) / float64(time.Microsecond),
				Target: "<= 20",
				Met:    row.P50 <= 20*time.Microsecond,
			})
		}
	}
	for _, row := range r.Rows {
		out = append(out, Ratio{
			Name:   row.Path + " p99 (ms)",
			Value:  float64(row.P99) / float64(time.Millisecond),
			Target: "<= 2",
			Met:    row.P99 <= 2*time.Millisecond,
		})
	}
	for _, imp := range r.Imports {
		perMillion := 0.0
		if imp.Rate() > 0 {
			perMillion = 1e6 / imp.Rate()
		}
		out = append(out, Ratio{
			Name:   "import into " + imp.Side + " (s per 1M)",
			Value:  perMillion,
			Target: "<= 60",
			Met:    perMillion > 0 && perMillion <= 60,
		})
	}
	return out
}

// WriteText prints the report as aligned tables.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	m := r.Machine
	fmt.Fprintf(b, "machine: %d CPUs (GOMAXPROCS %d), %s, %s memory, %s %s/%s\n",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.Memory, m.GoVersion, m.OS, m.Arch)
	fmt.Fprintf(b, "datastore: %s; organization %s: %d users, %d groups, "+
		"%d policies (+5 default), %d bulk relationships; seed %d\n",
		r.Datastore, r.Org, r.Users, r.Groups, r.Policies, r.Bulk, r.Spec.Seed)
	fmt.Fprintf(b, "workload: uniform random (user, action) checks; "+
		"paths without a cache each take their own share of %d, cached "+
		"paths cycle through %d; concurrency %d\n\n",
		r.Spec.Checks, r.WorkingSet, r.Concurrency)

	fmt.Fprintf(b, "%-20s %12s %10s %14s %12s\n",
		"import", "relations", "seconds", "rel/s", "MiB per 1M")
	for _, imp := range r.Imports {
		mib := "-"
		if imp.HeapBytes > 0 {
			mib = fmt.Sprintf("%.0f", imp.BytesPerMillion()/(1<<20))
		}
		fmt.Fprintf(b, "%-20s %12d %10.1f %14.0f %12s\n", imp.Side,
			imp.Relationships, imp.Duration.Seconds(), imp.Rate(), mib)
	}

	pa := r.PolicyApply
	fmt.Fprintf(b, "\npolicy apply (%d CreatePolicy, one at a time): "+
		"p50 %s  p95 %s  p99 %s  max %s\n\n",
		pa.Requests, fmtDur(pa.P50), fmtDur(pa.P95), fmtDur(pa.P99), fmtDur(pa.Max))

	fmt.Fprintf(b, "%-20s %9s %10s %10s %10s %10s %12s %6s\n",
		"check path", "requests", "p50", "p95", "p99", "max", "checks/s", "hit%")
	for _, row := range r.Rows {
		hit := "-"
		if row.HitRate >= 0 {
			hit = fmt.Sprintf("%.1f", 100*row.HitRate)
		}
		fmt.Fprintf(b, "%-20s %9d %10s %10s %10s %10s %12.0f %6s\n",
			row.Path, row.Requests, fmtDur(row.P50), fmtDur(row.P95),
			fmtDur(row.P99), fmtDur(row.Max), row.Throughput(), hit)
	}
	fmt.Fprintln(b)
	for _, row := range r.Rows {
		fmt.Fprintf(b, "  %-20s %s\n", row.Path, pathDescriptions[row.Path])
	}

	fmt.Fprintf(b, "\n%-52s %10s %8s %s\n", "target", "value", "goal", "met")
	for _, ra := range r.Ratios {
		fmt.Fprintf(b, "%-52s %10.2f %8s %v\n", ra.Name, ra.Value, ra.Target, ra.Met)
	}
	return b.Flush()
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// Machine describes where a run happened.
type Machine struct {
	CPUs       int
	GOMAXPROCS int
	CPUModel   string
	Memory     string
	GoVersion  string
	OS, Arch   string
}

// DescribeMachine reads the CPU model and memory from /proc, where
// there is one.
func DescribeMachine() Machine {
	return Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   procField("/proc/cpuinfo", "model name"),
		Memory:     procField("/proc/meminfo", "MemTotal"),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
}

func procField(file, key string) string {
	f, err := os.Open(file)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
