package iam

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// MaxRawUpdates bounds one raw relationship write.
const MaxRawUpdates = 200

// RawUpdate is one raw relationship change, in SpiceDB's text form with
// IDs decoded: "group:ab1cd2/engineering#direct_member@user:a@example.com".
type RawUpdate struct {
	Delete       bool
	Relationship string
}

// rawRelation is a (resource type, relation) that administrators may write
// directly. Everything else (organizations, policies and their metadata) is
// managed through the typed methods, which keep etags and defaults intact.
type rawRelation struct {
	resourceType string
	relation     string
}

func writableRaw(resourceType, relation string) bool {
	switch (rawRelation{resourceType, relation}) {
	case rawRelation{typeOrganization, relMember},
		rawRelation{typeGroup, relDirectMember},
		rawRelation{typeGroup, relSubgroup},
		rawRelation{typeRule, relPrincipal}:
		return true
	}
	_, isRole := catalog.RoleForRelation(relation)
	return resourceType == typeRule && isRole
}

// parsedRaw is a validated raw relationship.
type parsedRaw struct {
	rel      *v1.Relationship
	subject  principal.Principal // for principal-valued subjects
	policyID string              // for rule relationships
}

// WriteRelationships applies raw relationship changes in org, in one
// atomic write, under the same invariants as the typed methods: every
// object and subject belongs to org, default policies keep their roles, and
// every policy a change touches gets a new etag.
func (s *Service) WriteRelationships(
	ctx context.Context, org string, updates []RawUpdate,
) (WriteResult, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return WriteResult{}, err
	}
	if len(updates) == 0 || len(updates) > MaxRawUpdates {
		return WriteResult{}, iamerr.Invalid("updates",
			itoa(len(updates))+" updates", "a raw write carries 1 to "+
				itoa(MaxRawUpdates)+" updates", "split or fill the request")
	}

	parsed := make([]parsedRaw, len(updates))
	seen := map[string]bool{}
	for i, u := range updates {
		field := fmt.Sprintf("updates[%d].relationship", i)
		p, err := parseRaw(field, org, u.Relationship)
		if err != nil {
			return WriteResult{}, err
		}
		if seen[relKey(p.rel)] {
			return WriteResult{}, iamerr.Invalid(field, u.Relationship,
				"the relationship is changed twice", "change it once")
		}
		seen[relKey(p.rel)] = true
		parsed[i] = p
	}

	if err := namesLeavingMember(parsed, updates); err != nil {
		return WriteResult{}, err
	}

	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return WriteResult{}, err
	}

	var ops []*v1.RelationshipUpdate
	var preconditions []*v1.Precondition
	policies := map[string]bool{}
	for i, p := range parsed {
		field := fmt.Sprintf("updates[%d].relationship", i)
		pre, err := s.rawPreconditions(ctx, sn, org, field, p, updates[i].Delete)
		if err != nil {
			return WriteResult{}, err
		}
		preconditions = append(preconditions, pre...)
		if updates[i].Delete {
			ops = append(ops, remove(p.rel))
		} else {
			ops = append(ops, touch(p.rel))
		}
		if p.policyID != "" {
			policies[p.policyID] = true
		}
	}

	if err := s.checkRawRules(ctx, sn, parsed, updates); err != nil {
		return WriteResult{}, err
	}
	bumps, guards, err := s.bumpVersions(ctx, sn, org, policies)
	if err != nil {
		return WriteResult{}, err
	}
	if n := nestings(parsed, updates); n > 0 {
		// Each nesting is checked against the stored groups alone, so two
		// in one write could close a cycle between them.
		if n > 1 {
			return WriteResult{}, iamerr.Invalid("updates", itoa(n)+" nestings",
				"a raw write may put at most one group into a group",
				"send each group-in-group membership in its own write")
		}
		bump, guard, err := s.nestingGuard(ctx, sn, org)
		if err != nil {
			return WriteResult{}, err
		}
		bumps = append(bumps, bump...)
		guards = append(guards, guard)
	}

	token, err := s.write(ctx, "write relationships",
		append(ops, bumps...), append(preconditions, guards...))
	if refusedByState(err) {
		err = iamerr.New(iamerr.Conflict,
			"the organization changed during the write", "read it again and retry")
	}
	return WriteResult{Token: token}, err
}

