// Package bench measures the Check path of the permission service
// against SpiceDB's own API, on organizations of growing size.
//
// A deterministic generator builds an organization from a user count
// and a seed: users in nested groups (up to four levels), hundreds of
// policies at the largest sizes, and about ten relationships per user.
// Loaders put it into SpiceDB with the bulk import API, and the runners
// measure checks (in process and over the network), policy writes,
// the import rate and the memory the datastore holds, each with its
// latency percentiles and throughput.
package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/bootstrap"
	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
)

// Spec says which organization to generate. The same Spec always
// generates the same organization.
type Spec struct {
	// Users is the number of users of the organization.
	Users int `json:"users"`

	// Seed picks the random choices: memberships, rules, checks.
	Seed uint64 `json:"seed"`

	// Memberships is the mean number of teams a user is a direct
	// member of. Zero means DefaultMemberships.
	Memberships int `json:"memberships"`

	// Policies is the number of non-default policies. Zero means
	// 20 + Users/500: 22 at 1k users, 40 at 10k, 220 at 100k.
	Policies int `json:"policies"`

	// Checks is the number of distinct checks sampled for the
	// workload. Zero means DefaultChecks.
	Checks int `json:"checks"`
}

// Defaults of Spec.
const (
	DefaultMemberships = 9
	DefaultChecks      = 10000

	// teamSize is the number of users per team, before memberships
	// multiply it.
	teamSize = 50

	// fanout is how many groups of one level a group of the next
	// level holds.
	fanout = 8

	// GroupLevels is the depth of group nesting: teams, departments,
	// divisions and the organization-wide groups.
	GroupLevels = 4
)

// Org is a generated organization.
type Org struct {
	Spec Spec

	// ID is the organization's ID.
	ID string

	// Users are the user IDs, without the "user:" prefix. Users[0] is
	// the first user, who creates the organization.
	Users []string

	// Groups lists the groups level by level, teams first: a group
	// only contains groups of the level below, so applying them in
	// this order never names a group that does not exist yet.
	Groups []Group

	// Legacy assigns principals to legacy groups, by group name.
	Legacy map[string][]string

	// Policies are the organization's own policies.
	Policies []iam.PolicyInput

	// Checks is the workload: distinct (principal, action) pairs.
	Checks []Check
}

// Group is a generated group.
type Group struct {
	Name  string
	Level int

	// Members are principals: "user:..." or "group:...".
	Members []string
}

// Check, Limits and Result are the workload package's: every runner
// here uses them.
type (
	Check  = workload.Check
	Limits = workload.Limits
	Result = workload.Result
)

func (s Spec) withDefaults() (Spec, error) {
	if s.Users < 1 {
		return s, fmt.Errorf("users %d: an organization needs at least "+
			"one user; pass e.g. -users 1000", s.Users)
	}
	if s.Memberships == 0 {
		s.Memberships = DefaultMemberships
	}
	if s.Memberships < 1 {
		return s, fmt.Errorf("memberships %d: must be positive", s.Memberships)
	}
	if s.Policies == 0 {
		s.Policies = 20 + s.Users/500
	}
	if s.Policies < 0 || s.Policies > 10000 {
		return s, fmt.Errorf("policies %d: use 1 to 10000", s.Policies)
	}
	if s.Checks == 0 {
		s.Checks = DefaultChecks
	}
	if s.Checks < 1 {
		return s, fmt.Errorf("checks %d: must be positive", s.Checks)
	}
	return s, nil
}

// Generate builds the organization spec describes.
func Generate(spec Spec) (*Org, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, spec.Seed^0x9e3779b97f4a7c15))

	o := &Org{
		Spec: spec,
		// The ID follows the seed so that two generated organizations
		// can live in one SpiceDB.
		ID:     fmt.Sprintf("b%05x", spec.Seed&0xfffff),
		Legacy: map[string][]string{},
	}
	o.Users = make([]string, spec.Users)
	for i := range o.Users {
		o.Users[i] = fmt.Sprintf("u%06d@example.com", i)
	}

	o.generateGroups(rng)
	o.generateLegacy(rng)
	o.generatePolicies(rng)
	o.generateChecks(rng)
	return o, nil
}

// levelNames prefix the group names of each level.
var levelNames = [GroupLevels]string{"team", "dept", "division", "all"}

// generateGroups builds teams of users and three levels of groups of
// groups above them. Each group has one parent, and one in ten a second
// one, so that the nesting is a DAG rather than a tree.
func (o *Org) generateGroups(rng *rand.Rand) {
	counts := [GroupLevels]int{max(1, len(o.Users)/teamSize)}
	for l := 1; l < GroupLevels; l++ {
		counts[l] = max(1, counts[l-1]/fanout)
	}

	levels := make([][]*Group, GroupLevels)
	for l := range levels {
		for i := range counts[l] {
			levels[l] = append(levels[l], &Group{
				Name:  fmt.Sprintf("%s-%05d", levelNames[l], i),
				Level: l,
			})
		}
	}

	// Users: a random number of teams each, with the mean asked for,
	// but at most a quarter of the teams: in a small organization every
	// user would otherwise be in every team.
	teams := levels[0]
	for _, u := range o.Users {
		n := 1 + rng.IntN(2*o.Spec.Memberships-1)
		n = min(n, max(1, len(teams)/4))
		for _, t := range distinct(rng, len(teams), n) {
			teams[t].Members = append(teams[t].Members, "user:"+u)
		}
	}

	for l := 0; l+1 < GroupLevels; l++ {
		parents := levels[l+1]
		for i, child := range levels[l] {
			member := "group:" + child.Name
			first := (i / fanout) % len(parents)
			parents[first].Members = append(parents[first].Members, member)
			if len(parents) > 1 && rng.IntN(10) == 0 {
				second := (first + 1 + rng.IntN(len(parents)-1)) % len(parents)
				parents[second].Members = append(parents[second].Members, member)
			}
		}
	}

	for _, level := range levels {
		for _, g := range level {
			o.Groups = append(o.Groups, *g)
		}
	}
}

