package iam_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/iamtest"
)

// racingEngine runs a hook once, just before the first write whose
// transaction metadata names op reaches the engine: the hook plays
// another client that lands between the facade's reads and its write.
type racingEngine struct {
	iam.Engine

	mu   sync.Mutex
	op   string
	hook func(ctx context.Context)
}

func (e *racingEngine) WriteRelationships(
	ctx context.Context, req *v1.WriteRelationshipsRequest, opts ...grpc.CallOption,
) (*v1.WriteRelationshipsResponse, error) {
	op := req.GetOptionalTransactionMetadata().GetFields()["operation"].GetStringValue()

	e.mu.Lock()
	hook := e.hook
	if op != e.op {
		hook = nil
	}
	if hook != nil {
		e.hook = nil
	}
	e.mu.Unlock()

	if hook != nil {
		hook(ctx)
	}
	return e.Engine.WriteRelationships(ctx, req, opts...)
}

// raceBefore makes hook run just before the next write named op.
func (e *racingEngine) raceBefore(op string, hook func(ctx context.Context)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.op, e.hook = op, hook
}

// racingService is the seeded example over a racingEngine.
func racingService(t *testing.T) (*iam.Service, *racingEngine) {
	t.Helper()
	e := &racingEngine{Engine: iamtest.NewEngine(t)}
	svc, _ := seededOn(t, iam.New(e))
	return svc, e
}

func members(t *testing.T, svc *iam.Service, o string) []string {
	t.Helper()
	m, err := svc.ListMembers(t.Context(), o)
	require.NoError(t, err)
	return m
}

// TestAttackRawTouchOfMemberRacingAMove re-touches a member's
// membership while another administrator removes the member and the
// operator adds it to another organization. The touch was validated
// against "already a member here" but carries no precondition, so it
// lands after the move: the principal then belongs to two
// organizations.
func TestAttackRawTouchOfMemberRacingAMove(t *testing.T) {
	ctx := t.Context()
	svc, e := racingService(t)
	const who = "user:no-access@example.com"
	membership := "organization:" + org + "#member@" + who

	e.raceBefore("write relationships", func(ctx context.Context) {
		_, err := svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
			Delete: true, Relationship: membership,
		}})
		require.NoError(t, err)
		_, err = svc.AddMember(ctx, "ff00ff", who)
		require.NoError(t, err)
	})
	_, _ = svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
		Relationship: membership,
	}})

	inA := slices.Contains(members(t, svc, org), who)
	inB := slices.Contains(members(t, svc, "ff00ff"), who)
	require.False(t, inA && inB,
		"%s belongs to %s and ff00ff at once", who, org)
}

// TestAttackDeletePolicyWithoutEtagRacingAnEdit deletes a policy with
// no etag (delete whatever is stored) while another writer edits it.
// ReplacePolicy retries such a write; DeletePolicy instead fails with a
// conflict about an etag the caller never sent.
func TestAttackDeletePolicyWithoutEtagRacingAnEdit(t *testing.T) {
	ctx := t.Context()
	svc, e := racingService(t)
	p := mustPolicy(t, svc, "example-access")

	e.raceBefore("delete policy", func(ctx context.Context) {
		_, err := svc.ReplacePolicy(ctx, iam.PolicyInput{
			Org: org, ID: p.ID, Description: "edited meanwhile",
			Rules: p.Rules,
		})
		require.NoError(t, err)
	})
	_, err := svc.DeletePolicy(ctx, org, p.ID, "")
	require.NoError(t, err, "a delete without an etag applies to what is stored")

	_, err = svc.GetPolicy(ctx, org, p.ID, "")
	require.True(t, iamerr.Is(err, iamerr.NotFound), "%v", err)
}

// TestAttackDeleteGroupRacingAnAdd deletes a group while a member is
// added to it. The delete removes only the relationships it read, so
// the new membership outlives the group, and a later group of the same
// name starts with a member nobody gave it.
func TestAttackDeleteGroupRacingAnAdd(t *testing.T) {
	ctx := t.Context()
	svc, e := racingService(t)
	const group = "short-lived"
	_, err := svc.CreateGroup(ctx, org, group)
	require.NoError(t, err)

	e.raceBefore("delete group", func(ctx context.Context) {
		_, err := svc.AddGroupMember(ctx, org, group, "user:user-a@example.com")
		require.NoError(t, err)
	})
	_, err = svc.DeleteGroup(ctx, org, group)
	if err != nil {
		// Refusing the delete is fine: the group then still exists.
		_, gerr := svc.GetGroup(ctx, org, group)
		require.NoError(t, gerr)
		return
	}

	groups, err := svc.ListGroups(ctx, org)
	require.NoError(t, err)
	for _, g := range groups {
		require.NotEqual(t, group, g.Name, "a deleted group is still listed")
	}
	_, err = svc.CreateGroup(ctx, org, group)
	require.NoError(t, err)
	g, err := svc.GetGroup(ctx, org, group)
	require.NoError(t, err)
	require.Empty(t, g.Members, "a new group inherited a deleted group's member")
}

