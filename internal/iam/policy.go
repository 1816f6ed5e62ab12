package iam

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// Rule assigns roles to principals. Principals are written "kind:id";
// roles by any spelling of their name. What the service returns is
// canonical: role IDs in catalog order and principals sorted.
type Rule struct {
	Principals []string
	Roles      []string
}

// Policy is a set of rules of one organization.
type Policy struct {
	Org         string
	ID          string
	Description string
	Rules       []Rule

	// Default marks one of the five default policies of the legacy
	// groups: its roles are fixed and it cannot be deleted.
	Default bool

	CreatedAt time.Time

	// Etag changes with every write of the policy. Pass it back to
	// replace or delete only the version you read.
	Etag string
}

// canonicalRule is a validated rule.
type canonicalRule struct {
	Principals []principal.Principal
	Roles      []string
}

// validateRules checks every rule and returns them canonical. Nothing is
// read: membership of the organization is checked by the write.
func validateRules(rules []Rule) ([]canonicalRule, error) {
	if len(rules) > MaxRulesPerPolicy {
		return nil, iamerr.Invalid("rules", itoa(len(rules))+" rules",
			"too many rules in one policy",
			"use at most "+itoa(MaxRulesPerPolicy)+" or split the policy")
	}

	out := make([]canonicalRule, 0, len(rules))
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		cr, err := validateRule(field, r)
		if err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

func validateRule(field string, r Rule) (canonicalRule, error) {
	var cr canonicalRule
	if len(r.Principals) == 0 {
		return cr, iamerr.Invalid(field+".principals", "",
			"a rule needs at least one principal",
			"name a user:, group: or serviceaccount: principal")
	}
	if len(r.Principals) > MaxPrincipalsPerRule {
		return cr, iamerr.Invalid(field+".principals",
			itoa(len(r.Principals))+" principals", "too many principals",
			"use at most "+itoa(MaxPrincipalsPerRule)+
				" per rule, or put them in a group")
	}
	if len(r.Roles) == 0 {
		return cr, iamerr.Invalid(field+".roles", "",
			"a rule needs at least one role",
			"name a role such as \"CKS Viewer\"")
	}

	seen := map[principal.Principal]bool{}
	for j, raw := range r.Principals {
		pf := fmt.Sprintf("%s.principals[%d]", field, j)
		p, err := principal.Parse(pf, raw)
		if err != nil {
			return cr, err
		}
		if seen[p] {
			return cr, iamerr.Invalid(pf, raw, "the principal is listed twice",
				"list each principal once")
		}
		seen[p] = true
		cr.Principals = append(cr.Principals, p)
	}

	roleSet := map[string]bool{}
	for j, raw := range r.Roles {
		rf := fmt.Sprintf("%s.roles[%d]", field, j)
		role, err := catalog.LookupRole(rf, raw)
		if err != nil {
			return cr, err
		}
		if roleSet[role.ID] {
			return cr, iamerr.Invalid(rf, raw, "the role is listed twice",
				"list each role once")
		}
		roleSet[role.ID] = true
	}
	cr.Roles = catalogOrder(roleSet)
	sortPrincipals(cr.Principals)
	return cr, nil
}

func catalogOrder(set map[string]bool) []string {
	var out []string
	for _, r := range catalog.Roles() {
		if set[r.ID] {
			out = append(out, r.ID)
		}
	}
	return out
}

func sortPrincipals(ps []principal.Principal) {
	sort.Slice(ps, func(i, j int) bool {
		return ps[i].String() < ps[j].String()
	})
}

// ValidateDescription checks a policy description: UTF-8 text with line
// breaks and tabs, but no other control character (NUL cannot be stored,
// and escape sequences would rewrite an administrator's terminal), at
// most MaxDescriptionLength bytes.
func ValidateDescription(field, d string) error {
	if !utf8.ValidString(d) {
		return iamerr.Invalid(field, d, "not valid UTF-8",
			"send the description as UTF-8 text")
	}
	for _, r := range d {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return iamerr.Invalid(field, d, fmt.Sprintf(
				"the description contains the control character %U", r),
				"remove it; line breaks and tabs are allowed")
		}
	}
	if len(d) > MaxDescriptionLength {
		return iamerr.Invalid(field, d,
			fmt.Sprintf("the description is %d bytes long", len(d)),
			fmt.Sprintf("use at most %d", MaxDescriptionLength))
	}
	return nil
}

