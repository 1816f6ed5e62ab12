package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// composeProjectPrefix starts the Compose project name of every run of
// the suite; the rest names the test process, so that a later run can
// tell a dead run's leftovers from a live one's.
const composeProjectPrefix = "iam-e2e-compose-"

// Labels that Compose puts on what it makes.
const (
	composeProjectLabel = "com.docker.compose.project"
	composeServiceLabel = "com.docker.compose.service"
)

// Time bounds of Compose commands.
const (
	composeUpTimeout   = 5 * time.Minute
	composeDownTimeout = 2 * time.Minute
)

// ComposeOptions configures StartCompose.
type ComposeOptions struct {
	// File is the path of the Compose file.
	File string

	// Env holds the variables the file reads, KEY=VALUE; they are
	// added to this process's environment.
	Env []string
}

// Compose is a Compose project of the suite, brought up from a file and
// taken down, volumes and all, when the test ends, whatever its
// outcome.
type Compose struct {
	// Project is the project's name on the engine.
	Project string

	pool    *dockertest.Pool
	command []string
	opts    ComposeOptions
}

// StartCompose brings the project of opts.File up, detached, and
// returns once `up` has; the file's depends_on conditions decide how
// much of it is then healthy. It skips the test when no Compose tool is
// installed, or fails it when CI=true.
func StartCompose(t testing.TB, opts ComposeOptions) *Compose {
	t.Helper()

	pool := Docker(t)
	command := composeCommand(t)

	ctx, cancel := context.WithTimeout(context.Background(), composeUpTimeout)
	defer cancel()

	err := purgeComposeLeftovers(ctx, pool, command)
	if err != nil {
		t.Fatalf("e2e: remove leftover Compose projects: %v", err)
	}

	owner := strings.ReplaceAll(processOwner(), "/", "-")
	c := &Compose{
		Project: composeProjectPrefix + owner + "-" + randomHex(2),
		pool:    pool,
		command: command,
		opts:    opts,
	}

	// Registered first: a failed `up` may have started half the
	// project.
	t.Cleanup(func() { c.cleanup(t) })

	out, err := c.run(ctx, "up", "--detach", "--no-color")
	if err != nil {
		t.Fatalf("e2e: compose up: %v\n%s", err, out)
	}

	return c
}

// composeCommand returns the Compose tool's command: the docker CLI's
// plugin, or the stand-alone docker-compose.
func composeCommand(t testing.TB) []string {
	t.Helper()

	candidates := [][]string{
		{"docker", "compose"},
		{"docker-compose"},
	}

	for _, cmd := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		args := append(slices.Clone(cmd[1:]), "version")
		err := exec.CommandContext(ctx, cmd[0], args...).Run()
		cancel()

		if err == nil {
			return cmd
		}
	}

	msg := "e2e: neither `docker compose` nor `docker-compose` works; " +
		"install docker-compose (Debian's package of that name)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}

	t.Skip(msg)

	return nil
}

// run runs a Compose subcommand on the project and returns its output,
// stdout and stderr mixed.
func (c *Compose) run(ctx context.Context, args ...string) (string, error) {
	return runCompose(ctx, c.command, c.Project, c.opts, args...)
}

// runCompose runs a Compose subcommand on project. Without a file, it
// works on what the engine holds of the project.
func runCompose(
	ctx context.Context,
	command []string,
	project string,
	opts ComposeOptions,
	args ...string,
) (string, error) {
	full := slices.Clone(command[1:])
	full = append(full, "--project-name", project)
	if opts.File != "" {
		full = append(full, "--file", opts.File)
	}

	full = append(full, args...)

	cmd := exec.CommandContext(ctx, command[0], full...)
	cmd.Env = append(os.Environ(), opts.Env...)

	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out

	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w",
			strings.Join(command, " "), strings.Join(args, " "), err)
	}

	return out.String(), nil
}

// ServiceStates returns the state of each service's containers: the
// health check's status ("healthy", "starting", "unhealthy") for a
// service that has one, else "exited N" or "running".
func (c *Compose) ServiceStates(ctx context.Context) (map[string]string, error) {
	containers, err := c.pool.Client.ListContainers(
		dc.ListContainersOptions{
			All: true,
			Filters: map[string][]string{
				"label": {composeProjectLabel + "=" + c.Project},
			},
			Context: ctx,
		})
	if err != nil {
		return nil, fmt.Errorf("list containers of %s: %w", c.Project, err)
	}

	states := map[string]string{}
	for _, summary := range containers {
		ctr, err := c.pool.Client.InspectContainerWithContext(
			summary.ID, ctx)
		if err != nil {
			return nil, fmt.Errorf("inspect %s: %w", summary.ID, err)
		}

		service := summary.Labels[composeServiceLabel]
		states[service] = containerState(ctr.State)
	}

	return states, nil
}

// containerState summarises a container's state for ServiceStates.
func containerState(s dc.State) string {
	switch {
	case s.Running && s.Health.Status != "":
		return s.Health.Status
	case s.Running:
		return "running"
	default:
		return fmt.Sprintf("exited %d", s.ExitCode)
	}
}

// cleanup takes the project down with its volumes. When the test
// failed, it first logs the end of every service's output.
func (c *Compose) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), composeDownTimeout)
	defer cancel()

	if t.Failed() {
		logs, err := c.run(ctx, "logs", "--no-color", "--tail=40")
		if err != nil {
			logs += err.Error()
		}

		t.Logf("e2e: last logs of %s:\n%s", c.Project, logs)
	}

	out, err := c.run(ctx, "down", "--volumes", "--remove-orphans",
		"--timeout", "10")
	if err != nil {
		t.Errorf("e2e: compose down: %v\n%s", err, out)
	}
}

// purgeComposeLeftovers takes down the Compose projects of earlier runs
// whose test process is gone, as purgeLeftovers does for clusters.
func purgeComposeLeftovers(
	ctx context.Context,
	pool *dockertest.Pool,
	command []string,
) error {
	containers, err := pool.Client.ListContainers(
		dc.ListContainersOptions{
			All:     true,
			Filters: map[string][]string{"label": {composeProjectLabel}},
			Context: ctx,
		})
	if err != nil {
		return fmt.Errorf("list Compose containers: %w", err)
	}

	dead := map[string]bool{}
	for _, c := range containers {
		project := c.Labels[composeProjectLabel]
		if !strings.HasPrefix(project, composeProjectPrefix) {
			continue
		}

		if !ownerAlive(composeOwner(project)) {
			dead[project] = true
		}
	}

	var errs []error
	for project := range dead {
		// Without a file, Compose works from the engine's labels.
		out, err := runCompose(ctx, command, project, ComposeOptions{},
			"down", "--volumes", "--remove-orphans", "--timeout", "1")
		if err != nil {
			errs = append(errs, fmt.Errorf("%w\n%s", err, out))
		}
	}

	return errors.Join(errs...)
}

// composeOwner turns a project name back into the labelOwner form of
// its test process, "pid/start-time"; "" if the name is not the
// suite's.
func composeOwner(project string) string {
	rest, ok := strings.CutPrefix(project, composeProjectPrefix)
	if !ok {
		return ""
	}

	parts := strings.Split(rest, "-")
	if len(parts) != 3 {
		return ""
	}

	return parts[0] + "/" + parts[1]
}
