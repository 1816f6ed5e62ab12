package iam

import (
	"context"
	"sort"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// WriteResult is what every write returns.
type WriteResult struct {
	// Token is the ZedToken of the write: pass it to a check to see it.
	Token string
}

func orgRegistration(org string) *v1.Relationship {
	return relationship(object(typeOrganization, org), relPlatform,
		subjectObject(typePlatform, platformID))
}

func orgMembership(org string, p principal.Principal) *v1.Relationship {
	return relationship(object(typeOrganization, org), relMember,
		subjectOf(org, p))
}

// anyOrgMembership matches p's membership of any organization.
func anyOrgMembership(p principal.Principal) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{
		ResourceType:     typeOrganization,
		OptionalRelation: relMember,
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType:       string(p.Kind),
			OptionalSubjectId: principal.EncodeID(p.ID),
		},
	}
}

// parseMember parses a principal that can be a member of an organization:
// a user or a service account.
func parseMember(field, s string) (principal.Principal, error) {
	p, err := principal.Parse(field, s)
	if err != nil {
		return p, err
	}
	if p.Kind == principal.Group {
		return p, iamerr.Invalid(field, s,
			"a group is not a member of an organization; it belongs to one",
			"name a user:<id> or serviceaccount:<id>")
	}
	return p, nil
}

// CreateOrganization creates an organization with its five default
// policies and makes firstUser its first member, holding the legacy
// admin role set. firstUser may not belong to another organization.
func (s *Service) CreateOrganization(
	ctx context.Context, org, firstUser string,
) (WriteResult, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return WriteResult{}, err
	}
	first, err := parseMember("first_user", firstUser)
	if err != nil {
		return WriteResult{}, err
	}

	updates := []*v1.RelationshipUpdate{
		create(orgRegistration(org)),
		create(orgMembership(org, first)),
	}
	created := time.Now()
	for _, g := range catalog.LegacyGroups() {
		var principals []principal.Principal
		if g.Name == "admin" {
			principals = []principal.Principal{first}
		}
		rels := policyRelationships(org, catalog.DefaultPolicyID(g.Name),
			[]canonicalRule{{Principals: principals, Roles: g.Roles}})
		for _, r := range rels {
			updates = append(updates, create(r))
		}
		version := versionRelationship(org, catalog.DefaultPolicyID(g.Name),
			newEtag(), defaultPolicyDescription(g), created)
		updates = append(updates, create(version))
	}

	preconditions := []*v1.Precondition{
		mustNotMatch(exactFilter(orgRegistration(org))),
		mustNotMatch(anyOrgMembership(first)),
	}
	token, err := s.write(ctx, "create organization", updates, preconditions)
	if refusedByState(err) {
		return WriteResult{}, s.explainOrgConflict(ctx, org, first, firstUser)
	}
	return WriteResult{Token: token}, err
}

func (s *Service) explainOrgConflict(
	ctx context.Context, org string, first principal.Principal, raw string,
) error {
	sn := s.newSnapshot("")
	exists, err := sn.exists(ctx, orgRegistration(org))
	if err != nil {
		return err
	}
	if exists {
		return &iamerr.Error{
			Kind: iamerr.AlreadyExists, Field: "organization", Value: org,
			Problem: "the organization already exists",
			Fix:     "choose another ID, or add users to the existing one",
		}
	}
	other, err := s.organizationOf(ctx, sn, first)
	if err != nil {
		return err
	}
	if other == "" {
		return iamerr.New(iamerr.Conflict,
			"organization "+org+" or its first user changed during the write",
			"retry")
	}
	return &iamerr.Error{
		Kind: iamerr.FailedPrecondition, Field: "first_user", Value: raw,
		Problem: "the principal already belongs to another organization",
		Fix:     "a principal belongs to exactly one organization; use another",
	}
}