// policyRelationships renders a policy's rules, without its version.
func policyRelationships(
	org, id string, rules []canonicalRule,
) []*v1.Relationship {
	policy := object(typePolicy, policyObjectID(org, id))

	out := []*v1.Relationship{
		relationship(object(typeOrganization, org), relPolicy,
			&v1.SubjectReference{Object: policy}),
		relationship(policy, relOrganization,
			subjectObject(typeOrganization, org)),
	}
	for n, r := range rules {
		rule := object(typeRule, ruleObjectID(org, id, n))
		out = append(out, relationship(policy, relRule,
			&v1.SubjectReference{Object: rule}))
		for _, p := range r.Principals {
			out = append(out, relationship(rule, relPrincipal, subjectOf(org, p)))
		}
		for _, role := range r.Roles {
			out = append(out, roleGrant(rule, role))
		}
	}
	return out
}

// roleGrant is the relationship by which rule grants role to its own
// principals: rule:r#grants_<role>@rule:r#principal.
func roleGrant(rule *v1.ObjectReference, role string) *v1.Relationship {
	return relationship(rule, catalog.RoleRelation(role),
		&v1.SubjectReference{Object: rule, OptionalRelation: relPrincipal})
}

// versionRelationship carries the policy's etag and metadata.
func versionRelationship(
	org, id, etag, description string, created time.Time,
) *v1.Relationship {
	ctx, _ := structpb.NewStruct(map[string]any{
		"description": description,
		"created_at":  created.UTC().Format(time.RFC3339Nano),
	})
	r := relationship(object(typePolicy, policyObjectID(org, id)), relVersion,
		subjectObject(typePolicyVersion, etag))
	r.OptionalCaveat = &v1.ContextualizedCaveat{
		CaveatName: metadataCaveat, Context: ctx,
	}
	return r
}

// anyVersion matches the version relationship of a policy.
func anyVersion(org, id string) *v1.RelationshipFilter {
	return &v1.RelationshipFilter{
		ResourceType:       typePolicy,
		OptionalResourceId: policyObjectID(org, id),
		OptionalRelation:   relVersion,
	}
}

func newEtag() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func defaultPolicyDescription(g catalog.LegacyGroup) string {
	return "Default policy of the legacy group " + g.Name +
		"; its roles are kept by the service."
}

// principalOfSubject decodes a subject back into a principal.
func principalOfSubject(s *v1.SubjectReference) (principal.Principal, error) {
	id := s.Object.ObjectId
	kind := principal.Kind(s.Object.ObjectType)
	if kind == principal.Group {
		_, name, ok := strings.Cut(id, "/")
		if !ok {
			return principal.Principal{}, fmt.Errorf("iam: bad group ID %q", id)
		}
		id = name
	}
	decoded, err := principal.DecodeID(id)
	if err != nil {
		return principal.Principal{}, err
	}
	return principal.Principal{Kind: kind, ID: decoded}, nil
}

// storedPolicy is a policy with the relationships it is stored as.
type storedPolicy struct {
	Policy
	rels    []*v1.Relationship // every relationship except the version
	version *v1.Relationship
}

// loadPolicies reads the policies of org (only policy id, if given) at
// one snapshot.
func (s *Service) loadPolicies(
	ctx context.Context, sn *snapshot, org, id string,
) (map[string]*storedPolicy, error) {
	policyFilter := &v1.RelationshipFilter{ResourceType: typePolicy}
	ruleFilter := &v1.RelationshipFilter{ResourceType: typeRule}
	linkFilter := &v1.RelationshipFilter{
		ResourceType:       typeOrganization,
		OptionalResourceId: org,
		OptionalRelation:   relPolicy,
	}
	if id == "" {
		policyFilter.OptionalResourceIdPrefix = org + "/"
		ruleFilter.OptionalResourceIdPrefix = org + "/"
	} else {
		policyFilter.OptionalResourceId = policyObjectID(org, id)
		ruleFilter.OptionalResourceIdPrefix = policyObjectID(org, id) + "/"
		linkFilter.OptionalSubjectFilter = &v1.SubjectFilter{
			SubjectType:       typePolicy,
			OptionalSubjectId: policyObjectID(org, id),
		}
	}

	policyRels, err := sn.read(ctx, policyFilter)
	if err != nil {
		return nil, err
	}
	ruleRels, err := sn.read(ctx, ruleFilter)
	if err != nil {
		return nil, err
	}
	links, err := sn.read(ctx, linkFilter)
	if err != nil {
		return nil, err
	}

	policies := map[string]*storedPolicy{}
	get := func(objectID string) *storedPolicy {
		pid := strings.TrimPrefix(objectID, org+"/")
		p, ok := policies[pid]
		if !ok {
			p = &storedPolicy{Policy: Policy{
				Org: org, ID: pid, Default: isDefaultPolicyID(pid),
			}}
			policies[pid] = p
		}
		return p
	}

	for _, r := range links {
		p := get(r.Subject.Object.ObjectId)
		p.rels = append(p.rels, r)
	}
	for _, r := range policyRels {
		p := get(r.Resource.ObjectId)
		if r.Relation == relVersion {
			p.version = r
			readMetadata(&p.Policy, r)
			continue
		}
		p.rels = append(p.rels, r)
	}
	if err := assembleRules(org, policies, ruleRels, get); err != nil {
		return nil, err
	}

	for pid, p := range policies {
		if p.version == nil {
			// Rules without a version are not a policy; they cannot
			// exist, as every write carries the version.
			delete(policies, pid)
		}
	}
	return policies, nil
}

