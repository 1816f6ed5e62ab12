package decisioncache

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

type harness struct {
	cache  *Cache
	engine *fakeEngine
	watch  *fakeWatch
}

func newHarness(t *testing.T, scoped bool) *harness {
	t.Helper()
	h := &harness{engine: newFakeEngine(t), watch: &fakeWatch{}}
	c, err := New(Config{
		Engine: h.engine, Watch: h.watch, ScopeByOrganization: scoped,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	h.cache = c

	// The first check starts the watch from its token.
	h.check(t, "ab1cd2", "nobody", nil)
	require.True(t, c.Stats().Serving)
	return h
}

func checkOf(org, user string, c *v1.Consistency) *v1.CheckPermissionRequest {
	return &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    &v1.ObjectReference{ObjectType: "organization", ObjectId: org},
		Permission:  "iam_users_list",
		Subject: &v1.SubjectReference{
			Object: &v1.ObjectReference{ObjectType: "user", ObjectId: user},
		},
	}
}

func (h *harness) check(
	t *testing.T, org, user string, c *v1.Consistency,
) v1.CheckPermissionResponse_Permissionship {
	t.Helper()
	resp, err := h.cache.CheckPermission(context.Background(), checkOf(org, user, c))
	require.NoError(t, err)
	require.NotNil(t, resp.GetCheckedAt())
	return resp.GetPermissionship()
}

// deliver sends a watch response for revision n and waits until the
// cache has applied it.
func (h *harness) deliver(t *testing.T, n int, rels ...*v1.Relationship) {
	t.Helper()
	resp := &v1.WatchResponse{ChangesThrough: token(t, n)}
	for _, r := range rels {
		resp.Updates = append(resp.Updates, &v1.RelationshipUpdate{
			Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: r,
		})
	}
	h.watch.current().ch <- resp
	require.Eventually(t, func() bool {
		pos := h.cache.revisions.current()
		return pos != nil && pos.revision == strconv.Itoa(n)
	}, 5*time.Second, time.Millisecond)
}

func rel(resType, resID, relation, subType, subID string) *v1.Relationship {
	return &v1.Relationship{
		Resource: &v1.ObjectReference{ObjectType: resType, ObjectId: resID},
		Relation: relation,
		Subject: &v1.SubjectReference{
			Object: &v1.ObjectReference{ObjectType: subType, ObjectId: subID},
		},
	}
}

func atLeast(tok *v1.ZedToken) *v1.Consistency {
	return &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: tok}}
}

const (
	allow = v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
	deny  = v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
)

func TestFillsFullyConsistentThenHits(t *testing.T) {
	h := newHarness(t, false)
	h.engine.set("ab1cd2", "alice", true)

	require.Equal(t, allow, h.check(t, "ab1cd2", "alice", nil))
	require.NotNil(t, h.engine.last().GetConsistency().GetFullyConsistent(),
		"a fill must read the newest data")
	calls := h.engine.calls()

	for range 3 {
		require.Equal(t, allow, h.check(t, "ab1cd2", "alice", nil))
	}
	require.Equal(t, calls, h.engine.calls())
	require.Equal(t, uint64(3), h.cache.Stats().Hits)
}

func TestChangesInvalidate(t *testing.T) {
	cases := []struct {
		name        string
		scoped      bool
		otherCached bool
	}{
		{name: "unscoped drops everything", scoped: false, otherCached: false},
		{name: "scoped drops one organization", scoped: true, otherCached: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.scoped)
			h.engine.set("aaaaaa", "alice", true)
			h.engine.set("bbbbbb", "bob", true)
			h.check(t, "aaaaaa", "alice", nil)
			h.check(t, "bbbbbb", "bob", nil)

			n := h.engine.set("aaaaaa", "alice", false)
			h.deliver(t, n, rel("group", "aaaaaa/eng", "direct_member", "user", "alice"))

			calls := h.engine.calls()
			require.Equal(t, deny, h.check(t, "aaaaaa", "alice", nil))
			require.Equal(t, calls+1, h.engine.calls(), "the changed organization is asked again")

			calls = h.engine.calls()
			require.Equal(t, allow, h.check(t, "bbbbbb", "bob", nil))
			asked := h.engine.calls() > calls
			require.Equal(t, !tc.otherCached, asked)
		})
	}
}

// TestRevokedTokenIsNeverServedStale is the new-enemy case: after a
// revocation, a check with the revocation's token is denied whether or
// not the watch has delivered it yet.
func TestRevokedTokenIsNeverServedStale(t *testing.T) {
	h := newHarness(t, true)
	h.engine.set("ab1cd2", "alice", true)
	require.Equal(t, allow, h.check(t, "ab1cd2", "alice", nil))
	require.Equal(t, allow, h.check(t, "ab1cd2", "alice", nil))

	n := h.engine.set("ab1cd2", "alice", false)
	revoked := token(t, n)

	// The watch has not delivered the revocation: SpiceDB answers, with
	// the caller's own consistency.
	require.Equal(t, deny, h.check(t, "ab1cd2", "alice", atLeast(revoked)))
	require.Equal(t, revoked.GetToken(),
		h.engine.last().GetConsistency().GetAtLeastAsFresh().GetToken())

	// Delivered: the stale allow is gone, the new answer is kept.
	h.deliver(t, n, rel("rule", "ab1cd2/p/0", "principal", "user", "alice"))
	require.Equal(t, deny, h.check(t, "ab1cd2", "alice", atLeast(revoked)))
	calls := h.engine.calls()
	require.Equal(t, deny, h.check(t, "ab1cd2", "alice", atLeast(revoked)))
	require.Equal(t, deny, h.check(t, "ab1cd2", "alice", nil))
	require.Equal(t, calls, h.engine.calls(), "answered from memory")
}

