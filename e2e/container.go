package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// readyTimeout bounds the wait for a container to become ready after it
// is started or reconnected.
const readyTimeout = 2 * time.Minute

// stopTimeout is how long a container has to exit after its stop signal
// before the engine kills it.
const stopTimeout = 10 * time.Second

// ContainerSpec describes a container to run on a cluster's network.
type ContainerSpec struct {
	// Name is the container's short name; the container is named
	// "iam-e2e-RUN-NAME" on the engine, and NAME resolves to it on the
	// network.
	Name string

	// Image is the image reference, repository:tag.
	Image string

	// Cmd is the command, or the arguments of the image's entrypoint.
	Cmd []string

	// Env holds KEY=VALUE pairs.
	Env []string

	// Aliases are more names that resolve to the container on the
	// network; several containers may share one.
	Aliases []string

	// Ports are container ports, such as "50051/tcp", to publish on
	// 127.0.0.1 at ports chosen by the harness.
	Ports []string

	// Files are put into the container before it first starts, such as
	// secrets and configuration; they stay through a stop and start.
	Files []File

	// Ready, when set, tells whether the container serves; Run, Start
	// and Reconnect wait until it returns nil.
	Ready func(ctx context.Context, c *Container) error
}

// File is a file that ContainerSpec puts into a container.
type File struct {
	// Path is the file's absolute path in the container. Missing parent
	// folders are made, owned by root.
	Path string

	// Content is what the file holds.
	Content []byte

	// Mode holds the permission bits; 0o400 when zero, as for a secret.
	Mode int64

	// UID and GID own the file. A secret of a Go image is owned by the
	// image's user, 65532, and readable by it alone.
	UID, GID int
}

// Container is a container of a cluster, attached to its network under a
// fixed address, which it keeps when stopped and started or when
// disconnected and reconnected, as a host keeps its address through a
// reboot or a partition.
type Container struct {
	pool     *dockertest.Pool
	id       string
	name     string
	network  string
	endpoint dc.EndpointConfig
	ports    map[string]string
	ready    func(ctx context.Context, c *Container) error
}

// ID is the engine's ID of the container.
func (c *Container) ID() string {
	return c.id
}

// Name is the container's name on the engine.
func (c *Container) Name() string {
	return c.name
}

// IP is the container's address on the cluster's network.
func (c *Container) IP() string {
	return c.endpoint.IPAMConfig.IPv4Address
}

// HostAddr is the loopback address, host:port, at which a published
// container port (e.g. "50051/tcp") is reached from the test; "" if the
// port is not published.
func (c *Container) HostAddr(port string) string {
	return c.ports[port]
}

// Stop stops the container with its stop signal, and kills it if it has
// not exited within 10 seconds. A stopped container is left as it is.
func (c *Container) Stop(ctx context.Context) error {
	err := c.pool.Client.StopContainerWithContext(
		c.id, uint(stopTimeout.Seconds()), ctx)

	var notRunning *dc.ContainerNotRunning
	if err != nil && !errors.As(err, &notRunning) {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}

	return nil
}

// Start starts a stopped container and waits until it is ready.
func (c *Container) Start(ctx context.Context) error {
	err := c.pool.Client.StartContainerWithContext(c.id, nil, ctx)

	var running *dc.ContainerAlreadyRunning
	if err != nil && !errors.As(err, &running) {
		return fmt.Errorf("start %s: %w", c.name, err)
	}

	return c.WaitReady(ctx)
}

// Disconnect cuts the container off the cluster's network: it reaches
// no other container and none reaches it. Docker publishes ports through
// that network, so the test cannot reach it either.
func (c *Container) Disconnect(ctx context.Context) error {
	err := c.pool.Client.DisconnectNetwork(c.network,
		dc.NetworkConnectionOptions{
			Container: c.id,
			Force:     true,
			Context:   ctx,
		})
	if err != nil {
		return fmt.Errorf("disconnect %s: %w", c.name, err)
	}

	return nil
}

// Reconnect attaches a disconnected container again, with its address
// and names, and waits until it is ready.
func (c *Container) Reconnect(ctx context.Context) error {
	endpoint := c.endpoint
	err := c.pool.Client.ConnectNetwork(c.network,
		dc.NetworkConnectionOptions{
			Container:      c.id,
			EndpointConfig: &endpoint,
			Context:        ctx,
		})
	if err != nil {
		return fmt.Errorf("reconnect %s: %w", c.name, err)
	}

	return c.WaitReady(ctx)
}

