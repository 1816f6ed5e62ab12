package iam

import (
	"context"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc/status"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// CheckRequest asks whether a principal of an organization may perform a
// console action, or holds a role. Exactly one of Action and Role is set.
type CheckRequest struct {
	Org       string
	Principal string
	Action    string
	Role      string

	// AtLeastAsFresh, when set, is a ZedToken: the answer reflects every
	// write up to it.
	AtLeastAsFresh string

	// FullyConsistent asks for the newest data whatever the service's
	// default. The API's own authorization checks use it, so that a
	// revoked administrator is refused at once.
	FullyConsistent bool
}

// Decision is the answer to a check.
type Decision struct {
	// Allowed is true only for a definite allow.
	Allowed bool

	// Token is the ZedToken the check was evaluated at.
	Token string
}

// Check answers whether req.Principal may perform req.Action in req.Org
// (or holds req.Role). Principals are users and service accounts: groups
// hold roles only for their members. An engine failure is an error,
// never an allow.
func (s *Service) Check(ctx context.Context, req CheckRequest) (Decision, error) {
	item, err := s.checkItem("", req)
	if err != nil {
		return Decision{}, err
	}

	resp, err := s.engine.CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: s.checkConsistency(req.AtLeastAsFresh, req.FullyConsistent),
		Resource:    item.Resource,
		Permission:  item.Permission,
		Subject:     item.Subject,
	})
	if err != nil {
		return Decision{}, engineError("check", req.AtLeastAsFresh, err)
	}

	return Decision{
		Allowed: resp.GetPermissionship() ==
			v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION,
		Token: resp.GetCheckedAt().GetToken(),
	}, nil
}

// CheckRole reports whether who holds role, or a role that includes it,
// in org, at least as fresh as token if one is given.
func (s *Service) CheckRole(
	ctx context.Context, org, who, role, token string,
) (Decision, error) {
	return s.Check(ctx, CheckRequest{
		Org: org, Principal: who, Role: role, AtLeastAsFresh: token,
	})
}

// BulkDecision is one answer of CheckBulk, in request order.
type BulkDecision struct {
	// Allowed is true only for a definite allow.
	Allowed bool
}

// CheckBulk answers many checks in one engine call, all at one snapshot.
// The token of the first request that has one applies to all; a request
// with a different token is an error. If any item fails, the whole call
// fails: a partial answer could be read as an allow.
func (s *Service) CheckBulk(
	ctx context.Context, reqs []CheckRequest,
) ([]BulkDecision, string, error) {
	if len(reqs) == 0 {
		return nil, "", iamerr.Invalid("checks", "0 checks",
			"a bulk check needs at least one check", "add checks")
	}
	if len(reqs) > MaxBulkChecks {
		return nil, "", iamerr.Invalid("checks", itoa(len(reqs))+" checks",
			"too many checks in one call",
			"send at most "+itoa(MaxBulkChecks)+" per call")
	}

	token, full := "", false
	items := make([]*v1.CheckBulkPermissionsRequestItem, len(reqs))
	for i, req := range reqs {
		field := "checks[" + itoa(i) + "]"
		item, err := s.checkItem(field+".", req)
		if err != nil {
			return nil, "", err
		}
		items[i] = item
		full = full || req.FullyConsistent

		if req.AtLeastAsFresh == "" {
			continue
		}
		if token != "" && token != req.AtLeastAsFresh {
			return nil, "", iamerr.Invalid(field+".consistency_token",
				req.AtLeastAsFresh,
				"checks of one bulk call carry different ZedTokens",
				"pass the newest token on every check, or split the call")
		}
		token = req.AtLeastAsFresh
	}

	resp, err := s.engine.CheckBulkPermissions(ctx,
		&v1.CheckBulkPermissionsRequest{
			Consistency: s.checkConsistency(token, full),
			Items:       items,
		})
	if err != nil {
		return nil, "", engineError("bulk check", token, err)
	}

	pairs := resp.GetPairs()
	if len(pairs) != len(items) {
		return nil, "", iamerr.New(iamerr.Internal,
			"the permission engine answered a different number of checks",
			"retry; if it persists, report it to the operator")
	}
	out := make([]BulkDecision, len(pairs))
	for i, p := range pairs {
		if e := p.GetError(); e != nil {
			// One failed item fails the call: a partial answer could be
			// read as an allow.
			return nil, "", engineError("bulk check "+itoa(i), token,
				status.ErrorProto(e))
		}
		out[i].Allowed = p.GetItem().GetPermissionship() ==
			v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
	}
	return out, resp.GetCheckedAt().GetToken(), nil
}

// checkItem validates a check and builds its SpiceDB form. prefix is
// prepended to field names in errors.
func (s *Service) checkItem(
	prefix string, req CheckRequest,
) (*v1.CheckBulkPermissionsRequestItem, error) {
	if err := ValidateOrgID(prefix+"organization", req.Org); err != nil {
		return nil, err
	}

	who, err := principal.Parse(prefix+"principal", req.Principal)
	if err != nil {
		return nil, err
	}
	if who.Kind == principal.Group {
		return nil, iamerr.Invalid(prefix+"principal", req.Principal,
			"checks are answered for users and service accounts; a group "+
				"holds roles only for its members",
			"check a member of the group instead")
	}

	permission, err := checkedPermission(prefix, req)
	if err != nil {
		return nil, err
	}

	return &v1.CheckBulkPermissionsRequestItem{
		Resource:   object(typeOrganization, req.Org),
		Permission: permission,
		Subject:    subjectOf(req.Org, who),
	}, nil
}

// checkedPermission maps the action or role of a check to the SpiceDB
// permission on the organization.
func checkedPermission(prefix string, req CheckRequest) (string, error) {
	switch {
	case req.Action != "" && req.Role != "":
		return "", iamerr.Invalid(prefix+"role", req.Role,
			"a check names an action or a role, not both",
			"leave one of them empty")
	case req.Role != "":
		role, err := catalog.LookupRole(prefix+"role", req.Role)
		if err != nil {
			return "", err
		}
		return catalog.RolePermission(role.ID), nil
	default:
		action, err := catalog.LookupAction(prefix+"action", req.Action)
		if err != nil {
			return "", err
		}
		return catalog.ActionPermission(action), nil
	}
}
