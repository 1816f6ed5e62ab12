package workload

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound one measurement: it stops at Requests operations or
// after Duration, whichever comes first, with Concurrency workers.
type Limits struct {
	Concurrency int
	Requests    int
	Duration    time.Duration
}

// Validate reports a limit that would make a run unbounded or empty.
func (l Limits) Validate() error {
	switch {
	case l.Concurrency < 1:
		return fmt.Errorf("concurrency %d: use at least 1", l.Concurrency)
	case l.Requests < 1:
		return fmt.Errorf("requests %d: use at least 1", l.Requests)
	case l.Duration <= 0:
		return fmt.Errorf("duration %s: must be positive", l.Duration)
	}
	return nil
}

// Result is one measurement's latency distribution and throughput.
type Result struct {
	Name string

	// Requests counts the operations that completed, errors included.
	Requests int
	Errors   int

	// FirstError is kept to explain a failed run.
	FirstError error

	Elapsed            time.Duration
	P50, P95, P99, Max time.Duration
}

// Throughput is completed operations per second.
func (r Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Measure runs op under lim and records each call's latency. op gets
// the index of the operation, from 0, to pick its input. The time limit
// stops new calls; calls in flight finish (a canceled call would abort
// work that SpiceDB shares between concurrent checks).
func Measure(
	ctx context.Context, name string, lim Limits,
	op func(ctx context.Context, i int) error,
) (Result, error) {
	if err := lim.Validate(); err != nil {
		return Result{}, err
	}
	deadline := time.Now().Add(lim.Duration)

	var next atomic.Int64
	var errs atomic.Int64
	var firstErr error
	var errOnce sync.Once

	perWorker := make([][]time.Duration, lim.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range lim.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, min(lim.Requests/lim.Concurrency+1, 1<<20))
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(next.Add(1) - 1)
				if i >= lim.Requests {
					break
				}
				t := time.Now()
				err := op(ctx, i)
				lat = append(lat, time.Since(t))
				if err != nil {
					errs.Add(1)
					errOnce.Do(func() { firstErr = err })
				}
			}
			perWorker[w] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	all := slices.Concat(perWorker...)
	res := summarize(name, all)
	res.Elapsed = elapsed
	res.Errors = int(errs.Load())
	res.FirstError = firstErr
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if len(all) == 0 {
		return res, errors.New("bench: no operation completed within " +
			lim.Duration.String())
	}
	return res, nil
}

// summarize computes percentiles of latencies (which it sorts).
func summarize(name string, latencies []time.Duration) Result {
	res := Result{Name: name, Requests: len(latencies)}
	if len(latencies) == 0 {
		return res
	}
	slices.Sort(latencies)
	res.P50 = percentile(latencies, 0.50)
	res.P95 = percentile(latencies, 0.95)
	res.P99 = percentile(latencies, 0.99)
	res.Max = latencies[len(latencies)-1]
	return res
}

// percentile of sorted values, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p*float64(len(sorted))+0.5) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

// Summarize turns recorded latencies (e.g. of policy writes, done one
// at a time) into a Result over their total time.
func Summarize(name string, latencies []time.Duration) Result {
	sorted := slices.Clone(latencies)
	res := summarize(name, sorted)
	for _, d := range latencies {
		res.Elapsed += d
	}
	return res
}
