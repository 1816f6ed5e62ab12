package iam

import (
	"context"
	"errors"
	"sort"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// Group is a named set of principals of one organization.
type Group struct {
	Org  string
	Name string

	// Members are the direct members: users, service accounts and
	// nested groups, as principal strings, sorted.
	Members []string
}

// membershipRelation is the group relation that holds member: a nested
// group is a subgroup, anyone else a direct member.
func membershipRelation(member principal.Principal) string {
	if member.Kind == principal.Group {
		return relSubgroup
	}
	return relDirectMember
}

// groupMembership is the relationship that makes member a direct member
// (or, for a group, a subgroup) of group.
func groupMembership(org, group string, member principal.Principal) *v1.Relationship {
	return relationship(object(typeGroup, groupObjectID(org, group)),
		membershipRelation(member), subjectOf(org, member))
}

// groupAsSubject matches relationships whose subject is the group.
func groupAsSubject(resourceType, org, group string) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{
		ResourceType:             resourceType,
		OptionalResourceIdPrefix: org + "/",
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType:       typeGroup,
			OptionalSubjectId: groupObjectID(org, group),
			OptionalRelation: &v1.SubjectFilter_RelationFilter{
				Relation: relMember,
			},
		},
	}
}

func validateOrgAndGroup(org, group string) error {
	if err := ValidateOrgID("organization", org); err != nil {
		return err
	}
	return ValidateGroupName("group", group)
}

// parseGroupEdit validates the arguments of a group membership change.
func parseGroupEdit(org, group, member string) (principal.Principal, error) {
	if err := validateOrgAndGroup(org, group); err != nil {
		return principal.Principal{}, err
	}
	return principal.Parse("member", member)
}

// CreateGroup creates an empty group in org.
func (s *Service) CreateGroup(ctx context.Context, org, name string) (WriteResult, error) {
	if err := validateOrgAndGroup(org, name); err != nil {
		return WriteResult{}, err
	}

	token, err := s.write(ctx, "create group",
		[]*v1.RelationshipUpdate{create(groupOwnership(org, name))},
		[]*v1.Precondition{mustMatch(exactFilter(orgRegistration(org)))})
	if errors.Is(err, errPrecondition) {
		err = s.requireOrg(ctx, s.newSnapshot(""), org)
	}
	if errors.Is(err, errExists) {
		err = &iamerr.Error{
			Kind: iamerr.AlreadyExists, Field: "group", Value: name,
			Problem: "organization " + org + " already has this group",
			Fix:     "choose another name, or add members to it",
		}
	}
	return WriteResult{Token: token}, err
}

// DeleteGroup deletes a group and its memberships. A group still named by
// a rule or nested in another group is not deleted: removing it there
// first keeps every policy's etag honest.
func (s *Service) DeleteGroup(ctx context.Context, org, name string) (WriteResult, error) {
	if err := validateOrgAndGroup(org, name); err != nil {
		return WriteResult{}, err
	}

	sn := s.newSnapshot("")
	if err := s.requireGroup(ctx, sn, org, name); err != nil {
		return WriteResult{}, err
	}
	if err := s.requireUnreferenced(ctx, sn, org, name); err != nil {
		return WriteResult{}, err
	}

	// One delete by filter takes every relationship of the group as it is
	// when the delete lands, members added a moment ago included.
	token, err := s.deleteMatching(ctx, "delete group", &v1.RelationshipFilter{
		ResourceType:       typeGroup,
		OptionalResourceId: groupObjectID(org, name),
	}, []*v1.Precondition{
		mustMatch(exactFilter(groupOwnership(org, name))),
		mustNotMatch(groupAsSubject(typeRule, org, name)),
		mustNotMatch(groupAsSubject(typeGroup, org, name)),
	})
	if errors.Is(err, errPrecondition) {
		err = s.requireUnreferenced(ctx, s.newSnapshot(""), org, name)
		if err == nil {
			err = iamerr.New(iamerr.Conflict,
				"group "+name+" changed during the delete", "retry")
		}
	}
	return WriteResult{Token: token}, err
}

func (s *Service) requireGroup(ctx context.Context, sn *snapshot, org, name string) error {
	ok, err := sn.exists(ctx, groupOwnership(org, name))
	if err != nil || ok {
		return err
	}
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return err
	}
	return &iamerr.Error{
		Kind: iamerr.NotFound, Field: "group", Value: name,
		Problem: "organization " + org + " has no such group",
		Fix:     "list the organization's groups to find its name",
	}
}

