package api

import (
	"context"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

// CreateGroup creates an empty group; it needs iam.groups.create.
func (h *handler) CreateGroup(
	ctx context.Context, req *connect.Request[iamv1.CreateGroupRequest],
) (*connect.Response[iamv1.CreateGroupResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionGroupsCreate); err != nil {
		return nil, err
	}

	w, err := h.svc.CreateGroup(ctx, org, req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.CreateGroupResponse{
		Result: writeResult(w),
	}), nil
}

// GetGroup reads a group and its direct members; it needs
// iam.groups.get.
func (h *handler) GetGroup(
	ctx context.Context, req *connect.Request[iamv1.GetGroupRequest],
) (*connect.Response[iamv1.GetGroupResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionGroupsGet); err != nil {
		return nil, err
	}

	g, err := h.svc.GetGroup(ctx, org, req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.GetGroupResponse{
		Group: groupToProto(g),
	}), nil
}

// ListGroups lists an organization's groups; it needs iam.groups.list.
func (h *handler) ListGroups(
	ctx context.Context, req *connect.Request[iamv1.ListGroupsRequest],
) (*connect.Response[iamv1.ListGroupsResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionGroupsList); err != nil {
		return nil, err
	}

	groups, err := h.svc.ListGroups(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]*iamv1.Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, groupToProto(g))
	}
	return connect.NewResponse(&iamv1.ListGroupsResponse{Groups: out}), nil
}

// DeleteGroup deletes a group no rule or group refers to; it needs
// iam.groups.delete.
func (h *handler) DeleteGroup(
	ctx context.Context, req *connect.Request[iamv1.DeleteGroupRequest],
) (*connect.Response[iamv1.DeleteGroupResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionGroupsDelete); err != nil {
		return nil, err
	}

	w, err := h.svc.DeleteGroup(ctx, org, req.Msg.GetName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.DeleteGroupResponse{
		Result: writeResult(w),
	}), nil
}

// AddGroupMember adds a member to a group; it needs
// iam.memberships.create.
func (h *handler) AddGroupMember(
	ctx context.Context, req *connect.Request[iamv1.AddGroupMemberRequest],
) (*connect.Response[iamv1.AddGroupMemberResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionMembershipsAdd); err != nil {
		return nil, err
	}

	w, err := h.svc.AddGroupMember(ctx, org, req.Msg.GetGroup(), req.Msg.GetMember())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.AddGroupMemberResponse{
		Result: writeResult(w),
	}), nil
}

// RemoveGroupMember removes a direct member from a group; it needs
// iam.memberships.delete.
func (h *handler) RemoveGroupMember(
	ctx context.Context, req *connect.Request[iamv1.RemoveGroupMemberRequest],
) (*connect.Response[iamv1.RemoveGroupMemberResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionMembershipsDel); err != nil {
		return nil, err
	}

	w, err := h.svc.RemoveGroupMember(ctx, org, req.Msg.GetGroup(), req.Msg.GetMember())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.RemoveGroupMemberResponse{
		Result: writeResult(w),
	}), nil
}

// AssignLegacyGroup names a principal in a legacy group's default policy;
// editing a policy, it needs iam.policies.update.
func (h *handler) AssignLegacyGroup(
	ctx context.Context, req *connect.Request[iamv1.AssignLegacyGroupRequest],
) (*connect.Response[iamv1.AssignLegacyGroupResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionPoliciesUpdate); err != nil {
		return nil, err
	}

	w, err := h.svc.AssignLegacyGroup(ctx, org,
		req.Msg.GetLegacyGroup(), req.Msg.GetPrincipal())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.AssignLegacyGroupResponse{
		Result: writeResult(w),
	}), nil
}

// UnassignLegacyGroup takes a principal out of a legacy group's default
// policy; it needs iam.policies.update.
func (h *handler) UnassignLegacyGroup(
	ctx context.Context, req *connect.Request[iamv1.UnassignLegacyGroupRequest],
) (*connect.Response[iamv1.UnassignLegacyGroupResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionPoliciesUpdate); err != nil {
		return nil, err
	}

	w, err := h.svc.UnassignLegacyGroup(ctx, org,
		req.Msg.GetLegacyGroup(), req.Msg.GetPrincipal())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.UnassignLegacyGroupResponse{
		Result: writeResult(w),
	}), nil
}