// namesLeavingMember refuses a write that ends a membership and names
// the same principal in a group or rule: its preconditions are checked
// before its changes, so it could leave a non-member named.
func namesLeavingMember(parsed []parsedRaw, updates []RawUpdate) error {
	leaving := map[principal.Principal]bool{}
	for i, p := range parsed {
		if updates[i].Delete && p.rel.Resource.ObjectType == typeOrganization {
			leaving[p.subject] = true
		}
	}

	for i, p := range parsed {
		if !updates[i].Delete && p.rel.Resource.ObjectType != typeOrganization &&
			leaving[p.subject] {
			return iamerr.Invalid(fmt.Sprintf("updates[%d].relationship", i),
				updates[i].Relationship,
				"the same write ends "+p.subject.String()+"'s membership",
				"drop this update, or end the membership in a later write")
		}
	}
	return nil
}

// nestings counts the raw updates that put a group into a group.
func nestings(parsed []parsedRaw, updates []RawUpdate) int {
	n := 0
	for i, p := range parsed {
		if !updates[i].Delete && p.rel.Resource.ObjectType == typeGroup &&
			p.rel.Relation == relSubgroup {
			n++
		}
	}
	return n
}

// rawPreconditions validates one raw change against the stored state and
// returns the preconditions that keep that validation true at the write.
func (s *Service) rawPreconditions(
	ctx context.Context, sn *snapshot, org, field string, p parsedRaw, del bool,
) ([]*v1.Precondition, error) {
	r := p.rel
	if del {
		if r.Resource.ObjectType == typeOrganization {
			return s.membershipRemoval(ctx, sn, org, field, p.subject)
		}
		return nil, nil
	}

	var pre []*v1.Precondition
	if r.Resource.ObjectType == typeRule {
		link, err := s.requireRuleLink(ctx, sn, org, field, p)
		if err != nil {
			return nil, err
		}
		pre = append(pre, mustMatch(exactFilter(link)))
	}

	switch {
	case r.Resource.ObjectType == typeOrganization:
		other, err := s.organizationOf(ctx, sn, p.subject)
		if err != nil {
			return nil, err
		}
		if other != "" && other != org {
			return nil, &iamerr.Error{
				Kind: iamerr.FailedPrecondition, Field: field,
				Value:   p.subject.String(),
				Problem: "the principal belongs to another organization",
				Fix:     "a principal belongs to exactly one organization",
			}
		}
		if other == "" {
			return []*v1.Precondition{mustNotMatch(anyOrgMembership(p.subject))}, nil
		}
		// Already a member: the touch must not land after a move to
		// another organization.
		return []*v1.Precondition{mustMatch(exactFilter(r))}, nil

	case r.Subject.Object.ObjectType == typeRule:
		// A rule's role grant to its own principals, as parseRaw
		// validated: it names no principal.
		return pre, nil
	}

	if err := s.explainPrincipal(ctx, sn, org, field, p.subject); err != nil {
		return nil, err
	}
	if r.Resource.ObjectType == typeGroup {
		parent, _ := principalOfSubject(&v1.SubjectReference{Object: r.Resource})
		if err := s.requireGroup(ctx, sn, org, parent.ID); err != nil {
			return nil, err
		}
		pre = append(pre, mustMatch(exactFilter(groupOwnership(org, parent.ID))))
		if p.subject.Kind == principal.Group {
			if err := s.checkNesting(ctx, sn, org, parent.ID, p.subject.ID); err != nil {
				return nil, err
			}
		}
	}
	return append(pre, mustMatch(exactFilter(belongsTo(org, p.subject)))), nil
}

// referencesOf matches every relationship of org's groups or rules (by
// resourceType) that names member as a principal.
func referencesOf(
	org, resourceType string, member principal.Principal,
) *v1.RelationshipFilter {
	relation := relPrincipal
	if resourceType == typeGroup {
		relation = relDirectMember
	}
	return &v1.RelationshipFilter{
		ResourceType:             resourceType,
		OptionalResourceIdPrefix: org + "/",
		OptionalRelation:         relation,
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType:       string(member.Kind),
			OptionalSubjectId: principal.EncodeID(member.ID),
		},
	}
}

