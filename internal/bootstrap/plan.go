package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// step is one change of a plan: a line for people and a call for the
// service.
type step struct {
	line  string
	apply func(ctx context.Context, svc *iam.Service) (string, error)
}

// Changes is the plan that makes the service match a document.
type Changes struct {
	steps []step
}

// Lines describes each change, one per line, in the order they apply:
// "+" adds, "-" removes, "~" replaces.
func (c *Changes) Lines() []string {
	out := make([]string, len(c.steps))
	for i, s := range c.steps {
		out[i] = s.line
	}
	return out
}

// Empty reports whether the service already matches the document.
func (c *Changes) Empty() bool { return len(c.steps) == 0 }

// Apply carries the changes out in order and returns the ZedToken of the
// last write. Each change is atomic; the plan as a whole is not: on an
// error, the changes before it stay applied and planning again resumes.
func (c *Changes) Apply(ctx context.Context, svc *iam.Service) (string, error) {
	token := ""
	for _, s := range c.steps {
		t, err := s.apply(ctx, svc)
		if err != nil {
			return token, fmt.Errorf("applying %q: %w", iamerr.Echo(s.line), err)
		}
		token = t
	}
	return token, nil
}

func (c *Changes) add(line string, apply func(context.Context, *iam.Service) (string, error)) {
	c.steps = append(c.steps, step{line: line, apply: apply})
}

// Plan compares the document with the service and lists the changes.
func Plan(ctx context.Context, svc *iam.Service, doc *Document) (*Changes, error) {
	existing, err := svc.ListOrganizations(ctx)
	if err != nil {
		return nil, err
	}

	c := &Changes{}
	for i, o := range doc.Organizations {
		field := fmt.Sprintf("organizations[%d]", i)
		p := orgPlanner{svc: svc, org: o, field: field, changes: c}
		p.exists = slices.Contains(existing, o.ID)
		if err := p.plan(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// orgPlanner plans one organization.
type orgPlanner struct {
	svc     *iam.Service
	org     Organization
	field   string
	exists  bool
	changes *Changes
}

func (p *orgPlanner) plan(ctx context.Context) error {
	members := map[string]bool{}
	if p.exists {
		current, err := p.svc.ListMembers(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for _, m := range current {
			members[m] = true
		}
	} else {
		if err := p.planCreate(ctx); err != nil {
			return err
		}
		members[canonical(p.org.FirstUser)] = true
	}

	for i, m := range p.org.Members {
		m = canonical(m)
		if members[m] {
			continue
		}
		field := fmt.Sprintf("%s.members[%d]", p.field, i)
		if err := p.requireUnclaimed(ctx, field, m); err != nil {
			return err
		}
		org := p.org.ID
		p.changes.add("+ member "+org+" "+m,
			func(ctx context.Context, svc *iam.Service) (string, error) {
				w, err := svc.AddMember(ctx, org, m)
				return w.Token, err
			})
	}

	if err := p.planGroups(ctx); err != nil {
		return err
	}
	if err := p.planLegacy(ctx); err != nil {
		return err
	}
	return p.planPolicies(ctx)
}

// requireUnclaimed refuses a new member that belongs to another
// organization, so that a dry run shows what the apply would refuse.
func (p *orgPlanner) requireUnclaimed(ctx context.Context, field, member string) error {
	_, err := p.svc.OrganizationOf(ctx, member)
	if iamerr.Is(err, iamerr.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return &iamerr.Error{
		Kind: iamerr.FailedPrecondition, Field: field, Value: member,
		Problem: "the principal belongs to another organization",
		Fix:     "a principal belongs to exactly one organization; remove it from the file",
	}
}

func (p *orgPlanner) planCreate(ctx context.Context) error {
	if p.org.FirstUser == "" {
		return iamerr.Invalid(p.field+".first_user", "",
			"organization "+p.org.ID+" does not exist yet and needs a first user",
			"set first_user to the user who gets the legacy admin roles")
	}
	err := p.requireUnclaimed(ctx, p.field+".first_user", canonical(p.org.FirstUser))
	if err != nil {
		return err
	}
	org, first := p.org.ID, canonical(p.org.FirstUser)
	p.changes.add("+ organization "+org+" (first user "+first+")",
		func(ctx context.Context, svc *iam.Service) (string, error) {
			w, err := svc.CreateOrganization(ctx, org, first)
			return w.Token, err
		})
	return nil
}

func (p *orgPlanner) planGroups(ctx context.Context) error {
	current := map[string][]string{}
	if p.exists {
		groups, err := p.svc.ListGroups(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for _, g := range groups {
			current[g.Name] = g.Members
		}
	}

	org := p.org.ID
	// Every group is created before any membership, so that groups can
	// nest in any order of the file.
	for _, g := range p.org.Groups {
		if _, ok := current[g.Name]; ok {
			continue
		}
		name := g.Name
		p.changes.add("+ group "+org+"/"+name,
			func(ctx context.Context, svc *iam.Service) (string, error) {
				w, err := svc.CreateGroup(ctx, org, name)
				return w.Token, err
			})
	}

	for _, g := range p.org.Groups {
		add, remove := setDiff(current[g.Name], canonicalAll(g.Members))
		name := g.Name
		for _, m := range add {
			p.changes.add("+ group member "+org+"/"+name+" "+m,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.AddGroupMember(ctx, org, name, m)
					return w.Token, err
				})
		}
		for _, m := range remove {
			p.changes.add("- group member "+org+"/"+name+" "+m,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.RemoveGroupMember(ctx, org, name, m)
					return w.Token, err
				})
		}
	}
	return nil
}

func (p *orgPlanner) planLegacy(ctx context.Context) error {
	if err := p.planLegacySet(ctx, p.org.LegacyGroups, true); err != nil {
		return err
	}
	return p.planLegacySet(ctx, p.org.LegacyAdditions, false)
}

// legacyPrincipals returns the principals a legacy group names now.
func (p *orgPlanner) legacyPrincipals(ctx context.Context, group string) ([]string, error) {
	if !p.exists {
		if group == "admin" {
			return []string{canonical(p.org.FirstUser)}, nil
		}
		return nil, nil
	}
	policy, err := p.svc.GetPolicy(ctx, p.org.ID, catalog.DefaultPolicyID(group), "")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range policy.Rules {
		out = append(out, r.Principals...)
	}
	return out, nil
}

// planLegacySet plans legacy group edits; exact sets also remove the
// principals the file does not list.
func (p *orgPlanner) planLegacySet(
	ctx context.Context, groups map[string][]string, exact bool,
) error {
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)

	org := p.org.ID
	for _, raw := range names {
		g, _ := catalog.LookupLegacyGroup("legacy_groups", raw)
		current, err := p.legacyPrincipals(ctx, g.Name)
		if err != nil {
			return err
		}

		add, remove := setDiff(current, canonicalAll(groups[raw]))
		if !exact {
			remove = nil
		}
		name := g.Name
		for _, m := range add {
			p.changes.add("+ legacy "+name+" "+org+" "+m,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.AssignLegacyGroup(ctx, org, name, m)
					return w.Token, err
				})
		}
		for _, m := range remove {
			p.changes.add("- legacy "+name+" "+org+" "+m,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.UnassignLegacyGroup(ctx, org, name, m)
					return w.Token, err
				})
		}
	}
	return nil
}

func (p *orgPlanner) planPolicies(ctx context.Context) error {
	current := map[string]iam.Policy{}
	if p.exists {
		policies, err := p.svc.ListPolicies(ctx, p.org.ID)
		if err != nil {
			return err
		}
		for _, pol := range policies {
			current[pol.ID] = pol
		}
	}

	for _, want := range p.org.Policies {
		rules, err := iam.CanonicalRules(toIAMRules(want.Rules))
		if err != nil {
			return err
		}
		in := iam.PolicyInput{
			Org: p.org.ID, ID: want.ID,
			Description: want.Description, Rules: rules,
		}

		have, ok := current[want.ID]
		switch {
		case !ok:
			p.changes.add(fmt.Sprintf("+ policy %s/%s (%d rules)",
				in.Org, in.ID, len(rules)),
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.CreatePolicy(ctx, in)
					return w.Token, err
				})
		case !samePolicy(have, in):
			in.Etag = have.Etag
			p.changes.add(describeReplace(have, in),
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.ReplacePolicy(ctx, in)
					return w.Token, err
				})
		}
	}
	return nil
}

