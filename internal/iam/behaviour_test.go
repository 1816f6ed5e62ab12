package iam_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

const org = "ab1cd2"

var itoa = strconv.Itoa

func allowed(t *testing.T, svc *iam.Service, who, action, token string) bool {
	t.Helper()
	d, err := svc.Check(t.Context(), iam.CheckRequest{
		Org: org, Principal: who, Action: action, AtLeastAsFresh: token,
	})
	require.NoError(t, err)
	return d.Allowed
}

func TestNestedGroupsGrant(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	_, err := svc.AddMember(ctx, org, "user:nested@example.com")
	require.NoError(t, err)
	_, err = svc.CreateGroup(ctx, org, "platform-team")
	require.NoError(t, err)
	_, err = svc.AddGroupMember(ctx, org, "platform-team", "user:nested@example.com")
	require.NoError(t, err)
	w, err := svc.AddGroupMember(ctx, org, "engineering", "group:platform-team")
	require.NoError(t, err)

	require.True(t, allowed(t, svc, "user:nested@example.com", "cks.clusters.list", w.Token))
	require.False(t, allowed(t, svc, "user:nested@example.com", "cks.clusters.create", w.Token))

	id, err := svc.WhoAmI(ctx, "user:nested@example.com")
	require.NoError(t, err)
	require.Equal(t, []string{"engineering", "platform-team"}, id.Groups)
	require.Equal(t, []string{"cks-viewer"}, id.Roles)
	require.Contains(t, id.Actions, "cks.vpcs.get")

	// Removing the nested group's membership revokes at the returned token.
	w, err = svc.RemoveGroupMember(ctx, org, "engineering", "group:platform-team")
	require.NoError(t, err)
	require.False(t, allowed(t, svc, "user:nested@example.com", "cks.clusters.list", w.Token))
}

func TestRevocationVisibleAtReturnedToken(t *testing.T) {
	ctx := t.Context()
	svc, token := seededService(t)
	require.True(t, allowed(t, svc, "user:eng-member@example.com", "cks.clusters.list", token))

	// A removed membership stops granting.
	w, err := svc.RemoveGroupMember(ctx, org, "engineering", "user:eng-member@example.com")
	require.NoError(t, err)
	require.False(t, allowed(t, svc, "user:eng-member@example.com", "cks.clusters.list", w.Token))

	// A removed rule stops granting.
	require.True(t, allowed(t, svc, "user:user-a@example.com", "cks.clusters.delete", w.Token))
	p, err := svc.GetPolicy(ctx, org, "example-access", w.Token)
	require.NoError(t, err)
	rules := p.Rules[1:]
	require.Equal(t, []string{"user:user-a@example.com"}, p.Rules[0].Principals)
	rw, err := svc.ReplacePolicy(ctx, iam.PolicyInput{
		Org: org, ID: "example-access", Description: p.Description,
		Rules: rules, Etag: p.Etag,
	})
	require.NoError(t, err)
	require.False(t, allowed(t, svc, "user:user-a@example.com", "cks.clusters.delete", rw.Token))
	require.True(t, allowed(t, svc, "user:user-b@example.com", "iam.policies.update", rw.Token))

	// A removed legacy assignment stops granting.
	lw, err := svc.UnassignLegacyGroup(ctx, org, "billing_viewer", "user:legacy-billing@example.com")
	require.NoError(t, err)
	require.False(t, allowed(t, svc, "user:legacy-billing@example.com", "billing.invoices.list", lw.Token))

	// A deleted policy stops granting.
	dw, err := svc.DeletePolicy(ctx, org, "example-access", "")
	require.NoError(t, err)
	require.False(t, allowed(t, svc, "user:user-b@example.com", "iam.policies.update", dw.Token))
}

// snapshot returns every relationship of both organizations, to prove that
// a refused write wrote nothing.
func snapshotOf(t *testing.T, svc *iam.Service) []string {
	t.Helper()
	var all []string
	for _, o := range []string{org, "ff00ff"} {
		rels, err := svc.ReadRelationships(t.Context(), o, "")
		require.NoError(t, err)
		all = append(all, rels...)
	}
	return all
}

