package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// readinessService is the health service a node reports SERVING once
// its datastore and dispatcher are ready.
const readinessService = "authzed.api.v1.PermissionsService"

// Node is one SpiceDB node of a cluster.
type Node struct {
	*Container

	key string
}

// GRPCAddr is the loopback address of the node's API.
func (n *Node) GRPCAddr() string {
	return n.HostAddr(GRPCPort)
}

// MetricsAddr is the loopback address of the node's metrics endpoint.
func (n *Node) MetricsAddr() string {
	return n.HostAddr(MetricsPort)
}

// Dial opens an authzed client to the node, without TLS, with the
// cluster's preshared key. The caller closes it.
func (n *Node) Dial() (*authzed.Client, error) {
	// authzed.NewClient falls back to a public endpoint for an empty
	// address: never let that happen.
	addr := n.GRPCAddr()
	if addr == "" {
		return nil, fmt.Errorf("%s publishes no API port", n.name)
	}

	return authzed.NewClient(addr, n.dialOptions()...)
}

// Client returns a client to the node that is closed when the test
// ends. gRPC reconnects by itself, so one client outlives a stop and
// start of the node.
func (n *Node) Client(t testing.TB) *authzed.Client {
	t.Helper()

	client, err := n.Dial()
	if err != nil {
		t.Fatalf("e2e: dial %s: %v", n.name, err)
	}

	t.Cleanup(func() { _ = client.Close() })

	return client
}

// dialOptions are the options of every connection to the node.
func (n *Node) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcutil.WithInsecureBearerToken(n.key),
	}
}

// ready asks the node's health service whether it serves.
func (n *Node) ready(ctx context.Context, _ *Container) error {
	conn, err := grpc.NewClient(n.GRPCAddr(), n.dialOptions()...)
	if err != nil {
		return err
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()

	resp, err := healthpb.NewHealthClient(conn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: readinessService})
	if err != nil {
		return err
	}

	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health of %s: %s",
			readinessService, resp.GetStatus())
	}

	return nil
}

// Metrics scrapes the node's Prometheus endpoint.
func (n *Node) Metrics(ctx context.Context) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	endpoint := "http://" + n.MetricsAddr() + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, err
	}

	// Plain text: the parser reads the text format only.
	req.Header.Set("Accept", "text/plain")

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", n.name, err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", n.name, resp.Status)
	}

	return ParseMetrics(resp.Body)
}

// DispatchesServed is the number of calls the node's dispatch API has
// answered, from this node or its peers, since the node started.
func (n *Node) DispatchesServed(ctx context.Context) (float64, error) {
	samples, err := n.Metrics(ctx)
	if err != nil {
		return 0, err
	}

	total := SumSamples(samples, "grpc_server_handled_total",
		map[string]string{"grpc_service": "dispatch.v1.DispatchService"})

	return total, nil
}

// Postgres is the PostgreSQL server of a cluster. Its data lives in the
// container, so it survives a stop and start but not the cluster.
type Postgres struct {
	*Container
}

// NetworkURI is the connection URI of the server for the other
// containers of the cluster's network.
func (p *Postgres) NetworkURI() string {
	return postgresURI(postgresName + ":5432")
}

// HostURI is the connection URI of the server from the test, on
// loopback.
func (p *Postgres) HostURI() string {
	return postgresURI(p.HostAddr(PostgresPort))
}

// postgresURI is the URI of the "postgres" database at addr.
func postgresURI(addr string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", postgresPassword),
		Host:     addr,
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}

	return u.String()
}

// postgresReady asks pg_isready, inside the container, whether the
// server accepts TCP connections.
func postgresReady(ctx context.Context, c *Container) error {
	_, err := c.Exec(ctx, "pg_isready", "--quiet",
		"--host=127.0.0.1", "--username=postgres")

	return err
}
