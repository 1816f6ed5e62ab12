package iam_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// The schema's permissions are pure unions: isolation rests on the
// invariant that a group or rule of an organization names only its
// members. These tests hold the facade to it.

const leaver = "user:eng-member@example.com"

// endMembership deletes who's membership of the seeded organization with
// a raw write, the only way a membership ends.
func endMembership(
	ctx context.Context, svc *iam.Service, who string,
) (iam.WriteResult, error) {
	return svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
		Delete: true, Relationship: "organization:" + org + "#member@" + who,
	}})
}

func TestMembershipEndsOnlyOnceUnnamed(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	p := mustPolicy(t, svc, "example-access")
	_, err := svc.ReplacePolicy(ctx, iam.PolicyInput{
		Org: org, ID: p.ID, Etag: p.Etag,
		Rules: append(p.Rules, iam.Rule{
			Principals: []string{leaver}, Roles: []string{"Billing Viewer"},
		}),
	})
	require.NoError(t, err)

	// Named by the engineering group and by a rule: refused, and both are
	// listed so the administrator knows what to edit.
	_, err = endMembership(ctx, svc, leaver)
	require.True(t, iamerr.Is(err, iamerr.FailedPrecondition), "%v", err)
	require.ErrorContains(t, err, "group:"+org+"/engineering")
	require.ErrorContains(t, err, "rule:"+org+"/example-access/")
	require.Contains(t, members(t, svc, org), leaver)

	// Removing every reference in the same write is refused too: the
	// write is validated against the state before it.
	rels, err := svc.ReadRelationships(ctx, org, "")
	require.NoError(t, err)
	var updates []iam.RawUpdate
	for _, r := range rels {
		if strings.HasSuffix(r, "@"+leaver) {
			updates = append(updates, iam.RawUpdate{Delete: true, Relationship: r})
		}
	}
	require.Len(t, updates, 3, "membership, group and rule: %v", updates)
	_, err = svc.WriteRelationships(ctx, org, updates)
	require.True(t, iamerr.Is(err, iamerr.FailedPrecondition), "%v", err)
	require.Contains(t, members(t, svc, org), leaver)

	// Unnamed first, then the membership ends, and nothing is left.
	_, err = svc.RemoveGroupMember(ctx, org, "engineering", leaver)
	require.NoError(t, err)
	_, err = svc.ReplacePolicy(ctx, iam.PolicyInput{
		Org: org, ID: p.ID, Etag: mustPolicy(t, svc, p.ID).Etag, Rules: p.Rules,
	})
	require.NoError(t, err)
	w, err := endMembership(ctx, svc, leaver)
	require.NoError(t, err)
	require.NotContains(t, members(t, svc, org), leaver)

	// Back as a member, the principal holds nothing it held before.
	w, err = svc.AddMember(ctx, org, leaver)
	require.NoError(t, err)
	require.False(t, allowed(t, svc, leaver, "cks.clusters.list", w.Token))
	require.False(t, allowed(t, svc, leaver, "billing.invoices.list", w.Token))
}

func TestWriteMayNotNameAMemberItRemoves(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	const who = "user:no-access@example.com"

	_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{
		{Delete: true, Relationship: "organization:" + org + "#member@" + who},
		{Relationship: "group:" + org + "/engineering#direct_member@" + who},
	})
	require.True(t, iamerr.Is(err, iamerr.InvalidArgument), "%v", err)
	require.ErrorContains(t, err, "updates[1].relationship")
	require.Contains(t, members(t, svc, org), who)
}

// TestAttackNamingRacingMembershipEnd adds a principal to a group while
// another administrator ends its membership, which was validated against
// a state with no reference. Whichever lands first, the organization
// must never name a principal that is not its member.
func TestAttackNamingRacingMembershipEnd(t *testing.T) {
	ctx := t.Context()
	svc, e := racingService(t)
	const who = "user:no-access@example.com"

	e.raceBefore("write relationships", func(ctx context.Context) {
		_, err := svc.AddGroupMember(ctx, org, "engineering", who)
		require.NoError(t, err)
	})
	_, err := endMembership(ctx, svc, who)
	require.Error(t, err, "the removal was validated before the add landed")

	g, err := svc.GetGroup(ctx, org, "engineering")
	require.NoError(t, err)
	require.Contains(t, g.Members, who)
	require.Contains(t, members(t, svc, org), who,
		"the group names %s, which is no longer a member", who)
}