func TestBadInputWritesNothing(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	p, err := svc.GetPolicy(ctx, org, "example-access", "")
	require.NoError(t, err)
	before := snapshotOf(t, svc)

	rule := func(principal, role string) []iam.Rule {
		return []iam.Rule{{Principals: []string{principal}, Roles: []string{role}}}
	}
	long := strings.Repeat("x", 2000)

	cases := []struct {
		name  string
		write func() error
		kind  iamerr.Kind
		msg   string
	}{
		{"unknown role", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("user:user-a@example.com", "CKS Admn")})
			return err
		}, iamerr.InvalidArgument, `rules[0].roles[0] "CKS Admn": unknown role; did you mean "cks-admin"?`},
		{"malformed principal", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "kind:id"},
		{"empty policy ID", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "",
				Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "policy ID is required"},
		{"bad policy ID", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "My Policy",
				Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, `"my-policy"`},
		{"duplicate policy ID", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "example-access",
				Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.AlreadyExists, "already has this policy"},
		{"over-long description", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Description: long, Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "2000 bytes"},
		{"over-long policy ID", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: strings.Repeat("a", 64),
				Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "64 bytes"},
		{"over-long principal", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("user:"+long, "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "bytes long"},
		{"duplicate role", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: []iam.Rule{{Principals: []string{"user:user-a@example.com"},
					Roles: []string{"CKS Admin", "cks_admin"}}}})
			return err
		}, iamerr.InvalidArgument, "listed twice"},
		{"rule without roles", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: []iam.Rule{{Principals: []string{"user:user-a@example.com"}}}})
			return err
		}, iamerr.InvalidArgument, "at least one role"},
		{"principal of another organization", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("user:other-admin@example.org", "cks-admin")})
			return err
		}, iamerr.FailedPrecondition, "belongs to another organization"},
		{"unknown user", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("user:stranger@example.com", "cks-admin")})
			return err
		}, iamerr.NotFound, "not a member of organization ab1cd2"},
		{"unknown group", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "p",
				Rules: rule("group:nope", "cks-admin")})
			return err
		}, iamerr.NotFound, "has no such group"},
		{"stale etag", func() error {
			_, err := svc.ReplacePolicy(ctx, iam.PolicyInput{Org: org, ID: "example-access",
				Rules: rule("user:user-a@example.com", "cks-admin"), Etag: "0000"})
			return err
		}, iamerr.Conflict, "changed since this etag"},
		{"stale etag on delete", func() error {
			_, err := svc.DeletePolicy(ctx, org, "example-access", "0000")
			return err
		}, iamerr.Conflict, "changed since this etag"},
		{"reserved policy ID", func() error {
			_, err := svc.CreatePolicy(ctx, iam.PolicyInput{Org: org, ID: "legacy-x",
				Rules: rule("user:user-a@example.com", "cks-admin")})
			return err
		}, iamerr.InvalidArgument, "reserved"},
		{"default policy role change", func() error {
			_, err := svc.ReplacePolicy(ctx, iam.PolicyInput{Org: org, ID: "legacy-read",
				Rules: rule("user:legacy-read@example.com", "iam-admin")})
			return err
		}, iamerr.FailedPrecondition, "fixed by the service"},
		{"default policy delete", func() error {
			_, err := svc.DeletePolicy(ctx, org, "legacy-admin", "")
			return err
		}, iamerr.FailedPrecondition, "cannot be deleted"},
		{"raw write to a default policy's roles", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "rule:ab1cd2/legacy-read/0#grants_iam_admin" +
					"@rule:ab1cd2/legacy-read/0#principal",
			}})
			return err
		}, iamerr.FailedPrecondition, "fixed by the service"},
		{"raw grant to another rule's principals", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "rule:ab1cd2/example-access/0#grants_iam_admin" +
					"@rule:ab1cd2/example-access/1#principal",
			}})
			return err
		}, iamerr.InvalidArgument, "its own principals"},
		{"raw grant to the organization's members", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "rule:ab1cd2/example-access/0#grants_iam_admin" +
					"@organization:ab1cd2#member",
			}})
			return err
		}, iamerr.InvalidArgument, "its own principals"},
		{"raw write naming another tenant", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "group:ab1cd2/engineering#direct_member@user:other-admin@example.org",
			}})
			return err
		}, iamerr.FailedPrecondition, "belongs to another organization"},
		{"raw nested group as a direct member", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "group:ab1cd2/engineering#direct_member" +
					"@group:ab1cd2/engineering#member",
			}})
			return err
		}, iamerr.InvalidArgument, "#subgroup@group:ab1cd2/engineering#member"},
		{"raw user as a subgroup", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "group:ab1cd2/engineering#subgroup@user:user-a@example.com",
			}})
			return err
		}, iamerr.InvalidArgument, "#direct_member@user:user-a@example.com"},
		{"raw role relation misspelled", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{Delete: true,
				Relationship: "rule:ab1cd2/example-access/0#grants_cks-admin" +
					"@rule:ab1cd2/example-access/0#principal",
			}})
			return err
		}, iamerr.InvalidArgument, "cannot be written raw"},
		{"raw rule number not a number", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "rule:ab1cd2/example-access/0.1#principal@user:no-access@example.com",
			}})
			return err
		}, iamerr.InvalidArgument, "<organization>/<policy>/<n>"},
		{"raw write outside the organization", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "group:ff00ff/x#direct_member@user:user-a@example.com",
			}})
			return err
		}, iamerr.InvalidArgument, "outside organization"},
		{"raw write of a managed relation", func() error {
			_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
				Relationship: "policy:ab1cd2/x#organization@organization:ab1cd2",
			}})
			return err
		}, iamerr.InvalidArgument, "cannot be written raw"},
		{"group in a group twice removed: cycle", func() error {
			_, err := svc.AddGroupMember(ctx, org, "engineering", "group:engineering")
			return err
		}, iamerr.InvalidArgument, "cannot contain itself"},
		{"legacy group unknown", func() error {
			_, err := svc.AssignLegacyGroup(ctx, org, "owners", "user:user-a@example.com")
			return err
		}, iamerr.InvalidArgument, "unknown legacy group"},
		{"legacy group other tenant", func() error {
			_, err := svc.AssignLegacyGroup(ctx, org, "admin", "user:other-admin@example.org")
			return err
		}, iamerr.FailedPrecondition, "belongs to another organization"},
		{"member of two organizations", func() error {
			_, err := svc.AddMember(ctx, org, "user:other-admin@example.org")
			return err
		}, iamerr.FailedPrecondition, "belongs to another organization"},
		{"organization exists", func() error {
			_, err := svc.CreateOrganization(ctx, org, "user:new@example.com")
			return err
		}, iamerr.AlreadyExists, "already exists"},
		{"bad organization ID", func() error {
			_, err := svc.CreateOrganization(ctx, "ABCDEF", "user:new@example.com")
			return err
		}, iamerr.InvalidArgument, "six lowercase hex"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			require.Error(t, err)
			require.Equal(t, tc.kind, iamerr.KindOf(err), err.Error())
			require.Contains(t, err.Error(), tc.msg)
			require.Equal(t, before, snapshotOf(t, svc), "a refused write wrote")
		})
	}
	require.Equal(t, p.Etag, mustPolicy(t, svc, "example-access").Etag)
}