// membershipRemoval allows ending member's membership of org only once
// no group or rule of org names it, and returns the preconditions that
// keep it so at the write. This is what makes the schema's pure unions
// safe: a principal named in an organization is always one of its
// members, so nothing granted there can reach anyone else.
func (s *Service) membershipRemoval(
	ctx context.Context, sn *snapshot, org, field string, member principal.Principal,
) ([]*v1.Precondition, error) {
	var pre []*v1.Precondition
	var named []string
	for _, typ := range []string{typeGroup, typeRule} {
		filter := referencesOf(org, typ, member)
		rels, err := sn.read(ctx, filter)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			named = append(named, renderObject(r.Resource))
		}
		pre = append(pre, mustNotMatch(filter))
	}
	if len(named) == 0 {
		return pre, nil
	}

	sort.Strings(named)
	if len(named) > 5 {
		named = append(named[:5], fmt.Sprintf("and %d more", len(named)-5))
	}
	return nil, &iamerr.Error{
		Kind: iamerr.FailedPrecondition, Field: field, Value: member.String(),
		Problem: "the principal is still named by " + strings.Join(named, ", "),
		Fix: "remove it from those groups and rules first, in an " +
			"earlier write (RemoveGroupMember, ReplacePolicy or " +
			"UnassignLegacyGroup), then end its membership",
	}
}

// requireRuleLink returns the relationship that makes a rule part of its
// policy, or NotFound: raw writes edit rules, they do not create them.
func (s *Service) requireRuleLink(
	ctx context.Context, sn *snapshot, org, field string, p parsedRaw,
) (*v1.Relationship, error) {
	link := relationship(object(typePolicy, policyObjectID(org, p.policyID)),
		relRule, &v1.SubjectReference{Object: p.rel.Resource})
	ok, err := sn.exists(ctx, link)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &iamerr.Error{
			Kind: iamerr.NotFound, Field: field,
			Value:   "rule:" + p.rel.Resource.ObjectId,
			Problem: "no such rule in policy " + p.policyID,
			Fix:     "add rules with ReplacePolicy; raw writes edit existing rules",
		}
	}
	return link, nil
}

// ruleState is what a rule holds, as relationship keys.
type ruleState struct {
	principals, roles map[string]bool
}

func newRuleState() *ruleState {
	return &ruleState{principals: map[string]bool{}, roles: map[string]bool{}}
}

// set records relationship r as present in the rule, or not.
func (st *ruleState) set(r *v1.Relationship, present bool) {
	into := st.roles
	if r.Relation == relPrincipal {
		into = st.principals
	}
	if present {
		into[relKey(r)] = true
	} else {
		delete(into, relKey(r))
	}
}

// checkRawRules refuses raw changes that would leave a rule the typed
// methods could not have written: without a principal or a role, or with
// more principals than a rule may hold. The policy etag guards that the
// rules read are those the write changes.
func (s *Service) checkRawRules(
	ctx context.Context, sn *snapshot, parsed []parsedRaw, updates []RawUpdate,
) error {
	rules := map[string]*ruleState{}

	for i, p := range parsed {
		if p.rel.Resource.ObjectType != typeRule {
			continue
		}
		id := p.rel.Resource.ObjectId
		st := rules[id]
		if st == nil {
			current, err := sn.read(ctx, &v1.RelationshipFilter{
				ResourceType: typeRule, OptionalResourceId: id,
			})
			if err != nil {
				return err
			}
			st = newRuleState()
			for _, r := range current {
				st.set(r, true)
			}
			rules[id] = st
		}
		st.set(p.rel, !updates[i].Delete)
	}

	for id, st := range rules {
		field := "rule:" + id
		switch {
		case len(st.principals) == 0:
			return iamerr.Invalid("updates", field,
				"the change would leave the rule without a principal",
				"remove the rule with ReplacePolicy instead")
		case len(st.roles) == 0:
			return iamerr.Invalid("updates", field,
				"the change would leave the rule without a role",
				"remove the rule with ReplacePolicy instead")
		case len(st.principals) > MaxPrincipalsPerRule:
			return iamerr.Invalid("updates", field,
				fmt.Sprintf("the rule would name %d principals", len(st.principals)),
				fmt.Sprintf("keep at most %d per rule; use a group", MaxPrincipalsPerRule))
		}
	}
	return nil
}