func (s *Service) requireUnreferenced(ctx context.Context, sn *snapshot, org, name string) error {
	rules, err := sn.read(ctx, groupAsSubject(typeRule, org, name))
	if err != nil {
		return err
	}
	if len(rules) > 0 {
		rule := strings.TrimPrefix(rules[0].Resource.ObjectId, org+"/")
		policyID := rule[:strings.LastIndexByte(rule, '/')]
		return &iamerr.Error{
			Kind: iamerr.FailedPrecondition, Field: "group", Value: name,
			Problem: "the group is named by policy " + policyID,
			Fix:     "remove it from that policy's rules first",
		}
	}

	parents, err := sn.read(ctx, groupAsSubject(typeGroup, org, name))
	if err != nil {
		return err
	}
	if len(parents) > 0 {
		parent, _ := principalOfSubject(subjectObject(typeGroup,
			parents[0].Resource.ObjectId))
		return &iamerr.Error{
			Kind: iamerr.FailedPrecondition, Field: "group", Value: name,
			Problem: "the group is a member of group " + parent.ID,
			Fix:     "remove it from that group first",
		}
	}
	return nil
}

// GetGroup returns a group with its direct members.
func (s *Service) GetGroup(ctx context.Context, org, name string) (Group, error) {
	if err := validateOrgAndGroup(org, name); err != nil {
		return Group{}, err
	}
	sn := s.newSnapshot("")
	if err := s.requireGroup(ctx, sn, org, name); err != nil {
		return Group{}, err
	}
	groups, err := s.loadGroups(ctx, sn, &v1.RelationshipFilter{
		ResourceType:       typeGroup,
		OptionalResourceId: groupObjectID(org, name),
	})
	if err != nil {
		return Group{}, err
	}
	return groups[0], nil
}

// ListGroups returns every group of org with its direct members.
func (s *Service) ListGroups(ctx context.Context, org string) ([]Group, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return nil, err
	}
	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return nil, err
	}
	return s.loadGroups(ctx, sn, &v1.RelationshipFilter{
		ResourceType:             typeGroup,
		OptionalResourceIdPrefix: org + "/",
	})
}

