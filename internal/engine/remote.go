package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Time limits of the connection to a remote SpiceDB. Without them a call
// to a partitioned SpiceDB waits for the caller's own deadline, and a
// healed partition waits out gRPC's two-minute reconnect backoff.
const (
	// DefaultCallTimeout bounds a unary call that brings no earlier
	// deadline of its own.
	DefaultCallTimeout = 5 * time.Second

	maxReconnectWait = 3 * time.Second
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

	// CallTimeout bounds each unary call; DefaultCallTimeout if zero.
	CallTimeout time.Duration
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

	callTimeout := cfg.CallTimeout
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	// No client keepalive: SpiceDB's gRPC server keeps the default
	// enforcement policy, which closes connections that ping more often
	// than every five minutes. The call deadline detects a dead peer.
	opts = append(opts,
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay: 100 * time.Millisecond, Multiplier: 1.6,
				Jitter: 0.2, MaxDelay: maxReconnectWait,
			},
			MinConnectTimeout: callTimeout,
		}),
		grpc.WithChainUnaryInterceptor(deadline(callTimeout)),
		grpc.WithChainStreamInterceptor(firstResponseDeadline(callTimeout)))

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

// deadline gives every unary call at most timeout, keeping an earlier
// deadline the caller set.
func deadline(timeout time.Duration) grpc.UnaryClientInterceptor {
	return func(
		ctx context.Context, method string, req, reply any,
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption,
	) error {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// firstResponseDeadline gives a stream at most timeout to deliver its
// first message. A long read may then take the time it needs, but a
// stream to a vanished SpiceDB fails fast instead of hanging.
func firstResponseDeadline(timeout time.Duration) grpc.StreamClientInterceptor {
	return func(
		ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption,
	) (grpc.ClientStream, error) {
		ctx, cancel := context.WithCancel(ctx)
		w := &watchedStream{cancel: cancel, timeout: timeout}
		w.timer = time.AfterFunc(timeout, func() {
			w.fired.Store(true)
			cancel()
		})

		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			w.finish()
			return nil, w.explain(err)
		}
		w.ClientStream = cs
		return w, nil
	}
}

// watchedStream is a client stream under a first-response deadline.
type watchedStream struct {
	grpc.ClientStream

	timeout time.Duration
	timer   *time.Timer
	cancel  context.CancelFunc
	fired   atomic.Bool
	first   sync.Once
}

// RecvMsg stops the deadline at the first message and releases the
// stream's context when the stream ends.
func (w *watchedStream) RecvMsg(m any) error {
	err := w.ClientStream.RecvMsg(m)
	w.first.Do(func() { w.timer.Stop() })
	if err != nil {
		w.finish()
		return w.explain(err)
	}
	return nil
}

func (w *watchedStream) finish() {
	w.timer.Stop()
	w.cancel()
}

// explain reports a stream the deadline cut as DeadlineExceeded, which
// callers treat as SpiceDB being unavailable.
func (w *watchedStream) explain(err error) error {
	if w.fired.Load() && !errors.Is(err, io.EOF) {
		return status.Errorf(codes.DeadlineExceeded,
			"SpiceDB sent nothing within %s", w.timeout)
	}
	return err
}
