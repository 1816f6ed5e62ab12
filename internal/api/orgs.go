package api

import (
	"context"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// CreateOrganization creates an organization with its default policies
// and first user. Operator only.
func (h *handler) CreateOrganization(
	ctx context.Context, req *connect.Request[iamv1.CreateOrganizationRequest],
) (*connect.Response[iamv1.CreateOrganizationResponse], error) {
	if err := operatorOnly(ctx, "create organizations"); err != nil {
		return nil, err
	}

	w, err := h.svc.CreateOrganization(ctx,
		req.Msg.GetOrganizationId(), req.Msg.GetFirstUser())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.CreateOrganizationResponse{
		Result: writeResult(w),
	}), nil
}

// ListOrganizations lists every organization. Operator only.
func (h *handler) ListOrganizations(
	ctx context.Context, _ *connect.Request[iamv1.ListOrganizationsRequest],
) (*connect.Response[iamv1.ListOrganizationsResponse], error) {
	if err := operatorOnly(ctx, "list organizations"); err != nil {
		return nil, err
	}

	orgs, err := h.svc.ListOrganizations(ctx)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.ListOrganizationsResponse{
		OrganizationIds: orgs,
	}), nil
}

// AddMember adds a user or service account to an organization; it needs
// iam.users.invite there.
func (h *handler) AddMember(
	ctx context.Context, req *connect.Request[iamv1.AddMemberRequest],
) (*connect.Response[iamv1.AddMemberResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionUsersInvite); err != nil {
		return nil, err
	}

	w, err := h.svc.AddMember(ctx, org, req.Msg.GetPrincipal())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.AddMemberResponse{
		Result: writeResult(w),
	}), nil
}

// ListMembers lists an organization's users and service accounts; it
// needs iam.users.list there.
func (h *handler) ListMembers(
	ctx context.Context, req *connect.Request[iamv1.ListMembersRequest],
) (*connect.Response[iamv1.ListMembersResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionUsersList); err != nil {
		return nil, err
	}

	members, err := h.svc.ListMembers(ctx, org)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.ListMembersResponse{
		Principals: members,
	}), nil
}

// WhoAmI describes the caller. Every authenticated caller may ask.
func (h *handler) WhoAmI(
	ctx context.Context, _ *connect.Request[iamv1.WhoAmIRequest],
) (*connect.Response[iamv1.WhoAmIResponse], error) {
	c := callerFrom(ctx)
	if c.Operator {
		return connect.NewResponse(&iamv1.WhoAmIResponse{
			Principal: OperatorPrincipal, Operator: true,
		}), nil
	}

	id, err := h.svc.WhoAmI(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.WhoAmIResponse{
		Principal:      id.Principal,
		OrganizationId: id.Org,
		Groups:         id.Groups,
		Roles:          id.Roles,
		Actions:        id.Actions,
	}), nil
}

// MintToken signs a bearer token for a user or service account that
// belongs to an organization, good only while it belongs there. Operator
// only.
func (h *handler) MintToken(
	ctx context.Context, req *connect.Request[iamv1.MintTokenRequest],
) (*connect.Response[iamv1.MintTokenResponse], error) {
	if err := operatorOnly(ctx, "mint tokens"); err != nil {
		return nil, err
	}
	ttl, err := tokenTTL(req.Msg.GetTtlSeconds())
	if err != nil {
		return nil, err
	}

	who := req.Msg.GetPrincipal()
	org, err := h.svc.OrganizationOf(ctx, who)
	if err != nil {
		if iamerr.Is(err, iamerr.NotFound) {
			return nil, &iamerr.Error{
				Kind: iamerr.FailedPrecondition, Field: "principal", Value: who,
				Problem: "the principal belongs to no organization, so a " +
					"token for it could do nothing",
				Fix: "add it to an organization first",
			}
		}
		return nil, err
	}

	// Sign the canonical form, which is what authorization compares,
	// and the organization, which the token is good in only.
	canonical, err := canonicalMember(who)
	if err != nil {
		return nil, err
	}
	token, expires := h.tokens.mint(canonical, org, ttl)
	return connect.NewResponse(&iamv1.MintTokenResponse{
		Token: token, ExpireTime: timestamppb.New(expires),
	}), nil
}

// tokenTTL validates a requested token lifetime in seconds.
func tokenTTL(seconds int64) (time.Duration, error) {
	maxSeconds := int64(MaxTokenTTL / time.Second)
	switch {
	case seconds == 0:
		return DefaultTokenTTL, nil
	case seconds < 0 || seconds > maxSeconds:
		return 0, iamerr.Invalid("ttl_seconds", strconv.FormatInt(seconds, 10),
			"a token lives between 1 second and 30 days",
			"use 1 to "+strconv.FormatInt(maxSeconds, 10)+
				" seconds, or 0 for one hour")
	}
	return time.Duration(seconds) * time.Second, nil
}

// canonicalMember returns who as Parse renders it: "sa:ci" becomes
// "serviceaccount:ci".
func canonicalMember(who string) (string, error) {
	p, err := principal.Parse("principal", who)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}
