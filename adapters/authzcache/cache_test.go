package authzcache_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/authzcache"
)

const (
	org   = "ab1cd2"
	alice = "user:alice@example.com"
	list  = "cks.clusters.list"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newCache(
	t *testing.T, next authz.Checker, cfg authzcache.Config,
) (*authzcache.Cache, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg.Now = clk.Now
	if cfg.TTL == 0 {
		cfg.TTL = 10 * time.Second
	}
	c, err := authzcache.New(next, cfg)
	require.NoError(t, err)
	return c, clk
}

func check(t *testing.T, c authz.Checker, action, token string) (bool, error) {
	t.Helper()
	d, err := c.Check(t.Context(), authz.CheckRequest{
		Organization: org, Principal: alice, Action: action,
		ConsistencyToken: token,
	})
	return d.Allowed, err
}

func TestAllowsAreCachedForTheTTL(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, clk := newCache(t, next, authzcache.Config{TTL: 10 * time.Second})

	for range 3 {
		ok, err := check(t, c, list, "")
		require.NoError(t, err)
		require.True(t, ok)
	}
	require.Equal(t, 1, next.Calls())

	// Revoked upstream: the allow is still served until the TTL ends.
	next.Revoke(org, alice, list)
	clk.Advance(10*time.Second - time.Nanosecond)
	ok, err := check(t, c, list, "")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, 1, next.Calls())

	clk.Advance(time.Nanosecond)
	ok, err = check(t, c, list, "")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 2, next.Calls())
	require.Equal(t, authzcache.Stats{Hits: 3, Misses: 2, Entries: 0}, c.Stats())
}

// slowChecker advances the clock while it answers.
type slowChecker struct {
	authz.Checker
	clk   *clock
	delay time.Duration
}

func (s slowChecker) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	s.clk.Advance(s.delay)
	return s.Checker.Check(ctx, req)
}

func TestTTLCountsFromTheQuestion(t *testing.T) {
	inner := authztest.NewChecker()
	inner.Grant(org, alice, list)
	slow := &slowChecker{Checker: inner, delay: 4 * time.Second}
	c, clk := newCache(t, slow, authzcache.Config{TTL: 10 * time.Second})
	slow.clk = clk

	_, err := check(t, c, list, "")
	require.NoError(t, err)
	slow.delay = 0

	// Asked at 0, answered at 4s: the entry ends at 10s, not 14s.
	clk.Advance(6 * time.Second)
	_, err = check(t, c, list, "")
	require.NoError(t, err)
	require.Equal(t, 2, inner.Calls())
}

func TestDenials(t *testing.T) {
	cases := []struct {
		name      string
		denialTTL time.Duration
		calls     int
	}{
		{"not cached by default", 0, 3},
		{"cached when asked to", time.Second, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := authztest.NewChecker()
			c, _ := newCache(t, next, authzcache.Config{DenialTTL: tc.denialTTL})
			for range 3 {
				ok, err := check(t, c, list, "")
				require.NoError(t, err)
				require.False(t, ok)
			}
			require.Equal(t, tc.calls, next.Calls())
		})
	}
}

func TestErrorsAreNeverCached(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	next.Fail(fmt.Errorf("%w: down", authz.ErrUnavailable))
	c, _ := newCache(t, next, authzcache.Config{DenialTTL: time.Second})

	for range 2 {
		ok, err := check(t, c, list, "")
		require.ErrorIs(t, err, authz.ErrUnavailable)
		require.False(t, ok)
	}
	require.Equal(t, 2, next.Calls())
	require.Zero(t, c.Stats().Entries)

	next.Fail(nil)
	ok, err := check(t, c, list, "")
	require.NoError(t, err)
	require.True(t, ok)
}

func TestCachedAllowsOutliveAnOutageUntilTheTTL(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list, "cks.clusters.get")
	c, clk := newCache(t, next, authzcache.Config{TTL: 10 * time.Second})
	_, err := check(t, c, list, "")
	require.NoError(t, err)

	next.Fail(errors.New("iamd is down"))
	ok, err := check(t, c, list, "")
	require.NoError(t, err, "a cached decision is served")
	require.True(t, ok)

	ok, err = check(t, c, "cks.clusters.get", "")
	require.Error(t, err, "an uncached one fails")
	require.False(t, ok)

	clk.Advance(10 * time.Second)
	ok, err = check(t, c, list, "")
	require.Error(t, err, "and so does an expired one")
	require.False(t, ok)
}

func TestConsistencyTokenKeysTheCache(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, _ := newCache(t, next, authzcache.Config{TTL: time.Minute})

	ok, err := check(t, c, list, "")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = check(t, c, list, "token-1")
	require.NoError(t, err)
	require.True(t, ok)

	// The revocation's write returned token-2.
	next.Revoke(org, alice, list)

	ok, err = check(t, c, list, "token-2")
	require.NoError(t, err)
	require.False(t, ok, "a request with the revocation's token is asked anew")

	ok, err = check(t, c, list, "token-1")
	require.NoError(t, err)
	require.True(t, ok, "token-1 asked only to be as fresh as token-1")
	ok, err = check(t, c, list, "")
	require.NoError(t, err)
	require.True(t, ok, "tokenless requests may see the allow until the TTL")

	reqs := next.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, "token-2", reqs[2].ConsistencyToken,
		"the token reaches the permission service")
}

