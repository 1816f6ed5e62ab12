package api

import (
	"context"
	"strings"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// The console actions that guard the API's own methods. They are the
// platform's IAM actions: IAM Viewer reads, IAM Admin changes.
const (
	actionUsersList       = "iam.users.list"
	actionUsersInvite     = "iam.users.invite"
	actionUsersRevoke     = "iam.users.revoke"
	actionUsersPerms      = "iam.users.permissions"
	actionGroupsList      = "iam.groups.list"
	actionGroupsGet       = "iam.groups.get"
	actionGroupsCreate    = "iam.groups.create"
	actionGroupsUpdate    = "iam.groups.update"
	actionGroupsDelete    = "iam.groups.delete"
	actionMembershipsList = "iam.memberships.list"
	actionMembershipsAdd  = "iam.memberships.create"
	actionMembershipsDel  = "iam.memberships.delete"
	actionPoliciesList    = "iam.policies.list"
	actionPoliciesGet     = "iam.policies.get"
	actionPoliciesCreate  = "iam.policies.create"
	actionPoliciesUpdate  = "iam.policies.update"
	actionPoliciesDelete  = "iam.policies.delete"
)

// rawReadActions guard ReadRelationships, which shows members, groups and
// policies at once.
var rawReadActions = []string{
	actionUsersList, actionGroupsGet, actionMembershipsList, actionPoliciesGet,
}

// rawWriteActions guard WriteRelationships, which can change members,
// groups, memberships and rules in one call.
var rawWriteActions = []string{
	actionUsersInvite, actionUsersRevoke,
	actionGroupsCreate, actionGroupsUpdate, actionGroupsDelete,
	actionMembershipsAdd, actionMembershipsDel, actionPoliciesUpdate,
}

// authorize returns nil when the caller may perform every one of actions
// in org. The operator may do everything; anyone else acts only in its
// own organization, with the roles its policies give it. The checks read
// the newest data, so that a revoked administrator is refused at once,
// which also makes them as fresh as any ZedToken the request carries. A
// failed check is Unavailable, never an allow.
func (h *handler) authorize(
	ctx context.Context, org string, actions ...string,
) error {
	c := callerFrom(ctx)
	if c.Operator {
		return nil
	}
	if err := iam.ValidateOrgID("organization_id", org); err != nil {
		return err
	}
	if c.Principal == "" || org != c.Org {
		return otherOrganization(c, "organization_id", org)
	}

	reqs := make([]iam.CheckRequest, len(actions))
	for i, a := range actions {
		reqs[i] = iam.CheckRequest{
			Org: org, Principal: c.Principal, Action: a,
			FullyConsistent: true,
		}
	}
	answers, _, err := h.svc.CheckBulk(ctx, reqs)
	if err != nil {
		return iamerr.Wrap(iamerr.Unavailable, err,
			"the caller's permissions could not be checked", "retry later")
	}

	for i, a := range answers {
		if !a.Allowed {
			return denied(c, org, actions[i])
		}
	}
	return nil
}

// otherOrganization refuses to act in org, which field names, for a
// caller of another organization. It names the caller's organization,
// never which organization anyone else belongs to.
func otherOrganization(c caller, field, org string) error {
	return &iamerr.Error{
		Kind: iamerr.PermissionDenied, Field: field, Value: org,
		Problem: c.Principal + " belongs to organization " + c.Org +
			" and may act only there",
		Fix: "use a principal of " + org + ", or the operator token",
	}
}

// denied names the missing action and the roles that grant it.
func denied(c caller, org, action string) error {
	roles := strings.Join(catalog.RoleNamesGranting(action), ", ")
	return &iamerr.Error{
		Kind: iamerr.PermissionDenied, Field: "action", Value: action,
		Problem: c.Principal + " may not perform it in organization " + org,
		Fix: "ask an administrator of " + org +
			" for a role that grants it (" + roles + ")",
	}
}

// operatorOnly admits only the operator. what completes "only the
// operator may ...".
func operatorOnly(ctx context.Context, what string) error {
	if callerFrom(ctx).Operator {
		return nil
	}
	return iamerr.New(iamerr.PermissionDenied,
		"only the operator may "+what, "call with the operator token")
}
