// Package spicedbcheck answers permission checks without iamd, straight
// from the SpiceDB that iamd manages, for services that run next to it
// and cannot afford the extra hop. It implements authz.Checker, so the
// HTTP, gRPC and Connect adapters and the cache take it as they take the
// iamd client.
//
// It reaches SpiceDB with authzed-go and evaluates checks with iamd's own
// translation of organizations, principals, roles and console actions,
// so that both modes give the same answers. It reads only: iamd writes
// the schema and every relationship, and hands out the ZedTokens that
// make checks here as fresh as its writes.
//
// It needs SpiceDB's preshared key, which also allows writes: give it
// only to services trusted as much as iamd itself. Every other service
// should use package iamclient.
//
// Failures are as in iamclient: a check SpiceDB cannot answer is
// retried while SpiceDB is Unavailable, within Config.Timeout per
// attempt, and then fails with an error wrapping authz.ErrUnavailable;
// a malformed request fails with authz.ErrInvalid. A failure is never an
// allow.
package spicedbcheck

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/internal/retry"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// Config says how to reach SpiceDB.
type Config struct {
	// Endpoint is host:port of SpiceDB's gRPC API. Required.
	Endpoint string

	// PresharedKey is SpiceDB's preshared key. Required; never logged.
	PresharedKey string

	// Insecure talks to SpiceDB without TLS: only for loopback and
	// private networks.
	Insecure bool

	// CACertPath, when set, verifies SpiceDB with this CA bundle instead
	// of the system roots.
	CACertPath string

	// FullyConsistent makes checks without a consistency token read the
	// newest data instead of SpiceDB's slightly cached snapshot, at a
	// cost in latency. Passing the ZedToken of a write is the cheaper way
	// to see that write.
	FullyConsistent bool

	// Timeout bounds each attempt of a check; 2s if zero.
	Timeout time.Duration

	// MaxAttempts is the most times a check is tried; 3 if zero, and 1
	// disables retries.
	MaxAttempts int
}

// Checker answers checks from SpiceDB. It is safe for concurrent use.
type Checker struct {
	svc    *iam.Service
	engine *engine.Engine
	retry  retry.Policy
}

var _ authz.Checker = (*Checker)(nil)

// New connects to SpiceDB. The connection is lazy: the first check
// reaches the server.
func New(ctx context.Context, cfg Config) (*Checker, error) {
	if cfg.Insecure && cfg.CACertPath != "" {
		return nil, errors.New("spicedbcheck: Config.Insecure and " +
			"Config.CACertPath contradict each other; choose one")
	}
	policy, err := retry.Policy{
		Attempts: cfg.MaxAttempts,
		Timeout:  cfg.Timeout,
	}.WithDefaults("spicedbcheck: Config.")
	if err != nil {
		return nil, err
	}

	e, err := engine.NewRemote(ctx, engine.RemoteConfig{
		Endpoint:   cfg.Endpoint,
		Token:      cfg.PresharedKey,
		Insecure:   cfg.Insecure,
		CACertPath: cfg.CACertPath,
	})
	if err != nil {
		return nil, fmt.Errorf("spicedbcheck: %w", err)
	}

	svc := iam.New(e, iam.WithFullyConsistentChecks(cfg.FullyConsistent))
	return &Checker{svc: svc, engine: e, retry: policy}, nil
}

// Close closes the connection to SpiceDB.
func (c *Checker) Close() error {
	return c.engine.Close()
}

// Check answers whether req.Principal may perform req.Action in
// req.Organization.
func (c *Checker) Check(
	ctx context.Context, req authz.CheckRequest,
) (authz.Decision, error) {
	return c.check(ctx, iam.CheckRequest{
		Org:            req.Organization,
		Principal:      req.Principal,
		Action:         req.Action,
		AtLeastAsFresh: req.ConsistencyToken,
	})
}

// CheckRole answers whether req.Principal holds req.Role (or a role that
// includes it) in req.Organization.
func (c *Checker) CheckRole(
	ctx context.Context, req authz.RoleRequest,
) (authz.Decision, error) {
	return c.check(ctx, iam.CheckRequest{
		Org:            req.Organization,
		Principal:      req.Principal,
		Role:           req.Role,
		AtLeastAsFresh: req.ConsistencyToken,
	})
}

// check answers one check of the facade, by action or by role.
func (c *Checker) check(
	ctx context.Context, req iam.CheckRequest,
) (authz.Decision, error) {
	var d iam.Decision
	err := c.do(ctx, func(ctx context.Context) (err error) {
		d, err = c.svc.Check(ctx, req)
		return err
	})
	if err != nil {
		return authz.Decision{}, err
	}
	return authz.Decision{Allowed: d.Allowed, ConsistencyToken: d.Token}, nil
}

// CheckBulk answers many checks at one snapshot, in request order.
func (c *Checker) CheckBulk(
	ctx context.Context, reqs []authz.CheckRequest,
) (authz.BulkDecision, error) {
	in := make([]iam.CheckRequest, len(reqs))
	for i, r := range reqs {
		in[i] = iam.CheckRequest{
			Org:            r.Organization,
			Principal:      r.Principal,
			Action:         r.Action,
			AtLeastAsFresh: r.ConsistencyToken,
		}
	}

	var answers []iam.BulkDecision
	var token string
	err := c.do(ctx, func(ctx context.Context) (err error) {
		answers, token, err = c.svc.CheckBulk(ctx, in)
		return err
	})
	if err != nil {
		return authz.BulkDecision{}, err
	}

	out := authz.BulkDecision{
		Allowed:          make([]bool, len(answers)),
		ConsistencyToken: token,
	}
	for i, a := range answers {
		out.Allowed[i] = a.Allowed
	}
	return out, nil
}

// WhoAmI describes a user or service account: its organization, groups,
// roles and console actions.
func (c *Checker) WhoAmI(
	ctx context.Context, principal string,
) (authz.Identity, error) {
	var id iam.Identity
	err := c.do(ctx, func(ctx context.Context) (err error) {
		id, err = c.svc.WhoAmI(ctx, principal)
		return err
	})
	if err != nil {
		return authz.Identity{}, err
	}
	return authz.Identity{
		Principal:    id.Principal,
		Organization: id.Org,
		Groups:       id.Groups,
		Roles:        id.Roles,
		Actions:      id.Actions,
	}, nil
}

// do runs a read, retrying while SpiceDB is Unavailable, and classifies
// its error.
func (c *Checker) do(ctx context.Context, read func(context.Context) error) error {
	err := retry.Do(ctx, c.retry, isUnavailable, read)
	if err != nil {
		return classify(err)
	}
	return nil
}

// isUnavailable looks past the facade's classification to SpiceDB's
// status: only Unavailable is retried, not a timed-out attempt.
func isUnavailable(err error) bool {
	return status.Code(err) == codes.Unavailable
}

// classify maps the facade's errors to the authz sentinels. It is the
// one place where iamerr kinds become adapter errors.
func classify(err error) error {
	switch iamerr.KindOf(err) {
	case iamerr.InvalidArgument, iamerr.NotFound:
		return fmt.Errorf("%w: %s", authz.ErrInvalid, publicMessage(err))
	default:
		return fmt.Errorf("%w: spicedb: %w", authz.ErrUnavailable, err)
	}
}

// publicMessage is the facade's own message, which names the field, the
// value and the fix, without the cause.
func publicMessage(err error) string {
	var e *iamerr.Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return err.Error()
}
