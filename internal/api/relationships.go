package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// WriteRelationships applies raw relationship changes. As they may touch
// members, groups, memberships and rules at once, the caller needs every
// IAM Admin action those imply.
func (h *handler) WriteRelationships(
	ctx context.Context, req *connect.Request[iamv1.WriteRelationshipsRequest],
) (*connect.Response[iamv1.WriteRelationshipsResponse], error) {
	org := req.Msg.GetOrganizationId()
	if err := h.authorize(ctx, org, rawWriteActions...); err != nil {
		return nil, err
	}

	updates := make([]iam.RawUpdate, len(req.Msg.GetUpdates()))
	for i, u := range req.Msg.GetUpdates() {
		switch u.GetOperation() {
		case iamv1.RelationshipUpdate_OPERATION_TOUCH:
		case iamv1.RelationshipUpdate_OPERATION_DELETE:
			updates[i].Delete = true
		default:
			return nil, iamerr.Invalid(fmt.Sprintf("updates[%d].operation", i),
				u.GetOperation().String(), "the operation is not set",
				"use OPERATION_TOUCH or OPERATION_DELETE")
		}
		updates[i].Relationship = u.GetRelationship()
	}

	w, err := h.svc.WriteRelationships(ctx, org, updates)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.WriteRelationshipsResponse{
		Result: writeResult(w),
	}), nil
}

// ReadRelationships returns an organization's relationships. They show
// members, groups and policies at once, so the caller needs the IAM
// Viewer actions for each.
func (h *handler) ReadRelationships(
	ctx context.Context, req *connect.Request[iamv1.ReadRelationshipsRequest],
) (*connect.Response[iamv1.ReadRelationshipsResponse], error) {
	org, token := req.Msg.GetOrganizationId(), req.Msg.GetConsistencyToken()
	if err := h.authorize(ctx, org, rawReadActions...); err != nil {
		return nil, err
	}

	rels, err := h.svc.ReadRelationships(ctx, org, token)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&iamv1.ReadRelationshipsResponse{
		Relationships: rels,
	}), nil
}

// Apply plans, and unless it is a dry run applies, an organization file.
// The operator may apply any file; anyone else needs iam.policies.update
// in its own organization, and a file that names only it. Creating an
// organization is the operator's alone.
func (h *handler) Apply(
	ctx context.Context, req *connect.Request[iamv1.ApplyRequest],
) (*connect.Response[iamv1.ApplyResponse], error) {
	// Authorize before parsing: a caller who may not apply anything
	// gets no review of its file, and parsing and validating up to
	// MaxApplyRequestBytes is work done only for those who may.
	c := callerFrom(ctx)
	if err := h.authorize(ctx, c.Org, actionPoliciesUpdate); err != nil {
		return nil, err
	}

	doc, err := bootstrap.Parse([]byte(req.Msg.GetDocument()))
	if err != nil {
		return nil, err
	}
	// The caller's organization exists, so no file a non-operator may
	// apply creates one.
	for i, org := range doc.OrganizationIDs() {
		if !c.Operator && org != c.Org {
			field := fmt.Sprintf("organizations[%d].id", i)
			return nil, otherOrganization(c, field, org)
		}
	}

	changes, err := bootstrap.Plan(ctx, h.svc, doc)
	if err != nil {
		return nil, err
	}
	resp := &iamv1.ApplyResponse{Plan: changes.Lines()}
	if req.Msg.GetDryRun() {
		return connect.NewResponse(resp), nil
	}

	token, err := changes.Apply(ctx, h.svc)
	if err != nil {
		return nil, partialApply(err)
	}
	resp.Applied = true
	resp.ConsistencyToken = token
	return connect.NewResponse(resp), nil
}

// partialApply keeps the failed change's error, kind and fields, and
// adds which change failed and that the changes before it stayed applied.
func partialApply(err error) error {
	var classified *iamerr.Error
	if !errors.As(err, &classified) {
		return err
	}

	// err reads "applying <change>: <classified>"; keep the first part.
	step := strings.TrimSuffix(err.Error(), ": "+classified.Error())
	out := *classified
	out.Problem = classified.Problem + " (while " + step + ")"
	out.Fix = strings.TrimPrefix(classified.Fix+"; ", "; ") +
		"the changes before it stayed applied: apply again to resume"
	return &out
}