func TestBoundedLRU(t *testing.T) {
	next := authztest.NewChecker()
	actions := []string{list, "cks.clusters.get", "cks.vpcs.list"}
	next.Grant(org, alice, actions...)
	c, _ := newCache(t, next, authzcache.Config{MaxEntries: 2})

	ask := func(action string) {
		_, err := check(t, c, action, "")
		require.NoError(t, err)
	}
	ask(actions[0])
	ask(actions[1])
	ask(actions[0]) // the most recently used now
	ask(actions[2]) // evicts actions[1]
	require.Equal(t, 3, next.Calls())
	require.Equal(t, 2, c.Stats().Entries)

	ask(actions[0])
	require.Equal(t, 3, next.Calls(), "kept")
	ask(actions[1])
	require.Equal(t, 4, next.Calls(), "evicted")
}

func TestOversizedKeysAreNotCached(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, _ := newCache(t, next, authzcache.Config{})
	long := strings.Repeat("t", 4000)

	for range 2 {
		_, err := check(t, c, list, long)
		require.NoError(t, err)
	}
	require.Equal(t, 2, next.Calls())
	require.Zero(t, c.Stats().Entries)
}

func TestRolesAndActionsDoNotShareEntries(t *testing.T) {
	next := authztest.NewChecker()
	next.GrantRole(org, alice, "cks-viewer")
	c, _ := newCache(t, next, authzcache.Config{})

	role := authz.RoleRequest{Organization: org, Principal: alice, Role: "cks-viewer"}
	for range 2 {
		d, err := c.CheckRole(t.Context(), role)
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	ok, err := check(t, c, "cks-viewer", "")
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, 2, next.Calls())
}

func TestPurge(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, _ := newCache(t, next, authzcache.Config{})
	_, err := check(t, c, list, "")
	require.NoError(t, err)

	c.Purge()
	next.Revoke(org, alice, list)
	ok, err := check(t, c, list, "")
	require.NoError(t, err)
	require.False(t, ok)
}

// purgingChecker purges the cache while a question is in flight.
type purgingChecker struct {
	authz.Checker
	cache **authzcache.Cache
}

func (p purgingChecker) Check(ctx context.Context, req authz.CheckRequest) (authz.Decision, error) {
	(*p.cache).Purge()
	return p.Checker.Check(ctx, req)
}

func TestPurgeDropsAnswersInFlight(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	var c *authzcache.Cache
	c, _ = newCache(t, purgingChecker{Checker: next, cache: &c}, authzcache.Config{})

	_, err := check(t, c, list, "")
	require.NoError(t, err)
	require.Zero(t, c.Stats().Entries)
}

func TestBulkIsNotCached(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, _ := newCache(t, next, authzcache.Config{})
	reqs := []authz.CheckRequest{{Organization: org, Principal: alice, Action: list}}

	for range 2 {
		d, err := c.CheckBulk(t.Context(), reqs)
		require.NoError(t, err)
		require.Equal(t, []bool{true}, d.Allowed)
	}
	require.Equal(t, 2, next.Calls())
}

func TestConcurrentUse(t *testing.T) {
	next := authztest.NewChecker()
	next.Grant(org, alice, list)
	c, _ := newCache(t, next, authzcache.Config{MaxEntries: 8})

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				token := fmt.Sprintf("t%d", (g*i)%16)
				ok, err := check(t, c, list, token)
				if err != nil || !ok {
					t.Errorf("check %s: %v %v", token, ok, err)
				}
				if i%50 == 0 {
					c.Purge()
				}
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, c.Stats().Entries, 8)
}

func TestConfigIsValidated(t *testing.T) {
	next := authztest.NewChecker()
	cases := []struct {
		name    string
		next    authz.Checker
		cfg     authzcache.Config
		problem string
	}{
		{"no checker", nil, authzcache.Config{TTL: time.Second}, "is nil"},
		{"no TTL", next, authzcache.Config{}, "Config.TTL is 0s"},
		{"TTL too long", next, authzcache.Config{TTL: time.Hour}, "at most 5m0s"},
		{"denials kept longer than allows", next,
			authzcache.Config{TTL: time.Second, DenialTTL: time.Minute}, "Config.DenialTTL is 1m0s"},
		{"negative size", next,
			authzcache.Config{TTL: time.Second, MaxEntries: -1}, "Config.MaxEntries is -1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := authzcache.New(tc.next, tc.cfg)
			require.ErrorContains(t, err, tc.problem)
		})
	}
}