func samePolicy(have iam.Policy, want iam.PolicyInput) bool {
	if have.Description != want.Description || len(have.Rules) != len(want.Rules) {
		return false
	}
	return slices.Equal(ruleKeys(have.Rules), ruleKeys(want.Rules))
}

// ruleKeys renders rules as sorted strings: rules are an unordered set.
func ruleKeys(rules []iam.Rule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = "[" + strings.Join(r.Principals, " ") + "] -> [" +
			strings.Join(r.Roles, " ") + "]"
	}
	sort.Strings(out)
	return out
}

func describeReplace(have iam.Policy, want iam.PolicyInput) string {
	added, removed := setDiff(ruleKeys(have.Rules), ruleKeys(want.Rules))
	var parts []string
	for _, r := range added {
		parts = append(parts, "+ rule "+r)
	}
	for _, r := range removed {
		parts = append(parts, "- rule "+r)
	}
	if have.Description != want.Description {
		parts = append(parts, "description changed")
	}
	return "~ policy " + want.Org + "/" + want.ID + ": " + strings.Join(parts, "; ")
}

// setDiff returns what want adds to have and what it removes, sorted.
func setDiff(have, want []string) (add, remove []string) {
	h := map[string]bool{}
	for _, x := range have {
		h[x] = true
	}
	w := map[string]bool{}
	for _, x := range want {
		w[x] = true
		if !h[x] {
			add = append(add, x)
		}
	}
	for _, x := range have {
		if !w[x] {
			remove = append(remove, x)
		}
	}
	sort.Strings(add)
	sort.Strings(remove)
	return add, remove
}

// canonical renders a principal as the service does; the document was
// validated, so it parses.
func canonical(s string) string {
	p, err := principal.Parse("principal", s)
	if err != nil {
		return s
	}
	return p.String()
}

func canonicalAll(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = canonical(s)
	}
	return out
}