func readMetadata(p *Policy, version *v1.Relationship) {
	p.Etag = version.Subject.Object.ObjectId
	fields := version.GetOptionalCaveat().GetContext().GetFields()
	p.Description = fields["description"].GetStringValue()
	created := fields["created_at"].GetStringValue()
	p.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
}

// assembleRules groups rule relationships into each policy's rules.
func assembleRules(
	org string, policies map[string]*storedPolicy,
	ruleRels []*v1.Relationship, get func(string) *storedPolicy,
) error {
	type ruleAcc struct {
		principals []string
		roles      map[string]bool
	}
	acc := map[string]map[int]*ruleAcc{}

	for _, r := range ruleRels {
		objectID := r.Resource.ObjectId
		slash := strings.LastIndexByte(objectID, '/')
		n, err := strconv.Atoi(objectID[slash+1:])
		if slash < 0 || err != nil {
			return fmt.Errorf("iam: bad rule ID %q", objectID)
		}
		p := get(objectID[:slash])
		p.rels = append(p.rels, r)

		if acc[p.ID] == nil {
			acc[p.ID] = map[int]*ruleAcc{}
		}
		ra := acc[p.ID][n]
		if ra == nil {
			ra = &ruleAcc{roles: map[string]bool{}}
			acc[p.ID][n] = ra
		}

		if r.Relation == relPrincipal {
			who, err := principalOfSubject(r.Subject)
			if err != nil {
				return err
			}
			ra.principals = append(ra.principals, who.String())
		} else if role, ok := catalog.RoleForRelation(r.Relation); ok {
			ra.roles[role] = true
		}
	}

	for pid, rules := range acc {
		ns := make([]int, 0, len(rules))
		for n := range rules {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		for _, n := range ns {
			ra := rules[n]
			sort.Strings(ra.principals)
			policies[pid].Rules = append(policies[pid].Rules, Rule{
				Principals: ra.principals, Roles: catalogOrder(ra.roles),
			})
		}
	}
	return nil
}

func policyNotFound(org, id string) error {
	return &iamerr.Error{
		Kind: iamerr.NotFound, Field: "policy_id", Value: id,
		Problem: "no such policy in organization " + org,
		Fix:     "list the organization's policies to find its ID",
	}
}

// GetPolicy reads one policy. token, if set, makes the read at least as
// fresh as that write.
func (s *Service) GetPolicy(ctx context.Context, org, id, token string) (Policy, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return Policy{}, err
	}
	if err := ValidatePolicyID("policy_id", id); err != nil {
		return Policy{}, err
	}

	policies, err := s.loadPolicies(ctx, s.newSnapshot(token), org, id)
	if err != nil {
		return Policy{}, err
	}
	p, ok := policies[id]
	if !ok {
		return Policy{}, policyNotFound(org, id)
	}
	return p.Policy, nil
}