func TestTokensOfDeliveredRevisionsAreRecognized(t *testing.T) {
	h := newHarness(t, false)
	h.deliver(t, 5)
	h.deliver(t, 6)
	h.deliver(t, 7)
	h.check(t, "ab1cd2", "alice", nil)

	calls := h.engine.calls()
	h.check(t, "ab1cd2", "alice", atLeast(token(t, 6)))
	require.Equal(t, calls, h.engine.calls(), "revision 6 was delivered")

	h.check(t, "ab1cd2", "alice", atLeast(token(t, 8)))
	require.Equal(t, calls+1, h.engine.calls(), "revision 8 was not")

	// Without a parser, an undelivered revision that is in fact older
	// (a check's token, say) cannot be placed: it goes to SpiceDB.
	h.check(t, "ab1cd2", "alice", atLeast(token(t, 2)))
	require.Equal(t, calls+2, h.engine.calls())
}

func TestUncacheableChecksGoToSpiceDB(t *testing.T) {
	ctxStruct, err := structpb.NewStruct(map[string]any{"k": "v"})
	require.NoError(t, err)
	exact := &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{
		AtExactSnapshot: token(t, 1),
	}}
	full := &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{
		FullyConsistent: true,
	}}

	cases := map[string]*v1.CheckPermissionRequest{
		"fully consistent": checkOf("ab1cd2", "alice", full),
		"exact snapshot":   checkOf("ab1cd2", "alice", exact),
	}
	withContext := checkOf("ab1cd2", "alice", nil)
	withContext.Context = ctxStruct
	cases["caveat context"] = withContext
	traced := checkOf("ab1cd2", "alice", nil)
	traced.WithTracing = true
	cases["tracing"] = traced

	for name, req := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, false)
			for range 3 {
				_, err := h.cache.CheckPermission(context.Background(), req)
				require.NoError(t, err)
				require.Same(t, req, h.engine.last(), "passed through as is")
			}
			require.Zero(t, h.cache.Stats().Hits)
		})
	}
}

func TestLinkBetweenOrganizationsStopsScoping(t *testing.T) {
	h := newHarness(t, true)
	h.check(t, "bbbbbb", "bob", nil)

	h.deliver(t, 9, rel("organization", "aaaaaa", "policy", "policy", "bbbbbb/p"))
	require.False(t, h.cache.scoped.Load())

	calls := h.engine.calls()
	h.check(t, "bbbbbb", "bob", nil)
	require.Equal(t, calls+1, h.engine.calls(), "every decision was dropped")

	// And later changes drop everything too.
	h.check(t, "bbbbbb", "bob", nil)
	h.deliver(t, 10, rel("group", "aaaaaa/eng", "direct_member", "user", "x"))
	calls = h.engine.calls()
	h.check(t, "bbbbbb", "bob", nil)
	require.Equal(t, calls+1, h.engine.calls())
}

func TestScopedCacheSkipsChecksOfNoOrganization(t *testing.T) {
	h := newHarness(t, true)
	req := checkOf("ab1cd2", "alice", nil)
	req.Resource = &v1.ObjectReference{ObjectType: "platform", ObjectId: "iam"}
	for range 2 {
		_, err := h.cache.CheckPermission(context.Background(), req)
		require.NoError(t, err)
		require.Same(t, req, h.engine.last())
	}
}

func TestWatchFailureStopsServing(t *testing.T) {
	h := newHarness(t, false)
	h.check(t, "ab1cd2", "alice", nil)

	h.watch.current().errs <- errors.New("connection reset")
	require.Eventually(t, func() bool { return !h.cache.Stats().Serving },
		5*time.Second, time.Millisecond)

	// Everything goes to SpiceDB, with the caller's consistency.
	for range 3 {
		calls := h.engine.calls()
		h.check(t, "ab1cd2", "alice", nil)
		require.Equal(t, calls+1, h.engine.calls())
		require.Nil(t, h.engine.last().GetConsistency())
	}
	require.Equal(t, 1, h.watch.count(), "no restart before retryDelay")

	time.Sleep(retryDelay + 50*time.Millisecond)
	h.check(t, "ab1cd2", "alice", nil)
	require.Equal(t, 2, h.watch.count())
	require.True(t, h.cache.Stats().Serving)

	// Decisions kept before the failure are gone.
	calls := h.engine.calls()
	h.check(t, "ab1cd2", "alice", nil)
	require.Equal(t, calls+1, h.engine.calls())
}

func TestEntriesAreBounded(t *testing.T) {
	engine, watch := newFakeEngine(t), &fakeWatch{}
	c, err := New(Config{Engine: engine, Watch: watch, MaxEntries: shardCount})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })

	for i := range 1000 {
		_, err := c.CheckPermission(context.Background(),
			checkOf("ab1cd2", "u"+strconv.Itoa(i), nil))
		require.NoError(t, err)
	}
	total := 0
	for i := range c.shards {
		total += len(c.shards[i].entries)
	}
	require.LessOrEqual(t, total, shardCount)
}

func TestConfigIsValidated(t *testing.T) {
	_, err := New(Config{})
	require.Error(t, err)
	_, err = New(Config{Engine: newFakeEngine(t), Watch: &fakeWatch{}, MaxEntries: -1})
	require.Error(t, err)
}
