package engine

import (
	"context"
	"fmt"

	"github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// RemoteConfig says how to reach a SpiceDB server.
type RemoteConfig struct {
	// Endpoint is host:port of SpiceDB's gRPC API.
	Endpoint string

	// Token is SpiceDB's preshared key. It is sent on every call and never
	// logged.
	Token string

	// Insecure sends plaintext; only for loopback and private networks.
	Insecure bool

	// CACertPath, when set, verifies the server with this CA bundle
	// instead of the system roots.
	CACertPath string
}

// NewRemote connects to a SpiceDB server. The connection is lazy: the
// first call, or Ping, reaches the server.
func NewRemote(_ context.Context, cfg RemoteConfig) (*Engine, error) {
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("engine: a remote SpiceDB endpoint is required")
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("engine: a remote SpiceDB needs its preshared key")
	}

	var opts []grpc.DialOption
	switch {
	case cfg.Insecure:
		opts = append(opts,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpcutil.WithInsecureBearerToken(cfg.Token))
	case cfg.CACertPath != "":
		tls, err := grpcutil.WithCustomCerts(grpcutil.VerifyCA, cfg.CACertPath)
		if err != nil {
			return nil, fmt.Errorf("engine: loading CA %s: %w", cfg.CACertPath, err)
		}
		opts = append(opts, tls, grpcutil.WithBearerToken(cfg.Token))
	default:
		tls, err := grpcutil.WithSystemCerts(grpcutil.VerifyCA)
		if err != nil {
			return nil, fmt.Errorf("engine: loading system CAs: %w", err)
		}
		opts = append(opts, tls, grpcutil.WithBearerToken(cfg.Token))
	}

	client, err := authzed.NewClient(cfg.Endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("engine: connecting to %s: %w", cfg.Endpoint, err)
	}

	return &Engine{
		PermissionsServiceClient: client.PermissionsServiceClient,
		SchemaServiceClient:      client.SchemaServiceClient,
		WatchServiceClient:       client.WatchServiceClient,
		Kind:                     "remote",
		closers:                  []func() error{client.Close},
	}, nil
}