// generateLegacy fills the default policies the way an organization
// would: a few administrators, one division that writes, the first
// top-level group reads. A small organization has one division, which
// holds everyone: a department or a team writes there instead.
func (o *Org) generateLegacy(rng *rand.Rand) {
	top := o.groupsAt(GroupLevels - 1)
	divisions := o.groupsAt(GroupLevels - 2)
	for level := GroupLevels - 3; len(divisions) < 2 && level >= 0; level-- {
		divisions = o.groupsAt(level)
	}

	admins := []string{"user:" + o.Users[0]}
	for _, u := range distinct(rng, len(o.Users), min(3, len(o.Users))) {
		if u != 0 {
			admins = append(admins, "user:"+o.Users[u])
		}
	}
	o.Legacy["admin"] = admins
	o.Legacy["write"] = []string{"group:" + divisions[rng.IntN(len(divisions))].Name}
	o.Legacy["read"] = []string{"group:" + top[0].Name}
	o.Legacy["billing_viewer"] = []string{"user:" + o.Users[rng.IntN(len(o.Users))]}
}

// generatePolicies writes policies of one to three rules; a rule names
// one to four principals, mostly teams, and one to three roles. Least
// privilege, as administrators practise it: a rule that names a group
// above the teams grants viewer roles only.
func (o *Org) generatePolicies(rng *rand.Rand) {
	all := catalog.Roles()
	var viewers []catalog.Role
	for _, r := range all {
		if strings.HasSuffix(r.ID, "-viewer") {
			viewers = append(viewers, r)
		}
	}

	for i := range o.Spec.Policies {
		p := iam.PolicyInput{
			Org:         o.ID,
			ID:          fmt.Sprintf("bench-%04d", i),
			Description: fmt.Sprintf("Generated policy %d", i),
		}
		for range 1 + rng.IntN(3) {
			var r iam.Rule
			seen := map[string]bool{}
			broad := false
			for range 1 + rng.IntN(4) {
				who, level := o.randomPrincipal(rng)
				broad = broad || level > 0
				if !seen[who] {
					seen[who] = true
					r.Principals = append(r.Principals, who)
				}
			}
			roles := all
			if broad {
				roles = viewers
			}
			for _, k := range distinct(rng, len(roles), 1+rng.IntN(3)) {
				r.Roles = append(r.Roles, roles[k].ID)
			}
			p.Rules = append(p.Rules, r)
		}
		o.Policies = append(o.Policies, p)
	}
}

// randomPrincipal picks a user one time in ten, else a group: mostly
// teams, sometimes departments, rarely the divisions and top-level
// groups that hold a large part of the organization. It returns the
// group's level, or -1 for a user.
func (o *Org) randomPrincipal(rng *rand.Rand) (string, int) {
	r := rng.IntN(100)
	if r < 10 {
		return "user:" + o.Users[rng.IntN(len(o.Users))], -1
	}
	level := 0
	switch {
	case r >= 98:
		level = 3
	case r >= 92:
		level = 2
	case r >= 75:
		level = 1
	}
	groups := o.groupsAt(level)
	return "group:" + groups[rng.IntN(len(groups))].Name, level
}

// generateChecks samples distinct (user, action) pairs, uniformly.
func (o *Org) generateChecks(rng *rand.Rand) {
	actions := catalog.Actions()
	space := len(o.Users) * len(actions)
	n := min(o.Spec.Checks, space)
	for _, k := range distinct(rng, space, n) {
		o.Checks = append(o.Checks, Check{
			Org:       o.ID,
			Principal: "user:" + o.Users[k/len(actions)],
			Action:    actions[k%len(actions)],
		})
	}
}

func (o *Org) groupsAt(level int) []Group {
	var out []Group
	for _, g := range o.Groups {
		if g.Level == level {
			out = append(out, g)
		}
	}
	return out
}

// distinct returns k distinct integers of [0, n), in the order drawn.
func distinct(rng *rand.Rand, n, k int) []int {
	if k > n {
		k = n
	}
	out := make([]int, 0, k)
	if 2*k >= n {
		// Dense: a partial shuffle.
		perm := rng.Perm(n)
		return append(out, perm[:k]...)
	}
	seen := make(map[int]bool, k)
	for len(out) < k {
		v := rng.IntN(n)
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Document returns the organization as an organization file, the form
// `iamctl apply` and `iamd serve --bootstrap` take.
func (o *Org) Document() *bootstrap.Document {
	org := bootstrap.Organization{
		ID:           o.ID,
		FirstUser:    "user:" + o.Users[0],
		LegacyGroups: map[string][]string{},
	}
	for _, u := range o.Users {
		org.Members = append(org.Members, "user:"+u)
	}
	for _, g := range o.Groups {
		org.Groups = append(org.Groups, bootstrap.Group{
			Name: g.Name, Members: g.Members,
		})
	}
	for name, who := range o.Legacy {
		org.LegacyGroups[name] = who
	}
	for _, p := range o.Policies {
		bp := bootstrap.Policy{ID: p.ID, Description: p.Description}
		for _, r := range p.Rules {
			bp.Rules = append(bp.Rules, bootstrap.Rule{
				Principals: r.Principals, Roles: r.Roles,
			})
		}
		org.Policies = append(org.Policies, bp)
	}
	return &bootstrap.Document{Organizations: []bootstrap.Organization{org}}
}
