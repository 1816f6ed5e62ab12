package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// Check answers one permission check. A principal may check itself in its
// own organization; checking another needs iam.users.permissions.
func (h *handler) Check(
	ctx context.Context, req *connect.Request[iamv1.CheckRequest],
) (*connect.Response[iamv1.CheckResponse], error) {
	check := checkRequest(req.Msg)
	if err := h.authorizeChecks(ctx, "", []iam.CheckRequest{check}); err != nil {
		return nil, err
	}

	d, err := h.svc.Check(ctx, check)
	if err != nil {
		h.countFailure(err, 1)
		return nil, err
	}
	h.metrics.decided(d.Allowed)
	return connect.NewResponse(&iamv1.CheckResponse{
		Allowed: d.Allowed, ConsistencyToken: d.Token,
	}), nil
}

// CheckBulk answers many checks at one snapshot, in request order, under
// the same authorization as Check for each.
func (h *handler) CheckBulk(
	ctx context.Context, req *connect.Request[iamv1.CheckBulkRequest],
) (*connect.Response[iamv1.CheckBulkResponse], error) {
	checks := make([]iam.CheckRequest, len(req.Msg.GetChecks()))
	for i, c := range req.Msg.GetChecks() {
		checks[i] = checkRequest(c)
	}
	if err := h.authorizeChecks(ctx, "checks", checks); err != nil {
		return nil, err
	}

	answers, token, err := h.svc.CheckBulk(ctx, checks)
	if err != nil {
		h.countFailure(err, len(checks))
		return nil, err
	}
	allowed := make([]bool, len(answers))
	for i, a := range answers {
		allowed[i] = a.Allowed
		h.metrics.decided(a.Allowed)
	}
	return connect.NewResponse(&iamv1.CheckBulkResponse{
		Allowed: allowed, ConsistencyToken: token,
	}), nil
}

// countFailure counts n checks the engine could not answer. A bad request
// is no failed decision: it was never evaluated.
func (h *handler) countFailure(err error, n int) {
	switch iamerr.KindOf(err) {
	case iamerr.Internal, iamerr.Unavailable:
		h.metrics.failed(n)
	}
}

// authorizeChecks admits checks: each either of the caller itself in its
// own organization, or of another principal where the caller holds
// iam.users.permissions. field, if set, names the list in errors.
func (h *handler) authorizeChecks(
	ctx context.Context, field string, checks []iam.CheckRequest,
) error {
	c := callerFrom(ctx)
	if c.Operator {
		return nil
	}

	// One authorization per organization answers for all its checks.
	verdicts := map[string]error{}
	for i, check := range checks {
		principalField := "principal"
		if field != "" {
			principalField = fmt.Sprintf("%s[%d].principal", field, i)
		}
		p, err := principal.Parse(principalField, check.Principal)
		if err != nil {
			return err
		}
		if check.Org == c.Org && p.String() == c.Principal {
			continue
		}

		verdict, done := verdicts[check.Org]
		if !done {
			verdict = h.authorize(ctx, check.Org, actionUsersPerms)
			verdicts[check.Org] = verdict
		}
		if verdict != nil {
			return verdict
		}
	}
	return nil
}

// ListRoles returns the role catalog and the legacy groups. Any
// authenticated caller may read it: it is the same for everyone.
func (h *handler) ListRoles(
	_ context.Context, _ *connect.Request[iamv1.ListRolesRequest],
) (*connect.Response[iamv1.ListRolesResponse], error) {
	resp := &iamv1.ListRolesResponse{}
	for _, r := range catalog.Roles() {
		resp.Roles = append(resp.Roles, &iamv1.Role{
			Id:          r.ID,
			Name:        r.Name,
			Description: r.Description,
			Includes:    r.Includes,
			Actions:     catalog.EffectiveActions(r.ID),
		})
	}
	for _, g := range catalog.LegacyGroups() {
		resp.LegacyGroups = append(resp.LegacyGroups, &iamv1.LegacyGroup{
			Name:            g.Name,
			DefaultPolicyId: catalog.DefaultPolicyID(g.Name),
			Roles:           g.Roles,
		})
	}
	return connect.NewResponse(resp), nil
}