// organizationOf returns the organization p belongs to, or "".
func (s *Service) organizationOf(
	ctx context.Context, sn *snapshot, p principal.Principal,
) (string, error) {
	rels, err := sn.read(ctx, anyOrgMembership(p))
	if err != nil || len(rels) == 0 {
		return "", err
	}
	return rels[0].Resource.ObjectId, nil
}

// OrganizationOf returns the organization a user or service account
// belongs to, or NotFound.
func (s *Service) OrganizationOf(ctx context.Context, who string) (string, error) {
	p, err := parseMember("principal", who)
	if err != nil {
		return "", err
	}
	org, err := s.organizationOf(ctx, s.newSnapshot(""), p)
	if err != nil {
		return "", err
	}
	if org == "" {
		return "", &iamerr.Error{
			Kind: iamerr.NotFound, Field: "principal", Value: who,
			Problem: "the principal belongs to no organization",
			Fix:     "add it to an organization first",
		}
	}
	return org, nil
}

// AddMember adds a user or service account to an organization. It holds
// no permission until a rule or legacy group names it.
func (s *Service) AddMember(ctx context.Context, org, who string) (WriteResult, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return WriteResult{}, err
	}
	p, err := parseMember("principal", who)
	if err != nil {
		return WriteResult{}, err
	}

	token, err := s.write(ctx, "add member",
		[]*v1.RelationshipUpdate{create(orgMembership(org, p))},
		[]*v1.Precondition{
			mustMatch(exactFilter(orgRegistration(org))),
			mustNotMatch(anyOrgMembership(p)),
		})
	if refusedByState(err) {
		return WriteResult{}, s.explainMembershipConflict(ctx, org, p, who)
	}
	return WriteResult{Token: token}, err
}

func (s *Service) explainMembershipConflict(
	ctx context.Context, org string, p principal.Principal, raw string,
) error {
	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return err
	}
	other, err := s.organizationOf(ctx, sn, p)
	if err != nil {
		return err
	}
	if other == org {
		return &iamerr.Error{
			Kind: iamerr.AlreadyExists, Field: "principal", Value: raw,
			Problem: "the principal is already a member of " + org,
			Fix:     "nothing to do",
		}
	}
	return &iamerr.Error{
		Kind: iamerr.FailedPrecondition, Field: "principal", Value: raw,
		Problem: "the principal belongs to another organization",
		Fix:     "a principal belongs to exactly one organization",
	}
}

// requireOrg returns NotFound unless org exists.
func (s *Service) requireOrg(ctx context.Context, sn *snapshot, org string) error {
	ok, err := sn.exists(ctx, orgRegistration(org))
	if err != nil {
		return err
	}
	if !ok {
		return &iamerr.Error{
			Kind: iamerr.NotFound, Field: "organization", Value: org,
			Problem: "no such organization",
			Fix:     "create it first, or check the ID",
		}
	}
	return nil
}

// ListOrganizations returns every organization's ID, sorted.
func (s *Service) ListOrganizations(ctx context.Context) ([]string, error) {
	rels, err := s.newSnapshot("").read(ctx, &v1.RelationshipFilter{
		ResourceType:     typeOrganization,
		OptionalRelation: relPlatform,
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rels))
	for _, r := range rels {
		out = append(out, r.Resource.ObjectId)
	}
	sort.Strings(out)
	return out, nil
}

// ListMembers returns the users and service accounts of an organization,
// as principal strings, sorted.
func (s *Service) ListMembers(ctx context.Context, org string) ([]string, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return nil, err
	}
	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return nil, err
	}
	rels, err := sn.read(ctx, &v1.RelationshipFilter{
		ResourceType:       typeOrganization,
		OptionalResourceId: org,
		OptionalRelation:   relMember,
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rels))
	for _, r := range rels {
		p, err := principalOfSubject(r.Subject)
		if err != nil {
			return nil, err
		}
		out = append(out, p.String())
	}
	sort.Strings(out)
	return out, nil
}
