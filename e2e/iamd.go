package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/ory/dockertest/v3"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
)

// IAMDPort is the container port of iamd's API, which deploy/Dockerfile
// sets with IAMD_ADDR.
const IAMDPort = "8080/tcp"

// Where iamd's files go in its container.
const (
	iamdOperatorTokenPath = "/etc/iamd/operator-token"
	iamdSigningKeyPath    = "/etc/iamd/token-signing-key"
	iamdBootstrapPath     = "/etc/iamd/bootstrap.yaml"
)

// iamdUID is the user deploy/Dockerfile runs iamd as; its secrets must
// be readable by it alone.
const iamdUID = 65532

// IAMDSecrets are what every iamd of one deployment shares: a token
// minted by one is accepted by all.
type IAMDSecrets struct {
	// OperatorToken is the operator's bearer token.
	OperatorToken string

	// SigningKey signs and verifies minted tokens.
	SigningKey string
}

// NewIAMDSecrets returns fresh random secrets.
func NewIAMDSecrets() IAMDSecrets {
	return IAMDSecrets{
		OperatorToken: randomHex(24),
		SigningKey:    randomHex(32),
	}
}

// IAMDOptions configures Cluster.StartIAMD.
type IAMDOptions struct {
	// Name is the container's short name, e.g. "iamd-1".
	Name string

	// Secrets are the operator token and the signing key.
	Secrets IAMDSecrets

	// Bootstrap, when set, is an organization file that iamd applies at
	// start with --bootstrap.
	Bootstrap []byte
}

// IAMD is an iamd container in remote mode, in front of its cluster's
// SpiceDB nodes.
type IAMD struct {
	*Container
	*Endpoint
}

// Endpoint is iamd's API as the test reaches it, on loopback.
type Endpoint struct {
	// URL is the API's base URL, e.g. "http://127.0.0.1:8080".
	URL string

	secrets IAMDSecrets
	http    *http.Client
}

// NewEndpoint returns the endpoint of an iamd at url that holds
// secrets.
func NewEndpoint(url string, secrets IAMDSecrets) *Endpoint {
	// A client of its own: a restarted iamd leaves dead connections in
	// the pool, which must not leak into other endpoints' calls.
	transport := http.DefaultTransport.(*http.Transport).Clone()

	return &Endpoint{
		URL:     url,
		secrets: secrets,
		http:    &http.Client{Transport: transport},
	}
}

// builtIAMD keeps the outcome of the first BuildIAMDImage of the
// process, as builtImages does for the cluster's images.
var builtIAMD struct {
	once sync.Once
	ref  string
	err  error
}

// BuildIAMDImage returns iamd's image, built from deploy/Dockerfile
// when the engine lacks it. The work is done once per process.
func BuildIAMDImage(
	ctx context.Context,
	pool *dockertest.Pool,
) (string, error) {
	builtIAMD.once.Do(func() {
		// The build must survive the context of the test that started
		// it; compiling iamd on 2 cores takes minutes when uncached.
		buildCtx, cancel := context.WithTimeout(
			context.WithoutCancel(ctx), 20*time.Minute)
		defer cancel()

		builtIAMD.ref, builtIAMD.err = BuildGoImage(
			buildCtx, pool, iamdImage)
	})

	return builtIAMD.ref, builtIAMD.err
}

// StartIAMD runs iamd on the cluster's network with `iamd serve`,
// talking to the SpiceDB nodes through their shared name, and waits
// until its readiness probe passes.
func (c *Cluster) StartIAMD(ctx context.Context, opts IAMDOptions) (*IAMD, error) {
	if opts.Name == "" || opts.Secrets.OperatorToken == "" ||
		opts.Secrets.SigningKey == "" {
		return nil, fmt.Errorf("iamd options: Name, Secrets.OperatorToken " +
			"and Secrets.SigningKey are required")
	}

	image, err := BuildIAMDImage(ctx, c.pool)
	if err != nil {
		return nil, fmt.Errorf("iamd image: %w", err)
	}

	d := &IAMD{}

	files := []File{
		secretFile(iamdOperatorTokenPath, opts.Secrets.OperatorToken),
		secretFile(iamdSigningKeyPath, opts.Secrets.SigningKey),
	}

	// gRPC resolves the name to every node and fails over between
	// them; the preshared key travels in the environment, as a
	// Kubernetes secret would.
	cmd := []string{
		"serve",
		"--spicedb-endpoint=" + peersAlias + ":50051",
		"--spicedb-insecure",
		"--operator-token-file=" + iamdOperatorTokenPath,
		"--token-signing-key-file=" + iamdSigningKeyPath,
		"--log-format=json",
	}

	if opts.Bootstrap != nil {
		files = append(files, secretFile(iamdBootstrapPath,
			string(opts.Bootstrap)))
		cmd = append(cmd, "--bootstrap="+iamdBootstrapPath)
	}

	ctr, err := c.Run(ctx, ContainerSpec{
		Name:  opts.Name,
		Image: image,
		Cmd:   cmd,
		Env:   []string{"IAMD_SPICEDB_TOKEN=" + c.PresharedKey},
		Ports: []string{IAMDPort},
		Files: files,
		Ready: func(ctx context.Context, c *Container) error {
			// Run returns the container only once it is ready.
			url := "http://" + c.HostAddr(IAMDPort)
			return NewEndpoint(url, opts.Secrets).Ready(ctx)
		},
	})
	if err != nil {
		return nil, err
	}

	d.Container = ctr
	d.Endpoint = NewEndpoint("http://"+ctr.HostAddr(IAMDPort), opts.Secrets)

	return d, nil
}

// secretFile is a file readable by iamd's user alone.
func secretFile(path, content string) File {
	return File{
		Path:    path,
		Content: []byte(content),
		Mode:    0o400,
		UID:     iamdUID,
		GID:     iamdUID,
	}
}

// Operator is a client of iamd's API that calls as the operator.
func (e *Endpoint) Operator() iamv1connect.IAMServiceClient {
	return e.Client(e.secrets.OperatorToken)
}

// Client is a client of iamd's API that sends token, e.g. one minted
// with MintToken, as its bearer token.
func (e *Endpoint) Client(token string) iamv1connect.IAMServiceClient {
	return iamv1connect.NewIAMServiceClient(e.http, e.URL,
		connect.WithInterceptors(bearerToken(token)))
}

// Ready asks iamd's readiness endpoint, which pings SpiceDB.
func (e *Endpoint) Ready(ctx context.Context) error {
	return probeHTTP(ctx, e.http, e.URL+"/readyz")
}

// probeHTTP succeeds when a GET of url answers 200 within two seconds.
func probeHTTP(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}

	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}

	return nil
}

// bearerToken adds "Authorization: Bearer token" to every call.
func bearerToken(token string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(
				ctx context.Context,
				req connect.AnyRequest,
			) (connect.AnyResponse, error) {
				req.Header().Set("Authorization",
					"Bearer "+strings.TrimSpace(token))
				return next(ctx, req)
			}
		})
}
