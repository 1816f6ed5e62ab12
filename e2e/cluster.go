package e2e

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// Ports and names inside the cluster's network.
const (
	// postgresName resolves to the PostgreSQL container.
	postgresName = "postgres"

	// peersAlias resolves to every SpiceDB node at once: the nodes'
	// dispatch client resolves it through DNS and spreads dispatches
	// over all the addresses it gets.
	peersAlias = "spicedb"

	// GRPCPort is the container port of SpiceDB's API.
	GRPCPort = "50051/tcp"

	// MetricsPort is the container port of SpiceDB's Prometheus metrics.
	MetricsPort = "9090/tcp"

	// PostgresPort is the container port of PostgreSQL.
	PostgresPort = "5432/tcp"

	dispatchPort = "50053"
)

// errSubnetTaken reports that a network's subnet was taken by another
// network before it could be created.
var errSubnetTaken = errors.New("subnet taken meanwhile")

// setupTimeout bounds the start of a cluster, images aside.
const setupTimeout = 5 * time.Minute

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// Nodes is the number of SpiceDB nodes; 2 when zero.
	Nodes int
}

// Cluster is a SpiceDB cluster on PostgreSQL, on a Docker network of its
// own. Every container and the network are removed when the test ends,
// whatever its outcome.
type Cluster struct {
	// PresharedKey authenticates clients to the nodes and the nodes to
	// one another.
	PresharedKey string

	// Postgres is the datastore of every node.
	Postgres *Postgres

	// Nodes are the SpiceDB nodes, numbered from 1 in their names.
	Nodes []*Node

	pool   *dockertest.Pool
	images Images
	runID  string
	labels map[string]string

	network *dc.Network
	subnet  netip.Prefix

	mu         sync.Mutex
	nextHost   int
	containers []*Container
}

// StartCluster starts PostgreSQL, migrates it with `spicedb datastore
// migrate head`, and starts opts.Nodes SpiceDB nodes on it that dispatch
// to each other. It returns once every node serves. It skips or fails
// the test as Docker does, builds the images if needed, and first
// removes what dead runs left on the engine.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()

	if opts.Nodes == 0 {
		opts.Nodes = 2
	}

	if opts.Nodes < 1 || opts.Nodes > 100 {
		t.Fatalf("e2e: ClusterOptions.Nodes is %d, want 1 to 100",
			opts.Nodes)
	}

	pool := Docker(t)
	images := BuildImages(t, pool)

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()

	err := purgeLeftovers(ctx, pool)
	if err != nil {
		t.Fatalf("e2e: remove leftovers of earlier runs: %v", err)
	}

	c := &Cluster{
		PresharedKey: randomHex(16),
		pool:         pool,
		images:       images,
		runID:        randomHex(4),
		labels: map[string]string{
			labelSuite: "true",
			labelOwner: processOwner(),
		},
		// Host 1 is the gateway; containers take the next ones.
		nextHost: 2,
	}

	// Cleanup is registered before anything exists, so that a setup
	// failing halfway still removes what it made.
	t.Cleanup(func() { c.cleanup(t) })

	err = c.start(ctx, opts.Nodes)
	if err != nil {
		t.Fatalf("e2e: start cluster: %v", err)
	}

	return c
}

// start creates the network, then PostgreSQL, migrates, then the nodes.
func (c *Cluster) start(ctx context.Context, nodes int) error {
	// Another run may take the subnet between the probe and the
	// creation of the network: then probe again.
	var err error
	for range 3 {
		err = c.createNetwork(ctx)
		if err == nil || !errors.Is(err, errSubnetTaken) {
			break
		}
	}

	if err != nil {
		return err
	}

	pg, err := c.Run(ctx, ContainerSpec{
		Name:  postgresName,
		Image: c.images.Postgres,
		Ports: []string{PostgresPort},
		Ready: postgresReady,
	})
	if err != nil {
		return err
	}

	c.Postgres = &Postgres{Container: pg}

	err = c.migrate(ctx)
	if err != nil {
		return err
	}

	// Nodes start side by side; each is waited for afterwards.
	for i := 1; i <= nodes; i++ {
		node, err := c.startNode(ctx, i)
		if err != nil {
			return err
		}

		c.Nodes = append(c.Nodes, node)
	}

	for _, node := range c.Nodes {
		err := node.WaitReady(ctx)
		if err != nil {
			return err
		}
	}

	return nil
}