func (s *Service) loadGroups(
	ctx context.Context, sn *snapshot, f *v1.RelationshipFilter,
) ([]Group, error) {
	rels, err := sn.read(ctx, f)
	if err != nil {
		return nil, err
	}

	byID := map[string]*Group{}
	for _, r := range rels {
		g, err := principalOfSubject(subjectObject(typeGroup, r.Resource.ObjectId))
		if err != nil {
			return nil, err
		}
		org, _, _ := strings.Cut(r.Resource.ObjectId, "/")
		entry := byID[r.Resource.ObjectId]
		if entry == nil {
			entry = &Group{Org: org, Name: g.ID, Members: []string{}}
			byID[r.Resource.ObjectId] = entry
		}
		if r.Relation != relDirectMember && r.Relation != relSubgroup {
			continue
		}
		m, err := principalOfSubject(r.Subject)
		if err != nil {
			return nil, err
		}
		entry.Members = append(entry.Members, m.String())
	}

	out := make([]Group, 0, len(byID))
	for _, g := range byID {
		sort.Strings(g.Members)
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// AddGroupMember adds a user, service account or group of org to a group
// of org. A membership that would make a group contain itself, or nest
// groups deeper than MaxGroupNestingDepth, is refused.
func (s *Service) AddGroupMember(
	ctx context.Context, org, group, member string,
) (WriteResult, error) {
	m, err := parseGroupEdit(org, group, member)
	if err != nil {
		return WriteResult{}, err
	}

	sn := s.newSnapshot("")
	if err := s.requireGroup(ctx, sn, org, group); err != nil {
		return WriteResult{}, err
	}
	if err := s.explainPrincipal(ctx, sn, org, "member", m); err != nil {
		return WriteResult{}, err
	}
	if m.Kind == principal.Group {
		if err := s.checkNesting(ctx, sn, org, group, m.ID); err != nil {
			return WriteResult{}, err
		}
	}

	// The preconditions keep the snapshot's answers true at the write:
	// both ends still exist, and the nesting checked is unchanged.
	updates := []*v1.RelationshipUpdate{touch(groupMembership(org, group, m))}
	preconditions := []*v1.Precondition{
		mustMatch(exactFilter(groupOwnership(org, group))),
		mustMatch(exactFilter(belongsTo(org, m))),
	}
	if m.Kind == principal.Group {
		bump, guard, err := s.nestingGuard(ctx, sn, org)
		if err != nil {
			return WriteResult{}, err
		}
		updates = append(updates, bump...)
		preconditions = append(preconditions, guard)
	}

	token, err := s.write(ctx, "add group member", updates, preconditions)
	if errors.Is(err, errPrecondition) {
		err = iamerr.New(iamerr.Conflict,
			"the group or the member changed during the write", "retry")
	}
	return WriteResult{Token: token}, err
}

// RemoveGroupMember removes a direct member from a group.
func (s *Service) RemoveGroupMember(
	ctx context.Context, org, group, member string,
) (WriteResult, error) {
	m, err := parseGroupEdit(org, group, member)
	if err != nil {
		return WriteResult{}, err
	}

	rel := groupMembership(org, group, m)
	sn := s.newSnapshot("")
	ok, err := sn.exists(ctx, rel)
	if err != nil {
		return WriteResult{}, err
	}
	if !ok {
		if err := s.requireGroup(ctx, sn, org, group); err != nil {
			return WriteResult{}, err
		}
		return WriteResult{}, &iamerr.Error{
			Kind: iamerr.NotFound, Field: "member", Value: member,
			Problem: "the principal is not a direct member of group " + group,
			Fix:     "list the group's members to check",
		}
	}

	token, err := s.write(ctx, "remove group member",
		[]*v1.RelationshipUpdate{remove(rel)}, nil)
	return WriteResult{Token: token}, err
}

// checkNesting refuses to put group child into group parent when parent
// is already inside child (a cycle), or when the nesting would grow
// deeper than MaxGroupNestingDepth.
func (s *Service) checkNesting(
	ctx context.Context, sn *snapshot, org, parent, child string,
) error {
	if parent == child {
		return iamerr.Invalid("member", "group:"+child,
			"a group cannot contain itself", "name another group")
	}

	// Walk down from child: if parent is found, the new edge closes a
	// cycle. The path found is named in the error.
	path, depthBelow, err := s.walkDown(ctx, sn, org, child, parent, 0)
	if err != nil {
		return err
	}
	if path != nil {
		cycle := append([]string{parent}, path...)
		return iamerr.Invalid("member", "group:"+child,
			"the membership would create the cycle "+
				strings.Join(cycle, " -> ")+" -> "+parent,
			"groups may nest, but never inside themselves")
	}

	depthAbove, err := s.depthAbove(ctx, sn, org, parent, 0)
	if err != nil {
		return err
	}
	if depth := depthAbove + 1 + depthBelow; depth > MaxGroupNestingDepth {
		return iamerr.Invalid("member", "group:"+child,
			"the membership would nest groups "+itoa(depth)+" levels deep",
			"keep nesting within "+itoa(MaxGroupNestingDepth)+" levels")
	}
	return nil
}

// childGroups returns the names of the groups directly inside group.
func (s *Service) childGroups(
	ctx context.Context, sn *snapshot, org, group string,
) ([]string, error) {
	rels, err := sn.read(ctx, &v1.RelationshipFilter{
		ResourceType:          typeGroup,
		OptionalResourceId:    groupObjectID(org, group),
		OptionalRelation:      relSubgroup,
		OptionalSubjectFilter: &v1.SubjectFilter{SubjectType: typeGroup},
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rels {
		p, err := principalOfSubject(&v1.SubjectReference{Object: r.Subject.Object})
		if err != nil {
			return nil, err
		}
		out = append(out, p.ID)
	}
	return out, nil
}

// walkDown searches the groups below from for target. It returns the path
// from from to target if found, and the depth of nesting below from.
func (s *Service) walkDown(
	ctx context.Context, sn *snapshot, org, from, target string, level int,
) ([]string, int, error) {
	if level > MaxGroupNestingDepth {
		return nil, level, nil
	}
	children, err := s.childGroups(ctx, sn, org, from)
	if err != nil {
		return nil, 0, err
	}

	deepest := 0
	for _, c := range children {
		if c == target {
			return []string{from}, 0, nil
		}
		path, d, err := s.walkDown(ctx, sn, org, c, target, level+1)
		if err != nil {
			return nil, 0, err
		}
		if path != nil {
			return append([]string{from}, path...), 0, nil
		}
		deepest = max(deepest, d+1)
	}
	return nil, deepest, nil
}

// depthAbove is the number of group levels above group.
func (s *Service) depthAbove(
	ctx context.Context, sn *snapshot, org, group string, level int,
) (int, error) {
	if level > MaxGroupNestingDepth {
		return level, nil
	}
	parents, err := sn.read(ctx, groupAsSubject(typeGroup, org, group))
	if err != nil {
		return 0, err
	}
	deepest := 0
	for _, r := range parents {
		p, err := principalOfSubject(subjectObject(typeGroup, r.Resource.ObjectId))
		if err != nil {
			return 0, err
		}
		d, err := s.depthAbove(ctx, sn, org, p.ID, level+1)
		if err != nil {
			return 0, err
		}
		deepest = max(deepest, d+1)
	}
	return deepest, nil
}

// nestingGuard replaces org's nesting version and returns the precondition
// that the version read is still current. Every group-in-group write
// carries it, so two nestings that are each acyclic alone but form a cycle
// together cannot both land.
func (s *Service) nestingGuard(
	ctx context.Context, sn *snapshot, org string,
) ([]*v1.RelationshipUpdate, *v1.Precondition, error) {
	filter := &v1.RelationshipFilter{
		ResourceType:       typeOrganization,
		OptionalResourceId: org,
		OptionalRelation:   relNestingVersion,
	}
	current, err := sn.read(ctx, filter)
	if err != nil {
		return nil, nil, err
	}

	next := relationship(object(typeOrganization, org), relNestingVersion,
		subjectObject(typePolicyVersion, newEtag()))
	updates := []*v1.RelationshipUpdate{create(next)}
	if len(current) == 0 {
		return updates, mustNotMatch(filter), nil
	}
	updates = append(updates, remove(current[0]))
	return updates, mustMatch(exactFilter(current[0])), nil
}
