package main

import (
	"cmp"
	"slices"
)

// The organization the example describes.
const (
	orgID  = "c0ffee"
	domain = "c0ffee-gpu.example"
)

// firstNames and lastNames combine into exactly 300 distinct users.
var (
	firstNames = []string{
		"alex", "bea", "carlos", "dana", "elif", "farah", "gus",
		"hana", "ivan", "jun", "kofi", "lena", "mateo", "nia",
		"omar", "priya", "quinn", "rosa", "sven", "tariq",
	}
	lastNames = []string{
		"abbott", "baker", "chen", "diaz", "eriksen", "fischer",
		"garcia", "haddad", "ito", "jensen", "kowalski", "lopez",
		"mensah", "novak", "okafor",
	}
)

// department is a group of team groups: the one level of nesting.
type department struct {
	name  string
	teams []team
}

// team is a group of users. legacy lists the legacy groups its members
// hold in the administrator's export.
type team struct {
	name   string
	legacy []string
}

var departments = []department{
	{"engineering", []team{
		{"ml-platform", []string{"write"}},
		{"inference", []string{"write"}},
		{"training", []string{"write"}},
		{"data-eng", []string{"write"}},
		{"cluster-ops", []string{"write", "metrics"}},
		{"networking", []string{"write"}},
		{"storage", []string{"write"}},
		{"sre", []string{"write", "metrics"}},
		{"security-eng", []string{"read", "metrics"}},
		{"frontend", []string{"read"}},
		{"api", []string{"write"}},
	}},
	{"research", []team{
		{"nlp-research", []string{"write"}},
		{"vision-research", []string{"write"}},
		{"rl-research", []string{"write"}},
		{"applied-research", []string{"read"}},
	}},
	{"operations", []team{
		{"datacenter-ops", []string{"read", "metrics"}},
		{"support", []string{"read"}},
		{"noc", []string{"metrics"}},
	}},
	{"business", []team{
		{"finance", []string{"billing_viewer"}},
		{"sales", []string{"read"}},
		{"customer-success", []string{"read", "billing_viewer"}},
		{"marketing", []string{"read"}},
		{"legal", []string{"read"}},
	}},
	{"people", []team{
		{"hr", []string{"read"}},
		{"it", []string{"read"}},
	}},
}

// oncallTeams send their first oncallPerTeam members to the oncall
// group, which cuts across departments.
var oncallTeams = []string{"sre", "cluster-ops", "networking", "noc"}

const oncallPerTeam = 3

// serviceAccounts are members that automate the organization.
var serviceAccounts = []string{
	"serviceaccount:ci-bot",
	"serviceaccount:metrics-exporter",
	"serviceaccount:terraform",
}

// rule and policy mirror the organization file's.
type rule struct {
	principals []string
	roles      []string
}

type policy struct {
	id          string
	description string
	rules       []rule
}

// policies grant all 17 roles between them, mostly to groups.
var policies = []policy{
	{"engineering-baseline",
		"What every engineer sees.",
		[]rule{{
			[]string{"group:engineering"},
			[]string{"CKS Viewer", "Inference Viewer", "Observability Viewer"},
		}}},
	{"platform-operations",
		"The teams that run the clusters and their storage.",
		[]rule{{
			[]string{"group:sre", "group:cluster-ops", "group:storage"},
			[]string{"CKS Admin", "Object Storage Admin"},
		}}},
	{"inference-serving",
		"Model serving: gateways, deployments and capacity claims.",
		[]rule{
			{
				[]string{"group:inference", "group:ml-platform"},
				[]string{"Inference Admin", "CKS Admin"},
			},
			{
				[]string{"group:api"},
				[]string{"Inference Viewer"},
			},
		}},
	{"research-compute",
		"Researchers bring up their own training clusters.",
		[]rule{{
			[]string{"group:research", "group:training", "group:data-eng"},
			[]string{"CKS Admin", "Object Storage Admin", "Inference Viewer"},
		}}},
	{"billing-access",
		"Invoices and balance for finance and account managers.",
		[]rule{{
			[]string{"group:finance", "group:customer-success"},
			[]string{"Billing Viewer"},
		}}},
	{"customer-support",
		"Support engineers read tickets and what customers run.",
		[]rule{{
			[]string{"group:support", "group:customer-success"},
			[]string{"Support Viewer", "CKS Viewer", "Inference Viewer"},
		}}},
	{"security-review",
		"Security engineering audits access and approves requests.",
		[]rule{{
			[]string{"group:security-eng"},
			[]string{"IAM Viewer", "Access Request Approver",
				"Observability Viewer"},
		}}},
	{"identity-administration",
		"IT manages users, groups, policies and tokens.",
		[]rule{{
			[]string{"group:it", "serviceaccount:terraform"},
			[]string{"IAM Admin", "Access Token Admin"},
		}}},
	{"alerting",
		"Who changes alert routing, and who on call sees it.",
		[]rule{
			{
				[]string{"group:noc", "group:sre"},
				[]string{"Notifications Admin", "Integrations Admin"},
			},
			{
				[]string{"group:oncall"},
				[]string{"Notifications Viewer", "Integrations Viewer",
					"Observability Viewer"},
			},
		}},
	{"automation",
		"CI deploys clusters; the exporter reads metrics.",
		[]rule{
			{
				[]string{"serviceaccount:ci-bot"},
				[]string{"CKS Admin", "Access Token Viewer"},
			},
			{
				[]string{"serviceaccount:metrics-exporter"},
				[]string{"Observability Viewer"},
			},
		}},
}