func mustPolicy(t *testing.T, svc *iam.Service, id string) iam.Policy {
	t.Helper()
	p, err := svc.GetPolicy(t.Context(), org, id, "")
	require.NoError(t, err)
	return p
}

func TestCrossTenantRuleGrantsNothing(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	// A member of another tenant holds nothing here: the schema grants
	// only along relationships, and the facade refuses, raw writes
	// included, to name it in this organization.
	_, err := svc.WriteRelationships(ctx, "ff00ff", []iam.RawUpdate{{
		Relationship: "organization:ff00ff#member@user:spy@example.com",
	}})
	require.NoError(t, err)
	for _, rel := range []string{
		"rule:ab1cd2/example-access/0#principal@user:spy@example.com",
		"group:ab1cd2/engineering#direct_member@user:spy@example.com",
	} {
		_, err = svc.WriteRelationships(ctx, org, []iam.RawUpdate{{Relationship: rel}})
		require.True(t, iamerr.Is(err, iamerr.FailedPrecondition), "%s: %v", rel, err)
	}
	d, err := svc.Check(ctx, iam.CheckRequest{Org: org, FullyConsistent: true,
		Principal: "user:spy@example.com", Action: "cks.clusters.list"})
	require.NoError(t, err)
	require.False(t, d.Allowed)
}

