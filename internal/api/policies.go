package api

import (
	"context"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

func requirePolicy(p *iamv1.Policy) error {
	if p == nil {
		return iamerr.Invalid("policy", "", "the request carries no policy",
			"set the policy field")
	}
	return nil
}

// CreatePolicy creates a policy; it needs iam.policies.create.
func (h *handler) CreatePolicy(
	ctx context.Context, req *connect.Request[iamv1.CreatePolicyRequest],
) (*connect.Response[iamv1.CreatePolicyResponse], error) {
	if err := requirePolicy(req.Msg.GetPolicy()); err != nil {
		return nil, err
	}
	in := policyInput(req.Msg.GetPolicy())
	if err := h.authorize(ctx, in.Org, actionPoliciesCreate); err != nil {
		return nil, err
	}

	w, err := h.svc.CreatePolicy(ctx, in)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.CreatePolicyResponse{
		Policy: h.writtenPolicy(ctx, in, w),
		Result: writeResult(w.WriteResult),
	}), nil
}

// GetPolicy reads a policy; it needs iam.policies.get.
func (h *handler) GetPolicy(
	ctx context.Context, req *connect.Request[iamv1.GetPolicyRequest],
) (*connect.Response[iamv1.GetPolicyResponse], error) {
	org, token := req.Msg.GetOrganizationId(), req.Msg.GetConsistencyToken()
	if err := h.authorize(ctx, org, actionPoliciesGet); err != nil {
		return nil, err
	}

	p, err := h.svc.GetPolicy(ctx, org, req.Msg.GetPolicyId(), token)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.GetPolicyResponse{
		Policy: policyToProto(p),
	}), nil
}

// ListPolicies lists an organization's policies; it needs
// iam.policies.list.
func (h *handler) ListPolicies(
	ctx context.Context, req *connect.Request[iamv1.ListPoliciesRequest],
) (*connect.Response[iamv1.ListPoliciesResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionPoliciesList); err != nil {
		return nil, err
	}

	policies, err := h.svc.ListPolicies(ctx, org)
	if err != nil {
		return nil, err
	}
	out := make([]*iamv1.Policy, 0, len(policies))
	for _, p := range policies {
		out = append(out, policyToProto(p))
	}
	return connect.NewResponse(&iamv1.ListPoliciesResponse{
		Policies: out,
	}), nil
}

// ReplacePolicy replaces a policy's description and rules; it needs
// iam.policies.update.
func (h *handler) ReplacePolicy(
	ctx context.Context, req *connect.Request[iamv1.ReplacePolicyRequest],
) (*connect.Response[iamv1.ReplacePolicyResponse], error) {
	if err := requirePolicy(req.Msg.GetPolicy()); err != nil {
		return nil, err
	}
	in := policyInput(req.Msg.GetPolicy())
	if err := h.authorize(ctx, in.Org, actionPoliciesUpdate); err != nil {
		return nil, err
	}

	w, err := h.svc.ReplacePolicy(ctx, in)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.ReplacePolicyResponse{
		Policy: h.writtenPolicy(ctx, in, w),
		Result: writeResult(w.WriteResult),
	}), nil
}

// DeletePolicy deletes a policy; it needs iam.policies.delete.
func (h *handler) DeletePolicy(
	ctx context.Context, req *connect.Request[iamv1.DeletePolicyRequest],
) (*connect.Response[iamv1.DeletePolicyResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, actionPoliciesDelete); err != nil {
		return nil, err
	}

	w, err := h.svc.DeletePolicy(ctx, org, req.Msg.GetPolicyId(), req.Msg.GetEtag())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.DeletePolicyResponse{
		Result: writeResult(w),
	}), nil
}

// writtenPolicy reads back a policy just written, at the write's token,
// so that the client sees it as stored: role IDs canonical, and a default
// policy's fixed roles and description. The write already succeeded, so a
// failed read must not turn it into an error: the client then gets the
// policy as sent, with its new etag.
func (h *handler) writtenPolicy(
	ctx context.Context, in iam.PolicyInput, w iam.PolicyWrite,
) *iamv1.Policy {
	p, err := h.svc.GetPolicy(ctx, in.Org, in.ID, w.Token)
	if err == nil {
		return policyToProto(p)
	}

	h.log.WarnContext(ctx, "reading back a written policy failed",
		"organization", in.Org, "policy", in.ID, "error", err)
	return policyToProto(iam.Policy{
		Org: in.Org, ID: in.ID, Description: in.Description,
		Rules: in.Rules, Etag: w.Etag,
	})
}
