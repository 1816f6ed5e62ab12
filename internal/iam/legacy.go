package iam

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// maxEtagRetries bounds how often an edit that brings no etag of its own
// is retried when another writer changed the policy first.
const maxEtagRetries = 25

// backoff waits a random, growing time before retry attempt, so that
// writers racing for one policy spread out.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Duration(attempt+1) * 2 * time.Millisecond
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryConflicts calls once until it returns anything but a Conflict.
// Only an edit without an etag retries, at most maxEtagRetries times: an
// etag names the one version the caller may change, so its conflict is
// the caller's to resolve.
func retryConflicts[T any](
	ctx context.Context, etag string, once func() (T, error),
) (T, error) {
	for attempt := 0; ; attempt++ {
		out, err := once()
		retry := etag == "" && attempt < maxEtagRetries &&
			iamerr.Is(err, iamerr.Conflict)
		if !retry {
			return out, err
		}

		if err := backoff(ctx, attempt); err != nil {
			var zero T
			return zero, iamerr.Wrap(iamerr.Unavailable, err,
				"the request ended while retrying", "retry")
		}
	}
}

// AssignLegacyGroup puts a user, service account or group of org into a
// legacy group: it becomes a principal of that group's default policy.
func (s *Service) AssignLegacyGroup(
	ctx context.Context, org, legacyGroup, who string,
) (WriteResult, error) {
	return s.editLegacyGroup(ctx, org, legacyGroup, who, true)
}

// UnassignLegacyGroup takes a principal out of a legacy group.
func (s *Service) UnassignLegacyGroup(
	ctx context.Context, org, legacyGroup, who string,
) (WriteResult, error) {
	return s.editLegacyGroup(ctx, org, legacyGroup, who, false)
}

func (s *Service) editLegacyGroup(
	ctx context.Context, org, legacyGroup, who string, assign bool,
) (WriteResult, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return WriteResult{}, err
	}
	g, err := catalog.LookupLegacyGroup("legacy_group", legacyGroup)
	if err != nil {
		return WriteResult{}, err
	}
	p, err := principal.Parse("principal", who)
	if err != nil {
		return WriteResult{}, err
	}
	policyID := catalog.DefaultPolicyID(g.Name)

	return retryConflicts(ctx, "", func() (WriteResult, error) {
		return s.editLegacyOnce(ctx, org, policyID, p, assign)
	})
}

// editLegacyOnce edits the default policy as read now. Its new etag is
// guarded by the one read, so a concurrent edit makes it a Conflict.
func (s *Service) editLegacyOnce(
	ctx context.Context, org, policyID string, p principal.Principal,
	assign bool,
) (WriteResult, error) {
	sn := s.newSnapshot("")
	policies, err := s.loadPolicies(ctx, sn, org, policyID)
	if err != nil {
		return WriteResult{}, err
	}
	current, ok := policies[policyID]
	if !ok {
		if err := s.requireOrg(ctx, sn, org); err != nil {
			return WriteResult{}, err
		}
		return WriteResult{}, iamerr.New(iamerr.Internal,
			"organization "+org+" lacks its default policy "+policyID,
			"report it to the operator")
	}

	rel := relationship(object(typeRule, ruleObjectID(org, policyID, 0)),
		relPrincipal, subjectOf(org, p))
	update, preconditions, err := s.legacyEdit(ctx, sn, org, p, rel, assign)
	if err != nil {
		return WriteResult{}, err
	}

	token, err := s.write(ctx, "edit legacy group", []*v1.RelationshipUpdate{
		update,
		remove(current.version),
		create(versionRelationship(org, policyID, newEtag(),
			current.Description, current.CreatedAt)),
	}, append(preconditions, mustMatch(exactFilter(current.version))))
	if errors.Is(err, errPrecondition) {
		err = iamerr.New(iamerr.Conflict,
			"policy "+policyID+" kept changing during the edit", "retry")
	}
	return WriteResult{Token: token}, err
}

// legacyEdit validates one legacy group edit and returns its update and
// the preconditions that keep the validation true at the write. An edit
// that would change nothing is an error, so a caller is never misled.
func (s *Service) legacyEdit(
	ctx context.Context, sn *snapshot, org string, p principal.Principal,
	rel *v1.Relationship, assign bool,
) (*v1.RelationshipUpdate, []*v1.Precondition, error) {
	present, err := sn.exists(ctx, rel)
	if err != nil {
		return nil, nil, err
	}

	if !assign {
		if !present {
			return nil, nil, &iamerr.Error{
				Kind: iamerr.NotFound, Field: "principal", Value: p.String(),
				Problem: "the principal is not in this legacy group",
				Fix:     "nothing to remove",
			}
		}
		return remove(rel), nil, nil
	}

	if present {
		return nil, nil, &iamerr.Error{
			Kind: iamerr.AlreadyExists, Field: "principal", Value: p.String(),
			Problem: "the principal is already in this legacy group",
			Fix:     "nothing to add",
		}
	}
	if err := s.explainPrincipal(ctx, sn, org, "principal", p); err != nil {
		return nil, nil, err
	}
	return touch(rel), []*v1.Precondition{
		mustMatch(exactFilter(belongsTo(org, p))),
	}, nil
}