// bumpVersions gives each policy a new etag, guarded by its current one.
func (s *Service) bumpVersions(
	ctx context.Context, sn *snapshot, org string, ids map[string]bool,
) ([]*v1.RelationshipUpdate, []*v1.Precondition, error) {
	var ops []*v1.RelationshipUpdate
	var guards []*v1.Precondition
	for id := range ids {
		policies, err := s.loadPolicies(ctx, sn, org, id)
		if err != nil {
			return nil, nil, err
		}
		p, ok := policies[id]
		if !ok {
			return nil, nil, policyNotFound(org, id)
		}
		ops = append(ops, remove(p.version), create(versionRelationship(
			org, id, newEtag(), p.Description, p.CreatedAt)))
		guards = append(guards, mustMatch(exactFilter(p.version)))
	}
	return ops, guards, nil
}

// parseRaw parses "type:id#relation@type:id[#relation]" with decoded IDs
// and checks it against the model and org's scope.
func parseRaw(field, org, text string) (parsedRaw, error) {
	bad := func(problem string) error {
		return iamerr.Invalid(field, text, problem,
			"write it as resource_type:id#relation@subject_type:id, "+
				"e.g. group:"+org+"/engineering#direct_member@user:a@example.com")
	}

	resource, rest, ok := strings.Cut(strings.TrimSpace(text), "#")
	if !ok {
		return parsedRaw{}, bad("the relation is missing")
	}
	relation, subject, ok := strings.Cut(rest, "@")
	if !ok {
		return parsedRaw{}, bad("the subject is missing")
	}
	resType, resID, ok := strings.Cut(resource, ":")
	if !ok || resID == "" {
		return parsedRaw{}, bad("the resource is not type:id")
	}
	if !writableRaw(resType, relation) {
		return parsedRaw{}, iamerr.Invalid(field, text,
			fmt.Sprintf("%s#%s cannot be written raw", resType, relation),
			"raw writes cover organization#member, group#direct_member, "+
				"group#subgroup, "+
				"rule#principal and rule#grants_*; use the policy, group "+
				"and organization methods for the rest")
	}

	out := parsedRaw{}
	resObject, err := scopedObject(field, org, resType, resID, &out)
	if err != nil {
		return parsedRaw{}, err
	}

	subjectRef, err := parseRawSubject(field, org, resObject, relation, subject, &out)
	if err != nil {
		return parsedRaw{}, err
	}
	out.rel = relationship(resObject, relation, subjectRef)
	return out, nil
}

// scopedObject builds a resource object that must belong to org.
func scopedObject(
	field, org, typ, id string, out *parsedRaw,
) (*v1.ObjectReference, error) {
	outOfScope := iamerr.Invalid(field, typ+":"+id,
		"the object is outside organization "+org,
		"name "+typ+" IDs that start with \""+org+"/\"")

	switch typ {
	case typeOrganization:
		if id != org {
			return nil, outOfScope
		}
		return object(typ, id), nil

	case typeGroup:
		name, ok := strings.CutPrefix(id, org+"/")
		if !ok {
			return nil, outOfScope
		}
		if err := ValidateGroupName(field, name); err != nil {
			return nil, err
		}
		return object(typ, groupObjectID(org, name)), nil

	case typeRule:
		rest, ok := strings.CutPrefix(id, org+"/")
		slash := strings.LastIndexByte(rest, '/')
		if !ok || slash < 0 || !isRuleNumber(rest[slash+1:]) {
			return nil, iamerr.Invalid(field, typ+":"+id,
				"a rule ID is <organization>/<policy>/<n>",
				"read the policy's relationships to find its rule IDs")
		}
		out.policyID = rest[:slash]
		if err := ValidatePolicyID(field, out.policyID); err != nil {
			return nil, err
		}
		return object(typ, id), nil
	}
	return nil, iamerr.Invalid(field, typ, "unknown resource type",
		"use organization, group or rule")
}

// isRuleNumber reports whether s is a rule's position in its policy, as
// ruleObjectID writes it.
func isRuleNumber(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0 && n < MaxRulesPerPolicy && itoa(n) == s
}

