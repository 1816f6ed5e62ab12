package iamclient

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/internal/retry"
)

// Check asks iamd whether req.Principal may perform req.Action in
// req.Organization.
func (c *Client) Check(
	ctx context.Context, req authz.CheckRequest,
) (authz.Decision, error) {
	return c.check(ctx, &iamv1.CheckRequest{
		OrganizationId:   req.Organization,
		Principal:        req.Principal,
		Action:           req.Action,
		ConsistencyToken: req.ConsistencyToken,
	})
}

// CheckRole asks iamd whether req.Principal holds req.Role (or a role
// that includes it) in req.Organization.
func (c *Client) CheckRole(
	ctx context.Context, req authz.RoleRequest,
) (authz.Decision, error) {
	return c.check(ctx, &iamv1.CheckRequest{
		OrganizationId:   req.Organization,
		Principal:        req.Principal,
		Role:             req.Role,
		ConsistencyToken: req.ConsistencyToken,
	})
}

// check asks iamd one check, by action or by role.
func (c *Client) check(
	ctx context.Context, msg *iamv1.CheckRequest,
) (authz.Decision, error) {
	resp, err := call(ctx, c, c.token, c.api.Check, msg)
	if err != nil {
		return authz.Decision{}, err
	}
	return authz.Decision{
		Allowed:          resp.GetAllowed(),
		ConsistencyToken: resp.GetConsistencyToken(),
	}, nil
}

// CheckBulk asks iamd many checks, answered at one snapshot.
func (c *Client) CheckBulk(
	ctx context.Context, reqs []authz.CheckRequest,
) (authz.BulkDecision, error) {
	msg := &iamv1.CheckBulkRequest{}
	for _, r := range reqs {
		msg.Checks = append(msg.Checks, &iamv1.CheckRequest{
			OrganizationId:   r.Organization,
			Principal:        r.Principal,
			Action:           r.Action,
			ConsistencyToken: r.ConsistencyToken,
		})
	}
	resp, err := call(ctx, c, c.token, c.api.CheckBulk, msg)
	if err != nil {
		return authz.BulkDecision{}, err
	}

	// A short answer would leave checks unanswered, and an unanswered
	// check must not read as anything.
	if got := len(resp.GetAllowed()); got != len(reqs) {
		return authz.BulkDecision{}, fmt.Errorf("%w: iamd answered %d "+
			"checks of %d", authz.ErrUnavailable, got, len(reqs))
	}
	return authz.BulkDecision{
		Allowed:          resp.GetAllowed(),
		ConsistencyToken: resp.GetConsistencyToken(),
	}, nil
}

// WhoAmI describes the service itself: the holder of Config.Token.
func (c *Client) WhoAmI(ctx context.Context) (authz.Identity, error) {
	return c.Identify(ctx, c.token)
}

// Identify describes the holder of bearerToken, by calling iamd's WhoAmI
// with it. A token iamd refuses is an error wrapping
// ErrUnauthenticated.
func (c *Client) Identify(
	ctx context.Context, bearerToken string,
) (authz.Identity, error) {
	if err := checkToken("the bearer token", bearerToken); err != nil {
		return authz.Identity{}, fmt.Errorf("%w: %w",
			authz.ErrUnauthenticated, err)
	}

	resp, err := call(ctx, c, bearerToken, c.api.WhoAmI, &iamv1.WhoAmIRequest{})
	if err != nil {
		return authz.Identity{}, err
	}
	return authz.Identity{
		Principal:    resp.GetPrincipal(),
		Organization: resp.GetOrganizationId(),
		Operator:     resp.GetOperator(),
		Groups:       resp.GetGroups(),
		Roles:        resp.GetRoles(),
		Actions:      resp.GetActions(),
	}, nil
}

// call runs one read-only RPC with token, retrying while iamd is
// Unavailable, and classifies its error.
func call[Req, Res any](
	ctx context.Context, c *Client, token string,
	rpc func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	msg *Req,
) (*Res, error) {
	var out *Res
	err := retry.Do(ctx, c.retry, isUnavailable, func(ctx context.Context) error {
		req := connect.NewRequest(msg)
		req.Header().Set("Authorization", "Bearer "+token)
		if id := authz.RequestIDFrom(ctx); id != "" {
			req.Header().Set(authz.RequestIDHeader, id)
		}

		resp, err := rpc(ctx, req)
		if err != nil {
			return err
		}
		out = resp.Msg
		return nil
	})
	if err != nil {
		return nil, classify(err)
	}
	return out, nil
}

func isUnavailable(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnavailable
}

// classify maps iamd's answer to the authz sentinels. It is the one place
// where Connect codes become adapter errors. iamd's message names the
// field, the value and the fix; it never holds a token.
func classify(err error) error {
	detail := err.Error()
	var ce *connect.Error
	if errors.As(err, &ce) {
		detail = ce.Message()
	}

	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument:
		return fmt.Errorf("%w: iamd: %s", authz.ErrInvalid, detail)
	case connect.CodeUnauthenticated:
		return fmt.Errorf("%w: iamd: %s", authz.ErrUnauthenticated, detail)
	case connect.CodePermissionDenied:
		return fmt.Errorf("%w: iamd: %s", authz.ErrForbidden, detail)
	default:
		return fmt.Errorf("%w: iamd: %w", authz.ErrUnavailable, err)
	}
}