// user is one person of the organization.
type user struct {
	email string
	team  string

	// rank is the user's position in its team, from 0.
	rank int
}

func (u user) principal() string { return "user:" + u.email }

// group is a group of the organization file.
type group struct {
	name    string
	members []string
}

// assignment is one row of the export.
type assignment struct {
	email string
	group string
}

// model is the whole example.
type model struct {
	firstUser string
	admins    []string
	members   []string
	groups    []group
	policies  []policy
	export    []assignment
}

// build derives the example from the tables above. Users are shuffled
// with a fixed seed so that teams mix names the way real ones do.
func build() *model {
	teams := allTeams()
	users := shuffledUsers()
	for i := range users {
		t := teams[i%len(teams)]
		users[i].team = t.name
		users[i].rank = i / len(teams)
	}

	m := &model{policies: policies}
	byTeam := map[string][]user{}
	for _, u := range users {
		byTeam[u.team] = append(byTeam[u.team], u)
		m.members = append(m.members, u.principal())
	}
	m.members = append(m.members, serviceAccounts...)
	slices.Sort(m.members)

	// The IT team's first two members administer the organization;
	// the first of them created it.
	it := byTeam["it"]
	m.firstUser = it[0].principal()
	m.admins = []string{it[0].principal(), it[1].principal()}

	m.groups = groups(byTeam)
	m.export = export(users, teams, m.admins)
	return m
}

func allTeams() []team {
	var out []team
	for _, d := range departments {
		out = append(out, d.teams...)
	}
	return out
}

// groups lists the departments, then the teams, then oncall, each with
// sorted members.
func groups(byTeam map[string][]user) []group {
	var out []group
	for _, d := range departments {
		g := group{name: d.name}
		for _, t := range d.teams {
			g.members = append(g.members, "group:"+t.name)
		}
		slices.Sort(g.members)
		out = append(out, g)
	}

	oncall := group{name: "oncall"}
	for _, t := range allTeams() {
		g := group{name: t.name}
		for _, u := range byTeam[t.name] {
			g.members = append(g.members, u.principal())
			if slices.Contains(oncallTeams, t.name) && u.rank < oncallPerTeam {
				oncall.members = append(oncall.members, u.principal())
			}
		}
		slices.Sort(g.members)
		out = append(out, g)
	}
	slices.Sort(oncall.members)
	return append(out, oncall)
}

// export lists the legacy assignments of every user but each sixth
// (people who joined after the legacy groups were retired), plus the
// admins', sorted the way a console export is: by email, then group.
func export(users []user, teams []team, admins []string) []assignment {
	legacy := map[string][]string{}
	for _, t := range teams {
		legacy[t.name] = t.legacy
	}

	var out []assignment
	for i, u := range users {
		isAdmin := slices.Contains(admins, u.principal())
		if i%6 == 5 && !isAdmin {
			continue
		}
		for _, g := range legacy[u.team] {
			out = append(out, assignment{u.email, g})
		}
		if isAdmin {
			out = append(out, assignment{u.email, "admin"})
		}
	}

	slices.SortFunc(out, func(a, b assignment) int {
		if c := cmp.Compare(a.email, b.email); c != 0 {
			return c
		}
		return cmp.Compare(a.group, b.group)
	})
	return out
}

// shuffledUsers returns every first.last combination in a fixed
// pseudo-random order. The generator is spelled out so that the order
// never depends on a library's choice of algorithm.
func shuffledUsers() []user {
	var users []user
	for _, f := range firstNames {
		for _, l := range lastNames {
			users = append(users, user{email: f + "." + l + "@" + domain})
		}
	}

	state := uint64(0xc0ffee)
	next := func(n int) int {
		// A 64-bit linear congruential generator (Knuth's MMIX
		// constants); the high bits are the good ones.
		state = state*6364136223846793005 + 1442695040888963407
		return int((state >> 33) % uint64(n))
	}
	for i := len(users) - 1; i > 0; i-- {
		j := next(i + 1)
		users[i], users[j] = users[j], users[i]
	}
	return users
}