// createNetwork creates the run's bridge network with a subnet of its
// own. Fixed container addresses require a subnet given at creation, so
// the engine first picks a free one for a network that is then made
// again with that subnet spelled out.
func (c *Cluster) createNetwork(ctx context.Context) error {
	name := "iam-e2e-" + c.runID
	opts := dc.CreateNetworkOptions{
		Name:           name,
		Driver:         "bridge",
		Labels:         c.labels,
		CheckDuplicate: true,
		Context:        ctx,
	}

	probe, err := c.pool.Client.CreateNetwork(opts)
	if err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}

	info, err := c.pool.Client.NetworkInfo(probe.ID)
	removeErr := c.pool.Client.RemoveNetwork(probe.ID)
	if err != nil {
		return fmt.Errorf("inspect network %s: %w", name, err)
	}

	if removeErr != nil {
		return fmt.Errorf("remove network %s: %w", name, removeErr)
	}

	subnet, err := ipv4Subnet(info.IPAM.Config)
	if err != nil {
		return fmt.Errorf("network %s: %w", name, err)
	}

	gateway, err := hostAddr(subnet, 1)
	if err != nil {
		return err
	}

	opts.IPAM = &dc.IPAMOptions{
		Driver: "default",
		Config: []dc.IPAMConfig{{
			Subnet:  subnet.String(),
			Gateway: gateway.String(),
		}},
	}

	network, err := c.pool.Client.CreateNetwork(opts)
	if err != nil && strings.Contains(err.Error(), "overlaps") {
		return fmt.Errorf("create network %s on %s: %w: %w",
			name, subnet, errSubnetTaken, err)
	}

	if err != nil {
		return fmt.Errorf("create network %s on %s: %w", name, subnet, err)
	}

	c.network = network
	c.subnet = subnet

	return nil
}

// Run starts a container on the cluster's network at the next free
// address, waits until it is ready, and removes it when the test ends.
// It is how a test adds a service of its own, such as iamd, to the
// cluster.
func (c *Cluster) Run(ctx context.Context, spec ContainerSpec) (*Container, error) {
	ctr, err := c.runNoWait(ctx, spec)
	if err != nil {
		return nil, err
	}

	err = ctr.WaitReady(ctx)
	if err != nil {
		return nil, err
	}

	return ctr, nil
}

// runNoWait starts a container without waiting for readiness. A start
// that fails on a taken host port is tried again with other ports.
func (c *Cluster) runNoWait(
	ctx context.Context,
	spec ContainerSpec,
) (*Container, error) {
	if spec.Name == "" || spec.Image == "" {
		return nil, fmt.Errorf(
			"container spec %+v: Name and Image are required", spec)
	}

	c.mu.Lock()
	ip, err := hostAddr(c.subnet, c.nextHost)
	c.nextHost++
	c.mu.Unlock()

	if err != nil {
		return nil, err
	}

	name := "iam-e2e-" + c.runID + "-" + spec.Name

	for attempt := 1; ; attempt++ {
		ctr, err := createContainer(
			ctx, c.pool, c.network.ID, ip, name, c.labels, spec)
		if ctr != nil {
			c.track(ctr)
		}

		if err == nil {
			return ctr, nil
		}

		if ctr == nil || attempt == 3 || !isPortConflict(err) {
			return nil, err
		}

		err = removeContainer(ctx, c.pool, ctr.id)
		if err != nil {
			return nil, err
		}

		c.untrack(ctr)
	}
}

// track records a container for removal at cleanup.
func (c *Cluster) track(ctr *Container) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.containers = append(c.containers, ctr)
}

// untrack forgets a container that is already removed.
func (c *Cluster) untrack(ctr *Container) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.containers = slices.DeleteFunc(c.containers,
		func(other *Container) bool { return other == ctr })
}

