// Package iamclient is a client of iamd for platform services: it
// answers permission checks (Check, CheckRole, CheckBulk) and identifies
// bearer tokens (WhoAmI, Identify) over gRPC, and implements
// authz.Checker and authz.Identifier for the HTTP, gRPC and Connect
// adapters.
//
// # Transport
//
// The client speaks gRPC through Connect: HTTP/2 over TLS for an https://
// URL, verified with Config.TLSConfig (the system roots by default), and
// unencrypted HTTP/2 (h2c) for an http:// URL, which iamd serves on its
// own port. It ignores proxy environment variables: a permission check
// goes straight to iamd.
//
// # Credentials
//
// Every call carries the service's bearer token. iamd answers a check of
// another principal only for the operator, or for a principal holding
// iam.users.permissions in the checked organization (IAM Viewer): a
// service that serves every organization needs the operator's token. The
// token is never logged nor put in an error message.
//
// # Failures
//
// All four calls are read-only, so the client retries them when iamd
// answers Unavailable (and only then), at most Config.MaxAttempts times
// with a jittered exponential backoff; each attempt is bounded by
// Config.Timeout. Errors wrap the authz sentinels: ErrInvalid for a
// request iamd rejects, ErrUnauthenticated for a refused token,
// ErrForbidden when the service's token may not ask, and ErrUnavailable
// for everything else. A failure is never an allow.
package iamclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/internal/retry"
)

// Config says how to reach iamd.
type Config struct {
	// URL is iamd's base URL, e.g. "http://127.0.0.1:8080" or
	// "https://iamd.internal". Required.
	URL string

	// Token is the service's bearer token. Required.
	Token string

	// TLSConfig verifies iamd for an https:// URL; nil uses the system
	// roots. It is refused with an http:// URL, where it would be
	// silently unused.
	TLSConfig *tls.Config

	// Timeout bounds each attempt of a call; 2s if zero.
	Timeout time.Duration

	// MaxAttempts is the most times a call is tried; 3 if zero, and 1
	// disables retries.
	MaxAttempts int

	// Backoff is the wait before the first retry, doubled for each
	// further retry up to MaxBackoff; 50ms and 1s if zero.
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Client is an iamd client. It is safe for concurrent use.
type Client struct {
	api   iamv1connect.IAMServiceClient
	http  *http.Client
	token string
	retry retry.Policy
}

var (
	_ authz.Checker    = (*Client)(nil)
	_ authz.Identifier = (*Client)(nil)
)

// Dial and handshake bounds of the transport; each call's own bound is
// Config.Timeout.
const (
	dialTimeout      = 5 * time.Second
	handshakeTimeout = 5 * time.Second
	idleConnTimeout  = 90 * time.Second
)

// New validates cfg and returns a client. No connection is made until
// the first call.
func New(cfg Config) (*Client, error) {
	base, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if err := checkToken("Config.Token", cfg.Token); err != nil {
		return nil, err
	}
	if base.Scheme == "http" && cfg.TLSConfig != nil {
		return nil, fmt.Errorf("iamclient: Config.TLSConfig is set but "+
			"Config.URL %q is http://; use an https:// URL", cfg.URL)
	}
	policy, err := retry.Policy{
		Attempts:   cfg.MaxAttempts,
		Timeout:    cfg.Timeout,
		Backoff:    cfg.Backoff,
		MaxBackoff: cfg.MaxBackoff,
	}.WithDefaults("iamclient: Config.")
	if err != nil {
		return nil, err
	}

	hc := &http.Client{Transport: transport(base.Scheme, cfg.TLSConfig)}
	api := iamv1connect.NewIAMServiceClient(hc, base.String(),
		connect.WithGRPC())
	return &Client{api: api, http: hc, token: cfg.Token, retry: policy}, nil
}

// transport speaks HTTP/2 only, as gRPC needs: over TLS for https, with
// prior knowledge (h2c) for http.
func transport(scheme string, tlsConfig *tls.Config) *http.Transport {
	protocols := new(http.Protocols)
	if scheme == "https" {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         dialer.DialContext,
		Protocols:           protocols,
		TLSHandshakeTimeout: handshakeTimeout,
		IdleConnTimeout:     idleConnTimeout,
		ForceAttemptHTTP2:   true,
	}
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig.Clone()
	}
	return t
}

// Close releases the client's idle connections. The client stays
// usable.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
}

// parseURL validates Config.URL: an absolute http or https URL without
// credentials, query or fragment.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" ||
		(u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("iamclient: Config.URL %q is not an "+
			"http:// or https:// URL; write it like "+
			"http://127.0.0.1:8080", raw)
	}
	if u.User != nil {
		return nil, errors.New("iamclient: Config.URL holds credentials; " +
			"remove them and pass the token in Config.Token")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("iamclient: Config.URL %q has a query or "+
			"fragment; give only scheme, host and path", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// checkToken rejects a token that cannot travel in an HTTP header. The
// message never repeats the token.
func checkToken(field, token string) error {
	if token == "" {
		return fmt.Errorf("iamclient: %s is empty; iamd answers no "+
			"call without a bearer token", field)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("iamclient: %s holds a space or a "+
				"non-ASCII character at byte %d", field, i)
		}
	}
	return nil
}