// ListPolicies returns every policy of org, default ones first, then by ID.
func (s *Service) ListPolicies(ctx context.Context, org string) ([]Policy, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return nil, err
	}
	sn := s.newSnapshot("")
	if err := s.requireOrg(ctx, sn, org); err != nil {
		return nil, err
	}

	policies, err := s.loadPolicies(ctx, sn, org, "")
	if err != nil {
		return nil, err
	}
	out := make([]Policy, 0, len(policies))
	for _, p := range policies {
		out = append(out, p.Policy)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Default != out[j].Default {
			return out[i].Default
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// PolicyInput is a policy to create or replace.
type PolicyInput struct {
	Org         string
	ID          string
	Description string
	Rules       []Rule

	// Etag, on replace and delete, is the etag read: the write fails with
	// a conflict if the policy changed since. Empty means "whatever is
	// stored now".
	Etag string
}

// PolicyWrite is the result of a policy write.
type PolicyWrite struct {
	WriteResult
	Etag string
}

func (in PolicyInput) validate() ([]canonicalRule, error) {
	if err := ValidateOrgID("organization", in.Org); err != nil {
		return nil, err
	}
	if err := ValidatePolicyID("policy_id", in.ID); err != nil {
		return nil, err
	}
	if err := ValidateDescription("description", in.Description); err != nil {
		return nil, err
	}
	rules, err := validateRules(in.Rules)
	if err != nil {
		return nil, err
	}
	return rules, checkPrincipalCount(rules)
}

// CreatePolicy creates a policy. Its ID must be new in the organization
// and every principal it names must belong to the organization.
func (s *Service) CreatePolicy(ctx context.Context, in PolicyInput) (PolicyWrite, error) {
	rules, err := in.validate()
	if err != nil {
		return PolicyWrite{}, err
	}
	if isDefaultPolicyID(in.ID) {
		return PolicyWrite{}, iamerr.Invalid("policy_id", in.ID,
			"IDs starting with \""+catalog.DefaultPolicyPrefix+
				"\" are reserved for default policies",
			"choose another ID")
	}

	etag := newEtag()
	var updates []*v1.RelationshipUpdate
	for _, r := range policyRelationships(in.Org, in.ID, rules) {
		updates = append(updates, touch(r))
	}
	updates = append(updates, create(versionRelationship(
		in.Org, in.ID, etag, in.Description, time.Now())))

	preconditions := append(
		[]*v1.Precondition{
			mustMatch(exactFilter(orgRegistration(in.Org))),
			mustNotMatch(anyVersion(in.Org, in.ID)),
		},
		principalPreconditions(in.Org, rules)...)

	token, err := s.write(ctx, "create policy", updates, preconditions)
	if refusedByState(err) {
		err = s.explainPolicyConflict(ctx, in, rules, false)
	}
	if err != nil {
		return PolicyWrite{}, err
	}
	return PolicyWrite{WriteResult{token}, etag}, nil
}

// ReplacePolicy swaps a policy's description and rules for in's, in one
// atomic write. A default policy keeps its roles: in may change only its
// principals. Without an etag the replace applies to whatever is stored,
// retrying if another writer lands first.
func (s *Service) ReplacePolicy(ctx context.Context, in PolicyInput) (PolicyWrite, error) {
	rules, err := in.validate()
	if err != nil {
		return PolicyWrite{}, err
	}

	return retryConflicts(ctx, in.Etag, func() (PolicyWrite, error) {
		return s.replaceOnce(ctx, in, rules)
	})
}

func (s *Service) replaceOnce(
	ctx context.Context, in PolicyInput, rules []canonicalRule,
) (PolicyWrite, error) {
	current, err := s.currentPolicy(ctx, in.Org, in.ID, in.Etag)
	if err != nil {
		return PolicyWrite{}, err
	}
	description := in.Description
	if current.Default {
		rules, err = defaultPolicyRules(in.ID, rules)
		if err != nil {
			return PolicyWrite{}, err
		}
		if description != "" && description != current.Description {
			return PolicyWrite{}, &iamerr.Error{
				Kind: iamerr.FailedPrecondition, Field: "description",
				Value:   iamerr.Echo(description),
				Problem: "the description of default policy " + in.ID + " is fixed",
				Fix:     "leave it empty or unchanged",
			}
		}
		description = current.Description
	}

	etag := newEtag()
	desired := policyRelationships(in.Org, in.ID, rules)
	updates := diff(current.rels, desired)
	updates = append(updates,
		remove(current.version),
		create(versionRelationship(in.Org, in.ID, etag,
			description, current.CreatedAt)))

	preconditions := append(
		[]*v1.Precondition{mustMatch(exactFilter(current.version))},
		principalPreconditions(in.Org, rules)...)

	token, err := s.write(ctx, "replace policy", updates, preconditions)
	if refusedByState(err) {
		in.Etag = current.Etag
		err = s.explainPolicyConflict(ctx, in, rules, true)
	}
	if err != nil {
		return PolicyWrite{}, err
	}
	return PolicyWrite{WriteResult{token}, etag}, nil
}

// DeletePolicy deletes a policy and all its rules. Default policies cannot
// be deleted.
func (s *Service) DeletePolicy(ctx context.Context, org, id, etag string) (WriteResult, error) {
	if err := ValidateOrgID("organization", org); err != nil {
		return WriteResult{}, err
	}
	if err := ValidatePolicyID("policy_id", id); err != nil {
		return WriteResult{}, err
	}
	if isDefaultPolicyID(id) {
		return WriteResult{}, &iamerr.Error{
			Kind: iamerr.FailedPrecondition, Field: "policy_id", Value: id,
			Problem: "default policies cannot be deleted",
			Fix:     "remove its principals instead",
		}
	}

	return retryConflicts(ctx, etag, func() (WriteResult, error) {
		return s.deleteOnce(ctx, org, id, etag)
	})
}

// deleteOnce deletes the policy as read now, if its etag is still etag
// (or anything, when etag is empty) when the write lands.
func (s *Service) deleteOnce(ctx context.Context, org, id, etag string) (WriteResult, error) {
	current, err := s.currentPolicy(ctx, org, id, etag)
	if err != nil {
		return WriteResult{}, err
	}

	updates := []*v1.RelationshipUpdate{remove(current.version)}
	for _, r := range current.rels {
		updates = append(updates, remove(r))
	}
	token, err := s.write(ctx, "delete policy", updates,
		[]*v1.Precondition{mustMatch(exactFilter(current.version))})
	if refusedByState(err) {
		err = staleEtag(id, current.Etag)
	}
	return WriteResult{Token: token}, err
}

// currentPolicy reads a policy for a write and checks the caller's etag.
func (s *Service) currentPolicy(
	ctx context.Context, org, id, etag string,
) (*storedPolicy, error) {
	policies, err := s.loadPolicies(ctx, s.newSnapshot(""), org, id)
	if err != nil {
		return nil, err
	}
	current, ok := policies[id]
	if !ok {
		return nil, policyNotFound(org, id)
	}
	if etag != "" && etag != current.Etag {
		return nil, staleEtag(id, etag)
	}
	return current, nil
}

func staleEtag(id, etag string) error {
	return &iamerr.Error{
		Kind: iamerr.Conflict, Field: "etag", Value: etag,
		Problem: "policy " + id + " changed since this etag was read",
		Fix:     "read the policy again, reapply your change, and retry",
	}
}

// defaultPolicyRules merges the principals of rules into the single rule
// of a default policy, refusing any role change.
func defaultPolicyRules(id string, rules []canonicalRule) ([]canonicalRule, error) {
	group, _ := catalog.LookupLegacyGroup("policy_id",
		strings.TrimPrefix(id, catalog.DefaultPolicyPrefix))
	fixed := catalogOrder(setOf(group.Roles))

	merged := canonicalRule{Roles: fixed}
	seen := map[principal.Principal]bool{}
	for i, r := range rules {
		if !slices.Equal(r.Roles, fixed) {
			return nil, &iamerr.Error{
				Kind:  iamerr.FailedPrecondition,
				Field: fmt.Sprintf("rules[%d].roles", i),
				Value: strings.Join(r.Roles, ","),
				Problem: "the roles of default policy " + id +
					" are fixed by the service",
				Fix: "keep its roles (" + strings.Join(fixed, ", ") +
					") and change only principals, or create a new policy",
			}
		}
		for _, p := range r.Principals {
			if !seen[p] {
				seen[p] = true
				merged.Principals = append(merged.Principals, p)
			}
		}
	}
	sortPrincipals(merged.Principals)
	return []canonicalRule{merged}, nil
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// diff turns current into desired: deletes and touches, each
// relationship once.
func diff(current, desired []*v1.Relationship) []*v1.RelationshipUpdate {
	want := map[string]bool{}
	for _, r := range desired {
		want[relKey(r)] = true
	}
	have := map[string]bool{}
	var out []*v1.RelationshipUpdate
	for _, r := range current {
		have[relKey(r)] = true
		if !want[relKey(r)] {
			out = append(out, remove(r))
		}
	}
	for _, r := range desired {
		if !have[relKey(r)] {
			out = append(out, touch(r))
		}
	}
	return out
}

// CanonicalRules validates rules as a policy write would and returns them
// in the canonical form reads return: role IDs in catalog order and
// principals sorted. Declarative tools compare with it.
func CanonicalRules(rules []Rule) ([]Rule, error) {
	canonical, err := validateRules(rules)
	if err != nil {
		return nil, err
	}
	if err := checkPrincipalCount(canonical); err != nil {
		return nil, err
	}
	out := make([]Rule, len(canonical))
	for i, r := range canonical {
		out[i].Roles = r.Roles
		for _, p := range r.Principals {
			out[i].Principals = append(out[i].Principals, p.String())
		}
	}
	return out, nil
}
