package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// Labels put on what the harness makes, so that a later run can tell
// its own leftovers from anything else on the engine.
const (
	// labelSuite marks every container, network and image of the suite.
	labelSuite = "io.gpucloud.iam.e2e"

	// labelOwner names the test process that made a container or a
	// network, as "pid/start-time", to tell a live run from a dead one.
	labelOwner = "io.gpucloud.iam.e2e.owner"
)

// dockerVerdict is what the suite does about the Docker engine.
type dockerVerdict int

const (
	dockerRun dockerVerdict = iota
	dockerSkip
	dockerFail
)

// decideDocker turns the outcome of a ping of the engine into a verdict.
// CI must not pass by skipping, so a missing engine fails there.
func decideDocker(ci string, pingErr error) dockerVerdict {
	if pingErr == nil {
		return dockerRun
	}

	if ci == "true" {
		return dockerFail
	}

	return dockerSkip
}

// Docker returns a pool on the local Docker engine. It skips the test
// under `go test -short` and when no engine answers, and fails it
// instead when CI=true, so that CI cannot go green without the suite.
func Docker(t testing.TB) *dockertest.Pool {
	t.Helper()

	if testing.Short() {
		t.Skip("e2e: skipped under -short: the suite runs containers")
	}

	pool, err := dockertest.NewPool("")
	if err == nil {
		ctx, cancel := context.WithTimeout(
			context.Background(), 10*time.Second)
		err = pool.Client.PingWithContext(ctx)
		cancel()
	}

	switch decideDocker(os.Getenv("CI"), err) {
	case dockerFail:
		t.Fatalf("e2e: CI=true but the Docker engine is "+
			"not reachable: %v", err)
	case dockerSkip:
		t.Skipf("e2e: skipped: the Docker engine is not "+
			"reachable (%v); start it or set DOCKER_HOST", err)
	}

	return pool
}

// processOwner identifies this test process for labelOwner.
func processOwner() string {
	return ownerOf(os.Getpid())
}

// ownerOf identifies a process by its pid and its start time, since a
// pid alone may have been reused by an unrelated process. It returns
// "" when the process does not exist.
func ownerOf(pid int) string {
	path := fmt.Sprintf("/proc/%d/stat", pid)

	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}

	// The command name, in parentheses, may hold spaces: fields are
	// counted from the last ')'. Start time is field 22 of the line,
	// the 20th after the name.
	stat := string(raw)
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return ""
	}

	fields := strings.Fields(stat[end+1:])
	if len(fields) < 20 {
		return ""
	}

	return strconv.Itoa(pid) + "/" + fields[19]
}

// ownerAlive tells whether the process named by a labelOwner value is
// still running.
func ownerAlive(owner string) bool {
	pidText, _, ok := strings.Cut(owner, "/")
	if !ok {
		return false
	}

	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return false
	}

	return ownerOf(pid) == owner
}

// purgeLeftovers removes the containers and networks of earlier runs
// whose test process is gone: a run killed before its cleanup leaves
// them behind. Runs still alive, on this machine, keep theirs.
func purgeLeftovers(ctx context.Context, pool *dockertest.Pool) error {
	containers, err := pool.Client.ListContainers(
		dc.ListContainersOptions{
			All:     true,
			Filters: map[string][]string{"label": {labelSuite}},
			Context: ctx,
		})
	if err != nil {
		return fmt.Errorf("list leftover containers: %w", err)
	}

	var errs []error
	for _, c := range containers {
		if ownerAlive(c.Labels[labelOwner]) {
			continue
		}

		err := removeContainer(ctx, pool, c.ID)
		if err != nil {
			errs = append(errs, err)
		}
	}

	networks, err := pool.Client.FilteredListNetworks(
		dc.NetworkFilterOpts{"label": {labelSuite: true}})
	if err != nil {
		return fmt.Errorf("list leftover networks: %w", err)
	}

	for _, n := range networks {
		if ownerAlive(n.Labels[labelOwner]) {
			continue
		}

		err := pool.Client.RemoveNetwork(n.ID)
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf(
				"remove leftover network %s: %w", n.Name, err))
		}
	}

	return errors.Join(errs...)
}

// removeContainer removes a container, running or not, with its
// anonymous volumes. A container already gone is not an error.
func removeContainer(
	ctx context.Context,
	pool *dockertest.Pool,
	id string,
) error {
	err := pool.Client.RemoveContainer(dc.RemoveContainerOptions{
		ID:            id,
		Force:         true,
		RemoveVolumes: true,
		Context:       ctx,
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}

	return nil
}

// isNotFound tells whether the engine answered that the object asked
// for does not exist.
func isNotFound(err error) bool {
	var noContainer *dc.NoSuchContainer
	if errors.As(err, &noContainer) {
		return true
	}

	var noNetwork *dc.NoSuchNetwork
	if errors.As(err, &noNetwork) {
		return true
	}

	var apiErr *dc.Error
	if errors.As(err, &apiErr) {
		return apiErr.Status == 404
	}

	return false
}