// TestAttackRawWritesKeepTheTypedInvariants makes raw writes that each
// typed method refuses. Each must be refused and write nothing.
func TestAttackRawWritesKeepTheTypedInvariants(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	// Members enough to overfill one rule.
	var add []iam.RawUpdate
	for i := range iam.MaxPrincipalsPerRule + 1 {
		add = append(add, iam.RawUpdate{Relationship: fmt.Sprintf(
			"organization:%s#member@user:bulk-%d@example.com", org, i)})
	}
	_, err := svc.WriteRelationships(ctx, org, add)
	require.NoError(t, err)

	var overfill []iam.RawUpdate
	for i := range iam.MaxPrincipalsPerRule + 1 {
		overfill = append(overfill, iam.RawUpdate{Relationship: fmt.Sprintf(
			"rule:%s/example-access/0#principal@user:bulk-%d@example.com",
			org, i)})
	}

	cases := []struct {
		name    string
		updates []iam.RawUpdate
		kind    iamerr.Kind
	}{
		{
			// GetPolicy then shows a group that GetGroup does not
			// know, and CreateGroup "creates" it with members.
			"member of a group that does not exist",
			[]iam.RawUpdate{{Relationship: "group:" + org +
				"/ghost#direct_member@user:user-a@example.com"}},
			iamerr.NotFound,
		},
		{
			// DeleteGroup refuses a group a rule still names; the raw
			// path would orphan it. Groups are made and unmade only by
			// the group methods, so the raw write is refused outright.
			"disown a group a rule names",
			[]iam.RawUpdate{{Delete: true, Relationship: "group:" + org +
				"/engineering#organization@organization:" + org}},
			iamerr.InvalidArgument,
		},
		{
			// Past the limits, GetPolicy returns a policy that
			// ReplacePolicy refuses, and past 1000 relationships
			// DeletePolicy cannot delete it.
			"more principals in a rule than a rule may hold",
			overfill,
			iamerr.InvalidArgument,
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshotOf(t, svc)
			_, err := svc.WriteRelationships(ctx, org, tc.updates)
			require.Error(t, err)
			require.True(t, iamerr.Is(err, tc.kind), "%v", err)
			require.Equal(t, before, snapshotOf(t, svc), "a refused write wrote")
		})
	}
}

// TestAttackReadRelationshipsRoundTrips: the relationship text form
// separates relations with '#', so a group name holding '#' would print a
// line that cannot be written back. Such names are refused, and what
// ReadRelationships prints for other names writes back as printed.
func TestAttackReadRelationshipsRoundTrips(t *testing.T) {
	ctx := t.Context()
	svc, _ := seededService(t)

	_, err := svc.CreateGroup(ctx, org, "ops#oncall")
	require.True(t, iamerr.Is(err, iamerr.InvalidArgument), "%v", err)

	const group = "ops@oncall/../x"
	_, err = svc.CreateGroup(ctx, org, group)
	require.NoError(t, err)
	_, err = svc.AddGroupMember(ctx, org, group, "user:user-a@example.com")
	require.NoError(t, err)

	rels, err := svc.ReadRelationships(ctx, org, "")
	require.NoError(t, err)
	var line string
	for _, r := range rels {
		if strings.Contains(r, group) && strings.Contains(r, "#direct_member@") {
			line = r
		}
	}
	require.NotEmpty(t, line)

	_, err = svc.WriteRelationships(ctx, org, []iam.RawUpdate{{
		Delete: true, Relationship: line,
	}})
	require.NoError(t, err, "ReadRelationships printed %q", line)
}

// TestAttackEchoedValuesStayUTF8 sends over-long values of two-byte
// characters. The facade cuts them at a byte count for the error; cut
// inside a character, the value is no longer UTF-8 and the API drops the
// error's ErrorInfo, which protobuf cannot marshal.
func TestAttackEchoedValuesStayUTF8(t *testing.T) {
	ctx := t.Context()
	svc := iamtest.NewService(t)
	// An odd prefix puts a character across every even cut.
	long := func(n int) string { return "a" + strings.Repeat("é", n) }

	errs := map[string]error{}
	_, errs["group name"] = svc.CreateGroup(ctx, org, long(iam.MaxGroupNameLength))
	_, errs["policy ID"] = svc.GetPolicy(ctx, org, "a"+long(iam.MaxPolicyIDLength), "")
	_, errs["description"] = svc.CreatePolicy(ctx, iam.PolicyInput{
		Org: org, ID: "p", Description: long(iam.MaxDescriptionLength),
	})

	for name, err := range errs {
		t.Run(name, func(t *testing.T) {
			var e *iamerr.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, iamerr.InvalidArgument, e.Kind)
			require.True(t, utf8.ValidString(e.Value),
				"the echoed value %q is cut inside a character", e.Value)
		})
	}
}
