package iam

import (
	"context"
	"fmt"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// MaxPrincipalsPerPolicy bounds the distinct principals of one policy, so
// that the write can guard each of them with a precondition.
const MaxPrincipalsPerPolicy = 500

func groupOwnership(org, name string) *v1.Relationship {
	return relationship(object(typeGroup, groupObjectID(org, name)),
		relOrganization, subjectObject(typeOrganization, org))
}

// belongsTo is the relationship that makes p a principal of org: its
// membership for a user or service account, its ownership for a group.
func belongsTo(org string, p principal.Principal) *v1.Relationship {
	if p.Kind == principal.Group {
		return groupOwnership(org, p.ID)
	}
	return orgMembership(org, p)
}

// distinctPrincipals lists each principal of rules once, in order.
func distinctPrincipals(rules []canonicalRule) []principal.Principal {
	seen := map[principal.Principal]bool{}
	var out []principal.Principal
	for _, r := range rules {
		for _, p := range r.Principals {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// principalPreconditions make a write fail unless every principal of
// rules still belongs to org when it lands. With membershipRemoval, this
// keeps the invariant that tenant isolation rests on: an organization's
// groups and rules name only its members.
func principalPreconditions(org string, rules []canonicalRule) []*v1.Precondition {
	var out []*v1.Precondition
	for _, p := range distinctPrincipals(rules) {
		out = append(out, mustMatch(exactFilter(belongsTo(org, p))))
	}
	return out
}

// checkPrincipalCount enforces MaxPrincipalsPerPolicy.
func checkPrincipalCount(rules []canonicalRule) error {
	n := len(distinctPrincipals(rules))
	if n > MaxPrincipalsPerPolicy {
		return iamerr.Invalid("rules", itoa(n)+" distinct principals",
			"too many principals in one policy",
			fmt.Sprintf("use at most %d; put principals in groups",
				MaxPrincipalsPerPolicy))
	}
	return nil
}

// explainPrincipal says why p does not belong to org, or returns nil if
// it does.
func (s *Service) explainPrincipal(
	ctx context.Context, sn *snapshot, org, field string, p principal.Principal,
) error {
	ok, err := sn.exists(ctx, belongsTo(org, p))
	if err != nil || ok {
		return err
	}

	if p.Kind == principal.Group {
		return &iamerr.Error{
			Kind: iamerr.NotFound, Field: field, Value: p.String(),
			Problem: "organization " + org + " has no such group",
			Fix:     "create the group first, or check its name",
		}
	}

	other, err := s.organizationOf(ctx, sn, p)
	if err != nil {
		return err
	}
	if other != "" {
		// The other organization is not named: a caller may not learn
		// who belongs to another tenant.
		return &iamerr.Error{
			Kind: iamerr.FailedPrecondition, Field: field, Value: p.String(),
			Problem: "the principal belongs to another organization; " +
				"nothing in " + org + " can be granted to it",
			Fix: "name a principal of " + org,
		}
	}
	return &iamerr.Error{
		Kind: iamerr.NotFound, Field: field, Value: p.String(),
		Problem: "the principal is not a member of organization " + org,
		Fix:     "add it to the organization first",
	}
}

// explainPolicyConflict finds which precondition of a policy write failed.
func (s *Service) explainPolicyConflict(
	ctx context.Context, in PolicyInput, rules []canonicalRule, replacing bool,
) error {
	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, in.Org); err != nil {
		return err
	}

	for i, r := range rules {
		for j, p := range r.Principals {
			field := fmt.Sprintf("rules[%d].principals[%d]", i, j)
			if err := s.explainPrincipal(ctx, sn, in.Org, field, p); err != nil {
				return err
			}
		}
	}

	if replacing {
		return staleEtag(in.ID, in.Etag)
	}
	return &iamerr.Error{
		Kind: iamerr.AlreadyExists, Field: "policy_id", Value: in.ID,
		Problem: "organization " + in.Org + " already has this policy",
		Fix:     "choose another ID, or replace the existing policy",
	}
}