// migrate runs `spicedb datastore migrate head` in a container of its
// own and waits for it to exit.
func (c *Cluster) migrate(ctx context.Context) error {
	ctr, err := c.runNoWait(ctx, ContainerSpec{
		Name:  "migrate",
		Image: c.images.SpiceDB,
		Cmd: []string{
			"datastore", "migrate", "head",
			"--skip-release-check",
			"--datastore-engine=postgres",
			"--datastore-conn-uri=" + c.Postgres.NetworkURI(),
		},
	})
	if err != nil {
		return err
	}

	code, err := c.pool.Client.WaitContainerWithContext(ctr.id, ctx)
	if err != nil {
		return fmt.Errorf("wait for migration: %w", err)
	}

	if code != 0 {
		logs, _ := ctr.Logs(ctx, 30)
		return fmt.Errorf("spicedb datastore migrate head: exit code %d:\n%s",
			code, logs)
	}

	err = removeContainer(ctx, c.pool, ctr.id)
	if err != nil {
		return err
	}

	c.untrack(ctr)

	return nil
}

// startNode starts SpiceDB node i, without waiting for it.
//
// Dispatch: every node serves the dispatch API on port 50053 and sends
// its own dispatches to dns:///spicedb:50053. "spicedb" is a network
// alias of every node, so Docker's DNS answers with all their addresses,
// and SpiceDB's consistent-hash balancer spreads sub-problems over them,
// this node included. The preshared key also guards the dispatch API.
func (c *Cluster) startNode(ctx context.Context, i int) (*Node, error) {
	node := &Node{key: c.PresharedKey}

	ctr, err := c.runNoWait(ctx, ContainerSpec{
		Name:    fmt.Sprintf("spicedb-%d", i),
		Image:   c.images.SpiceDB,
		Aliases: []string{peersAlias},
		Ports:   []string{GRPCPort, MetricsPort},
		Ready:   node.ready,
		Cmd: []string{
			"serve",
			// Neither the release check nor telemetry may leave the
			// machine.
			"--skip-release-check",
			"--telemetry-endpoint=",
			"--grpc-preshared-key=" + c.PresharedKey,
			"--grpc-addr=:50051",
			"--metrics-addr=:9090",
			"--datastore-engine=postgres",
			"--datastore-conn-uri=" + c.Postgres.NetworkURI(),
			// As the embedded engine (engine.DispatchChunkSize).
			"--dispatch-chunk-size=1000",
			"--dispatch-cluster-enabled",
			"--dispatch-cluster-addr=:" + dispatchPort,
			"--dispatch-upstream-addr=dns:///" + peersAlias +
				":" + dispatchPort,
		},
	})
	if err != nil {
		return nil, err
	}

	node.Container = ctr

	return node, nil
}

// cleanup removes the run's containers and network. When the test
// failed, it first logs the end of each container's output.
func (c *Cluster) cleanup(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c.mu.Lock()
	containers := slices.Clone(c.containers)
	c.mu.Unlock()

	if t.Failed() {
		for _, ctr := range containers {
			logs, err := ctr.Logs(ctx, 40)
			if err != nil {
				logs = err.Error()
			}

			t.Logf("e2e: last logs of %s:\n%s", ctr.name, logs)
		}
	}

	var errs []error
	for _, ctr := range containers {
		errs = append(errs, removeContainer(ctx, c.pool, ctr.id))
	}

	if c.network != nil {
		err := c.pool.Client.RemoveNetwork(c.network.ID)
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network: %w", err))
		}
	}

	err := errors.Join(errs...)
	if err != nil {
		t.Errorf("e2e: clean up: %v", err)
	}
}

// ipv4Subnet returns the IPv4 subnet among a network's IPAM configs.
func ipv4Subnet(configs []dc.IPAMConfig) (netip.Prefix, error) {
	for _, cfg := range configs {
		p, err := netip.ParsePrefix(cfg.Subnet)
		if err == nil && p.Addr().Is4() {
			return p.Masked(), nil
		}
	}

	return netip.Prefix{}, fmt.Errorf("no IPv4 subnet in %+v", configs)
}

// hostAddr returns the address of host number n in subnet.
func hostAddr(subnet netip.Prefix, n int) (netip.Addr, error) {
	// The last address of the subnet is its broadcast address.
	size := uint64(1) << (32 - subnet.Bits())
	if n < 1 || uint64(n) >= size-1 {
		return netip.Addr{}, fmt.Errorf(
			"no host %d in subnet %s", n, subnet)
	}

	base := subnet.Masked().Addr().As4()
	v := binary.BigEndian.Uint32(base[:]) + uint32(n)

	var out [4]byte
	binary.BigEndian.PutUint32(out[:], v)

	return netip.AddrFrom4(out), nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)

	return hex.EncodeToString(b)
}
