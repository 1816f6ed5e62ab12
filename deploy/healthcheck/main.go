// Command healthcheck probes a service from inside its own container and
// exits 0 when it is healthy, 1 when it is not.
//
// The images of iamd and SpiceDB hold no shell and no curl, so Docker's
// and Compose's health checks need a binary of their own to run:
//
//	healthcheck http://127.0.0.1:8080/readyz
//	healthcheck grpc://127.0.0.1:50051/authzed.api.v1.PermissionsService
//
// An http:// URL is healthy when a GET answers 2xx. A grpc:// URL asks
// the gRPC health service about the service named by the path (the
// server as a whole when the path is empty) and is healthy on SERVING.
// Both speak plaintext: the probe runs beside the server, on loopback.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// defaultTimeout bounds one probe. Docker kills a health check at its
// own timeout too, but an answer within ours says why it failed.
const defaultTimeout = 3 * time.Second

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run probes the URL of args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", defaultTimeout,
		"how long the probe may take")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout 3s] "+
			"http://HOST:PORT/PATH | grpc://HOST:PORT[/SERVICE]")
		fs.PrintDefaults()
	}

	err := fs.Parse(args)
	if err != nil {
		return 2
	}

	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	err = probe(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}

	fmt.Fprintln(stdout, "healthy")
	return 0
}

// probe checks the service at target, an http:// or grpc:// URL.
func probe(ctx context.Context, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("URL %q: %w", target, err)
	}

	if u.Host == "" {
		return fmt.Errorf("URL %q names no host:port; "+
			"use e.g. http://127.0.0.1:8080/readyz", target)
	}

	switch u.Scheme {
	case "http":
		return probeHTTP(ctx, u.String())
	case "grpc":
		service := strings.TrimPrefix(u.Path, "/")
		return probeGRPC(ctx, u.Host, service)
	default:
		return fmt.Errorf("URL %q: scheme %q is not http or grpc",
			target, u.Scheme)
	}
}

// probeHTTP is healthy when a GET of url answers 2xx.
func probeHTTP(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}

	return nil
}

// probeGRPC is healthy when the gRPC health service at addr reports
// service as SERVING.
func probeGRPC(ctx context.Context, addr, service string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	resp, err := healthpb.NewHealthClient(conn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return fmt.Errorf("health of %q at %s: %w", service, addr, err)
	}

	status := resp.GetStatus()
	if status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health of %q at %s: %s",
			service, addr, status)
	}

	return nil
}