func TestDefaultPolicyPrincipalsAreEditable(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	p := mustPolicy(t, svc, "legacy-read")
	require.True(t, p.Default)

	w, err := svc.ReplacePolicy(ctx, iam.PolicyInput{
		Org: org, ID: "legacy-read", Etag: p.Etag,
		Rules: []iam.Rule{{
			Principals: []string{"user:legacy-read@example.com", "user:no-access@example.com"},
			Roles:      []string{"IAM Viewer", "CKS Viewer", "Access Token Viewer"},
		}},
	})
	require.NoError(t, err)
	require.True(t, allowed(t, svc, "user:no-access@example.com", "iam.groups.list", w.Token))
	require.NotEqual(t, p.Etag, w.Etag)
	require.Equal(t, p.Description, mustPolicy(t, svc, "legacy-read").Description)
}

func TestConcurrentReplaceWithOneEtag(t *testing.T) {
	svc, _ := seededService(t)
	raceOneEtag(t, []*iam.Service{svc}, []string{
		"user:user-a@example.com", "user:user-b@example.com",
		"user:eng-member@example.com", "user:no-access@example.com",
		"user:legacy-write@example.com", "user:legacy-read@example.com",
	})
}

// raceOneEtag has each writer replace example-access at once, all with
// the etag read before, spread over replicas of one datastore: exactly
// one wins, the others get a conflict, and every replica stores exactly
// the winner's rules.
func raceOneEtag(t *testing.T, replicas []*iam.Service, writers []string) {
	t.Helper()
	ctx := t.Context()
	p := mustPolicy(t, replicas[0], "example-access")

	results := make([]iam.PolicyWrite, len(writers))
	errs := make([]error, len(writers))
	var wg sync.WaitGroup
	for i, who := range writers {
		wg.Go(func() {
			svc := replicas[i%len(replicas)]
			results[i], errs[i] = svc.ReplacePolicy(ctx, iam.PolicyInput{
				Org: org, ID: "example-access", Etag: p.Etag,
				Rules: []iam.Rule{
					{Principals: []string{who}, Roles: []string{"support-viewer"}},
					{Principals: []string{who}, Roles: []string{"billing-viewer"}},
				},
			})
		})
	}
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two writers won")
			winner = i
			continue
		}
		require.Equal(t, iamerr.Conflict, iamerr.KindOf(err), err.Error())
	}
	require.NotEqual(t, -1, winner)

	for _, r := range replicas {
		stored, err := r.GetPolicy(ctx, org, "example-access",
			results[winner].Token)
		require.NoError(t, err)
		require.Equal(t, results[winner].Etag, stored.Etag)
		require.Len(t, stored.Rules, 2)
		for _, rule := range stored.Rules {
			require.Equal(t, []string{writers[winner]}, rule.Principals)
		}
	}
}