// WaitReady waits until the container's readiness check passes, for two
// minutes at most.
func (c *Container) WaitReady(ctx context.Context) error {
	if c.ready == nil {
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	for {
		err := c.ready(ctx, c)
		if err == nil {
			return nil
		}

		select {
		case <-ctx.Done():
			logs, _ := c.Logs(context.Background(), 20)
			return fmt.Errorf("%s is not ready: %w; last logs:\n%s",
				c.name, err, logs)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Exec runs a command in the running container and returns its output,
// stdout and stderr mixed. A non-zero exit is an error. Images made by
// BuildGoImage hold no shell: only their own binary can be run.
func (c *Container) Exec(ctx context.Context, cmd ...string) (string, error) {
	exec, err := c.pool.Client.CreateExec(dc.CreateExecOptions{
		Container:    c.id,
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
		Context:      ctx,
	})
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", c.name, err)
	}

	var out bytes.Buffer
	err = c.pool.Client.StartExec(exec.ID, dc.StartExecOptions{
		OutputStream: &out,
		ErrorStream:  &out,
		Context:      ctx,
	})
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", c.name, err)
	}

	inspect, err := c.pool.Client.InspectExec(exec.ID)
	if err != nil {
		return "", fmt.Errorf("exec in %s: %w", c.name, err)
	}

	if inspect.ExitCode != 0 {
		return out.String(), fmt.Errorf("exec %q in %s: exit code %d: %s",
			strings.Join(cmd, " "), c.name, inspect.ExitCode, out.String())
	}

	return out.String(), nil
}

// Logs returns the container's last lines of output, stdout and stderr
// mixed; all of them when lines is 0.
func (c *Container) Logs(ctx context.Context, lines int) (string, error) {
	tail := "all"
	if lines > 0 {
		tail = fmt.Sprint(lines)
	}

	var out bytes.Buffer
	err := c.pool.Client.Logs(dc.LogsOptions{
		Container:    c.id,
		OutputStream: &out,
		ErrorStream:  &out,
		Stdout:       true,
		Stderr:       true,
		Tail:         tail,
		Context:      ctx,
	})
	if err != nil {
		return "", fmt.Errorf("logs of %s: %w", c.name, err)
	}

	return out.String(), nil
}

// createContainer creates and starts a container on network at ip,
// publishing spec.Ports on loopback. It does not wait for readiness.
func createContainer(
	ctx context.Context,
	pool *dockertest.Pool,
	network string,
	ip netip.Addr,
	name string,
	labels map[string]string,
	spec ContainerSpec,
) (*Container, error) {
	aliases := append([]string{spec.Name}, spec.Aliases...)
	endpoint := dc.EndpointConfig{
		Aliases: aliases,
		IPAMConfig: &dc.EndpointIPAMConfig{
			IPv4Address: ip.String(),
		},
	}

	exposed := map[dc.Port]struct{}{}
	bindings := map[dc.Port][]dc.PortBinding{}
	ports := map[string]string{}

	for _, port := range spec.Ports {
		hostPort, err := freeLoopbackPort()
		if err != nil {
			return nil, err
		}

		exposed[dc.Port(port)] = struct{}{}
		bindings[dc.Port(port)] = []dc.PortBinding{{
			HostIP:   "127.0.0.1",
			HostPort: hostPort,
		}}
		ports[port] = net.JoinHostPort("127.0.0.1", hostPort)
	}

	// Fixed host ports, rather than ports the engine picks, stay the
	// same when the container is started again.
	created, err := pool.Client.CreateContainer(dc.CreateContainerOptions{
		Name: name,
		Config: &dc.Config{
			Image:        spec.Image,
			Cmd:          spec.Cmd,
			Env:          spec.Env,
			Labels:       labels,
			ExposedPorts: exposed,
		},
		HostConfig: &dc.HostConfig{
			PortBindings: bindings,
		},
		NetworkingConfig: &dc.NetworkingConfig{
			EndpointsConfig: map[string]*dc.EndpointConfig{
				network: &endpoint,
			},
		},
		Context: ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}

	c := &Container{
		pool:     pool,
		id:       created.ID,
		name:     name,
		network:  network,
		endpoint: endpoint,
		ports:    ports,
		ready:    spec.Ready,
	}

	err = uploadFiles(ctx, pool, c.id, spec.Files)
	if err != nil {
		return c, fmt.Errorf("files of %s: %w", name, err)
	}

	err = pool.Client.StartContainerWithContext(c.id, nil, ctx)
	if err != nil {
		return c, fmt.Errorf("start %s: %w", name, err)
	}

	return c, nil
}

// uploadFiles copies files into the container, through the engine's API
// rather than a bind mount, so that it works with a remote engine too.
func uploadFiles(
	ctx context.Context,
	pool *dockertest.Pool,
	id string,
	files []File,
) error {
	if len(files) == 0 {
		return nil
	}

	archive, err := tarFiles(files)
	if err != nil {
		return err
	}

	return pool.Client.UploadToContainer(id, dc.UploadToContainerOptions{
		InputStream: bytes.NewReader(archive),
		Path:        "/",
		Context:     ctx,
	})
}

// tarFiles writes files, and their parent folders, as a tar archive
// rooted at /.
func tarFiles(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	made := map[string]bool{}
	modTime := time.Now()

	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("file %q: want a clean, "+
				"absolute path", f.Path)
		}

		name := strings.TrimPrefix(f.Path, "/")
		for _, dir := range parentDirs(name) {
			if made[dir] {
				continue
			}

			made[dir] = true
			err := tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeDir,
				Name:     dir + "/",
				Mode:     0o755,
				ModTime:  modTime,
			})
			if err != nil {
				return nil, err
			}
		}

		mode := f.Mode
		if mode == 0 {
			mode = 0o400
		}

		err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Mode:     mode,
			Uid:      f.UID,
			Gid:      f.GID,
			Size:     int64(len(f.Content)),
			ModTime:  modTime,
		})
		if err != nil {
			return nil, err
		}

		_, err = tw.Write(f.Content)
		if err != nil {
			return nil, err
		}
	}

	err := tw.Close()
	if err != nil {
		return nil, err
	}

	return buf.Bytes(), nil
}

// parentDirs lists the folders above a relative path, outermost first:
// "etc/iamd/key" gives "etc", "etc/iamd".
func parentDirs(name string) []string {
	var dirs []string
	for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
		dirs = append([]string{dir}, dirs...)
	}

	return dirs
}

// freeLoopbackPort returns a TCP port that is free on 127.0.0.1 now. The
// engine binds it a moment later; another process taking it in between
// makes the container's start fail, which Run retries.
func freeLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()

	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "", err
	}

	return port, nil
}

// isPortConflict tells whether starting a container failed because a
// host port it publishes was taken.
func isPortConflict(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "address already in use") ||
		strings.Contains(msg, "port is already allocated")
}