// TestAttackRuleRacingMembershipEnd does the same with a policy rule.
func TestAttackRuleRacingMembershipEnd(t *testing.T) {
	ctx := t.Context()
	svc, e := racingService(t)
	const who = "user:no-access@example.com"
	p := mustPolicy(t, svc, "example-access")

	e.raceBefore("write relationships", func(ctx context.Context) {
		_, err := svc.ReplacePolicy(ctx, iam.PolicyInput{
			Org: org, ID: p.ID, Etag: p.Etag,
			Rules: append(p.Rules, iam.Rule{
				Principals: []string{who}, Roles: []string{"IAM Admin"},
			}),
		})
		require.NoError(t, err)
	})
	_, err := endMembership(ctx, svc, who)
	require.Error(t, err)

	require.Contains(t, members(t, svc, org), who)
	d, err := svc.Check(ctx, iam.CheckRequest{
		Org: org, Principal: who, Action: "iam.policies.update",
		FullyConsistent: true,
	})
	require.NoError(t, err)
	require.True(t, d.Allowed, "the rule that won the race grants")
}

// TestMembershipEndIsBlockedByEveryKindOfReference holds the guard to
// each place a principal can be named: a default policy, a group, a
// rule, for a user and for a service account.
func TestMembershipEndIsBlockedByEveryKindOfReference(t *testing.T) {
	cases := []struct {
		name string
		who  string
		edit func(ctx context.Context, svc *iam.Service, who string) error
		says string
	}{
		{"legacy group", "user:no-access@example.com",
			func(ctx context.Context, svc *iam.Service, who string) error {
				_, err := svc.AssignLegacyGroup(ctx, org, "read", who)
				return err
			}, "rule:" + org + "/legacy-read/0"},
		{"service account in a group", "serviceaccount:ci-bot",
			func(ctx context.Context, svc *iam.Service, who string) error {
				_, err := svc.AddGroupMember(ctx, org, "engineering", who)
				return err
			}, "group:" + org + "/engineering"},
		{"raw rule principal", "serviceaccount:ci-bot",
			func(ctx context.Context, svc *iam.Service, who string) error {
				_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
					Relationship: "rule:" + org + "/example-access/0#principal@" + who,
				}})
				return err
			}, "rule:" + org + "/example-access/0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			svc, _ := seededService(t)
			if c.who != "user:no-access@example.com" {
				_, err := svc.AddMember(ctx, org, c.who)
				require.NoError(t, err)
			}
			require.NoError(t, c.edit(ctx, svc, c.who))

			_, err := endMembership(ctx, svc, c.who)
			require.True(t, iamerr.Is(err, iamerr.FailedPrecondition), "%v", err)
			require.ErrorContains(t, err, c.says)
			require.Contains(t, members(t, svc, org), c.who)
		})
	}
}

// TestRawGrantsAndSubgroups writes a role grant and a nested group raw,
// as ReadRelationships shows them, and checks what they grant.
func TestRawGrantsAndSubgroups(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)
	const rule = "rule:" + org + "/example-access/0"
	_, err := svc.CreateGroup(ctx, org, "sre")
	require.NoError(t, err)
	_, err = svc.AddGroupMember(ctx, org, "sre", "user:no-access@example.com")
	require.NoError(t, err)

	w, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{
		{Relationship: rule + "#grants_billing_viewer@" + rule + "#principal"},
		{Relationship: "group:" + org + "/engineering#subgroup@group:" + org + "/sre#member"},
	})
	require.NoError(t, err)

	require.True(t, allowed(t, svc, "user:user-a@example.com", "billing.invoices.list", w.Token))
	require.True(t, allowed(t, svc, "user:no-access@example.com", "cks.clusters.list", w.Token))
	g, err := svc.GetGroup(ctx, org, "engineering")
	require.NoError(t, err)
	require.Contains(t, g.Members, "group:sre")

	// The reverse nesting would close a cycle.
	_, err = svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
		Relationship: "group:" + org + "/sre#subgroup@group:" + org + "/engineering#member",
	}})
	require.True(t, iamerr.Is(err, iamerr.InvalidArgument), "%v", err)
	require.ErrorContains(t, err, "sre")
}