func TestConcurrentMembershipChangesLoseNothing(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			who := "user:member-" + string(rune('a'+i)) + "@example.com"
			if _, errs[i] = svc.AddMember(ctx, org, who); errs[i] != nil {
				return
			}
			_, errs[i] = svc.AddGroupMember(ctx, org, "engineering", who)
			if errs[i] == nil {
				_, errs[i] = svc.AssignLegacyGroup(ctx, org, "metrics", who)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	g, err := svc.GetGroup(ctx, org, "engineering")
	require.NoError(t, err)
	require.Len(t, g.Members, n+1)
	legacy := mustPolicy(t, svc, "legacy-metrics")
	require.Len(t, legacy.Rules[0].Principals, n+1)
}

func TestGroupCyclesAreNamed(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	for _, g := range []string{"a", "b", "c"} {
		_, err := svc.CreateGroup(ctx, org, g)
		require.NoError(t, err)
	}
	_, err := svc.AddGroupMember(ctx, org, "a", "group:b")
	require.NoError(t, err)
	_, err = svc.AddGroupMember(ctx, org, "b", "group:c")
	require.NoError(t, err)

	_, err = svc.AddGroupMember(ctx, org, "c", "group:a")
	require.ErrorContains(t, err, "cycle c -> a -> b -> c")
}

func TestGroupNestingDepthIsBounded(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	names := []string{}
	for i := 0; i <= iam.MaxGroupNestingDepth+1; i++ {
		name := "level-" + string(rune('a'+i))
		names = append(names, name)
		_, err := svc.CreateGroup(ctx, org, name)
		require.NoError(t, err)
	}
	var err error
	for i := 1; i < len(names); i++ {
		_, err = svc.AddGroupMember(ctx, org, names[i-1], "group:"+names[i])
		if err != nil {
			break
		}
	}
	require.ErrorContains(t, err, "levels deep")
}

func TestDeleteGroupStillNamedIsRefused(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	_, err := svc.DeleteGroup(ctx, org, "engineering")
	require.ErrorContains(t, err, "named by policy example-access")

	_, err = svc.CreateGroup(ctx, org, "temp")
	require.NoError(t, err)
	_, err = svc.DeleteGroup(ctx, org, "temp")
	require.NoError(t, err)
	_, err = svc.GetGroup(ctx, org, "temp")
	require.Equal(t, iamerr.NotFound, iamerr.KindOf(err))
}

func TestRawWritesBumpEtags(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	before := mustPolicy(t, svc, "example-access")

	w, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
		Relationship: "rule:ab1cd2/example-access/0#principal@user:no-access@example.com",
	}})
	require.NoError(t, err)
	require.True(t, allowed(t, svc, "user:no-access@example.com", "cks.clusters.create", w.Token))

	after := mustPolicy(t, svc, "example-access")
	require.NotEqual(t, before.Etag, after.Etag)
	require.Contains(t, after.Rules[0].Principals, "user:no-access@example.com")

	rels, err := svc.ReadRelationships(ctx, org, w.Token)
	require.NoError(t, err)
	require.Contains(t, rels, "rule:ab1cd2/example-access/0#principal@user:no-access@example.com")
}

func TestCheckRejectsBadInput(t *testing.T) {
	svc, _ := seededService(t)
	cases := []struct {
		req iam.CheckRequest
		msg string
	}{
		{iam.CheckRequest{Org: "nope", Principal: "user:a", Action: "cks.clusters.list"}, "six lowercase hex"},
		{iam.CheckRequest{Org: org, Principal: "a", Action: "cks.clusters.list"}, "kind:id"},
		{iam.CheckRequest{Org: org, Principal: "group:engineering",
			Action: "cks.clusters.list"}, "a member of the group"},
		{iam.CheckRequest{Org: org, Principal: "user:a",
			Action: "cks.cluster.list"}, `did you mean "cks.clusters.list"`},
		{iam.CheckRequest{Org: org, Principal: "user:a"}, "an action is required"},
		{iam.CheckRequest{Org: org, Principal: "user:a", Action: "cks.clusters.list", Role: "cks-admin"}, "not both"},
		{iam.CheckRequest{Org: org, Principal: "user:a",
			Action: "cks.clusters.list", AtLeastAsFresh: "garbage"}, "ZedToken"},
	}
	for _, tc := range cases {
		t.Run(tc.msg, func(t *testing.T) {
			d, err := svc.Check(t.Context(), tc.req)
			require.ErrorContains(t, err, tc.msg)
			require.Equal(t, iamerr.InvalidArgument, iamerr.KindOf(err))
			require.False(t, d.Allowed)
		})
	}
}

func TestCheckFailsClosedWhenEngineIsGone(t *testing.T) {
	svc, token := seededService(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	d, err := svc.Check(ctx, iam.CheckRequest{Org: org,
		Principal: "user:user-a@example.com", Action: "cks.clusters.list",
		AtLeastAsFresh: token})
	require.Error(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, iamerr.Unavailable, iamerr.KindOf(err))
}

func TestConcurrentNestingsNeverCloseACycle(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	for round := range 5 {
		a, b := "x"+itoa(round), "y"+itoa(round)
		for _, g := range []string{a, b} {
			_, err := svc.CreateGroup(ctx, org, g)
			require.NoError(t, err)
		}

		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { _, errA = svc.AddGroupMember(ctx, org, a, "group:"+b) })
		wg.Go(func() { _, errB = svc.AddGroupMember(ctx, org, b, "group:"+a) })
		wg.Wait()

		require.False(t, errA == nil && errB == nil, "both nestings landed: a cycle")
	}
}