// parseRawSubject parses the subject of a raw relationship on resource.
func parseRawSubject(
	field, org string, resource *v1.ObjectReference, relation, text string,
	out *parsedRaw,
) (*v1.SubjectReference, error) {
	resType, resID := resource.ObjectType, resource.ObjectId

	if _, isRole := catalog.RoleForRelation(relation); isRole {
		if isDefaultPolicyID(out.policyID) {
			return nil, &iamerr.Error{
				Kind: iamerr.FailedPrecondition, Field: field, Value: relation,
				Problem: "the roles of default policy " + out.policyID +
					" are fixed by the service",
				Fix: "change only its principals",
			}
		}
		self := typeRule + ":" + resID + "#" + relPrincipal
		if text != self {
			return nil, iamerr.Invalid(field, text,
				"a rule grants a role to its own principals",
				"use the subject "+self)
		}
		return &v1.SubjectReference{
			Object: object(typeRule, resID), OptionalRelation: relPrincipal,
		}, nil
	}

	if relation == relOrganization {
		if text != typeOrganization+":"+org {
			return nil, iamerr.Invalid(field, text,
				"a group of "+org+" belongs to organization "+org,
				"use the subject organization:"+org)
		}
		return subjectObject(typeOrganization, org), nil
	}

	written := text
	kind, id, ok := strings.Cut(text, ":")
	if ok && kind == typeGroup {
		name, scoped := strings.CutPrefix(strings.TrimSuffix(id, "#"+relMember), org+"/")
		if !scoped || !strings.HasSuffix(id, "#"+relMember) {
			return nil, iamerr.Invalid(field, text,
				"a group subject is group:"+org+"/<name>#member",
				"name a group of "+org+" with #member")
		}
		text = "group:" + name
	}
	p, err := principal.Parse(field, text)
	if err != nil {
		return nil, err
	}
	if resType == typeOrganization && p.Kind == principal.Group {
		return nil, iamerr.Invalid(field, text,
			"organization members are users and service accounts",
			"name a user: or serviceaccount:")
	}
	if resType == typeGroup && relation != membershipRelation(p) {
		wanted := renderObject(resource) + "#" + membershipRelation(p) + "@" + written
		return nil, iamerr.Invalid(field, renderObject(resource)+"#"+relation+"@"+written,
			"a group holds users and service accounts as direct_member "+
				"and nested groups as subgroup",
			"write "+wanted)
	}
	out.subject = p
	return subjectOf(org, p), nil
}

// ReadRelationships returns every relationship of org in the text form
// WriteRelationships takes, IDs decoded, sorted.
func (s *Service) ReadRelationships(ctx context.Context, org, token string) ([]string, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return nil, err
	}
	sn := s.newSnapshot(token)
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return nil, err
	}

	filters := []*v1.RelationshipFilter{
		{ResourceType: typeOrganization, OptionalResourceId: org},
		{ResourceType: typeGroup, OptionalResourceIdPrefix: org + "/"},
		{ResourceType: typePolicy, OptionalResourceIdPrefix: org + "/"},
		{ResourceType: typeRule, OptionalResourceIdPrefix: org + "/"},
	}
	var out []string
	for _, f := range filters {
		rels, err := sn.read(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			out = append(out, renderRelationship(r))
		}
	}
	sort.Strings(out)
	return out, nil
}

// renderRelationship writes r with decoded IDs.
func renderRelationship(r *v1.Relationship) string {
	res := renderObject(r.Resource)
	sub := renderObject(r.Subject.Object)
	if r.Subject.OptionalRelation != "" {
		sub += "#" + r.Subject.OptionalRelation
	}
	return res + "#" + r.Relation + "@" + sub
}

func renderObject(o *v1.ObjectReference) string {
	id := o.ObjectId
	switch o.ObjectType {
	case typeUser, typeServiceAcct:
		if d, err := principal.DecodeID(id); err == nil {
			id = d
		}
	case typeGroup:
		if org, name, ok := strings.Cut(id, "/"); ok {
			if d, err := principal.DecodeID(name); err == nil {
				id = org + "/" + d
			}
		}
	}
	return o.ObjectType + ":" + id
}
