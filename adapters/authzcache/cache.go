// Package authzcache keeps recent permission decisions in memory, in
// front of any authz.Checker, to spare the permission service the same
// question asked again and again.
//
// # What is cached, and for how long
//
// Only answered action and role checks (Check and CheckRole) are cached.
// Errors are never cached: the next request asks again. CheckBulk is
// passed through uncached.
//
// An allow is served for at most Config.TTL, counted from the moment the
// question was sent (not answered) to the permission service. A denial
// is cached only when Config.DenialTTL is set, for at most that long; by
// default every denial is asked again, so that a new grant works at once.
//
// The cache holds at most Config.MaxEntries decisions; when full, the
// least recently used one goes. Expired entries are dropped when met.
// The cache starts no goroutine.
//
// # Consistency tokens and revocations
//
// The key of an entry is the organization, the principal, the action (or
// role) and the request's consistency token, exactly as sent. So:
//
//   - A request without a token is answered from entries made by requests
//     without a token: a revocation reaches it at most TTL after it was
//     written (plus the permission service's own staleness, if any).
//   - A request carrying a token T is answered only from entries made by
//     requests that carried T, each evaluated at least as fresh as T. A
//     request that carries the token of a revocation (or any later token)
//     therefore never meets an entry from before the revocation: it is
//     asked anew, and denied.
//
// ZedTokens are opaque, so the cache never compares two of them; a
// different token is simply a different key.
//
// While the permission service is down, decisions already cached keep
// being served until they expire; anything else fails as it would
// without the cache. A failure is never cached, and never an allow.
package authzcache

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gpucloud/iam/adapters/authz"
)

// Config bounds the cache.
type Config struct {
	// MaxEntries is the most decisions kept; DefaultMaxEntries if zero.
	MaxEntries int

	// TTL is how long an allow is served. Required, at most MaxTTL.
	TTL time.Duration

	// DenialTTL is how long a denial is served; zero caches no denial.
	// At most TTL.
	DenialTTL time.Duration

	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// Limits of Config.
const (
	DefaultMaxEntries = 10_000
	MaxTTL            = 5 * time.Minute
)

// maxKeyBytes bounds one entry's key. Longer requests are answered but
// not cached, which keeps the cache's memory bounded by MaxEntries
// whatever the requests hold.
const maxKeyBytes = 2048

// Cache is an authz.Checker that remembers the decisions of another. It
// is safe for concurrent use.
type Cache struct {
	next      authz.Checker
	ttl       time.Duration
	denialTTL time.Duration
	max       int
	now       func() time.Time

	mu      sync.Mutex
	entries map[key]*list.Element
	lru     *list.List // of *entry, most recently used first
	hits    uint64
	misses  uint64

	// generation grows with every Purge, so that an answer asked for
	// before a Purge is not stored after it.
	generation uint64
}

var _ authz.Checker = (*Cache)(nil)

// key identifies a question. kind tells actions and roles apart, so that
// an action and a role of the same name never share an entry.
type key struct {
	kind         byte
	organization string
	principal    string
	name         string
	token        string
}

const (
	kindAction = 'a'
	kindRole   = 'r'
)

func (k key) size() int {
	return len(k.organization) + len(k.principal) + len(k.name) + len(k.token)
}

type entry struct {
	key      key
	decision authz.Decision
	expires  time.Time
}

// New returns a cache in front of next.
func New(next authz.Checker, cfg Config) (*Cache, error) {
	switch {
	case next == nil:
		return nil, fmt.Errorf("authzcache: the checker to cache is nil")
	case cfg.TTL <= 0 || cfg.TTL > MaxTTL:
		return nil, fmt.Errorf("authzcache: Config.TTL is %v; use a "+
			"duration above 0 and at most %v: it is how long a revoked "+
			"permission may still be served", cfg.TTL, MaxTTL)
	case cfg.DenialTTL < 0 || cfg.DenialTTL > cfg.TTL:
		return nil, fmt.Errorf("authzcache: Config.DenialTTL is %v; use "+
			"0 (denials are not cached) up to Config.TTL (%v)",
			cfg.DenialTTL, cfg.TTL)
	case cfg.MaxEntries < 0:
		return nil, fmt.Errorf("authzcache: Config.MaxEntries is %d; use "+
			"a positive number, or 0 for %d", cfg.MaxEntries, DefaultMaxEntries)
	}

	c := &Cache{
		next:      next,
		ttl:       cfg.TTL,
		denialTTL: cfg.DenialTTL,
		max:       cfg.MaxEntries,
		now:       cfg.Now,
		entries:   map[key]*list.Element{},
		lru:       list.New(),
	}
	if c.max == 0 {
		c.max = DefaultMaxEntries
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Check answers from the cache, or asks the next checker and remembers
// its answer.
func (c *Cache) Check(
	ctx context.Context, req authz.CheckRequest,
) (authz.Decision, error) {
	k := key{
		kind: kindAction, organization: req.Organization,
		principal: req.Principal, name: req.Action,
		token: req.ConsistencyToken,
	}
	return c.decide(k, func() (authz.Decision, error) {
		return c.next.Check(ctx, req)
	})
}

// CheckRole answers from the cache, or asks the next checker and
// remembers its answer.
func (c *Cache) CheckRole(
	ctx context.Context, req authz.RoleRequest,
) (authz.Decision, error) {
	k := key{
		kind: kindRole, organization: req.Organization,
		principal: req.Principal, name: req.Role,
		token: req.ConsistencyToken,
	}
	return c.decide(k, func() (authz.Decision, error) {
		return c.next.CheckRole(ctx, req)
	})
}

// CheckBulk is passed through uncached: its answers share one snapshot,
// which answers from entries of different ages would not.
func (c *Cache) CheckBulk(
	ctx context.Context, reqs []authz.CheckRequest,
) (authz.BulkDecision, error) {
	return c.next.CheckBulk(ctx, reqs)
}

func (c *Cache) decide(
	k key, ask func() (authz.Decision, error),
) (authz.Decision, error) {
	if d, ok := c.lookup(k); ok {
		return d, nil
	}

	// The entry's life starts before the question is sent: the answer
	// is at least that old.
	asked := c.now()
	gen := c.currentGeneration()
	d, err := ask()
	if err != nil {
		return authz.Decision{}, err
	}

	ttl := c.ttl
	if !d.Allowed {
		ttl = c.denialTTL
	}
	if ttl > 0 && k.size() <= maxKeyBytes {
		c.store(k, d, asked.Add(ttl), gen)
	}
	return d, nil
}

func (c *Cache) lookup(k key) (authz.Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()

	el, ok := c.entries[k]
	if !ok {
		c.misses++
		return authz.Decision{}, false
	}
	e := el.Value.(*entry)
	if !c.now().Before(e.expires) {
		c.remove(el)
		c.misses++
		return authz.Decision{}, false
	}

	c.lru.MoveToFront(el)
	c.hits++
	return e.decision, true
}

func (c *Cache) currentGeneration() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.generation
}

func (c *Cache) store(
	k key, d authz.Decision, expires time.Time, gen uint64,
) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.generation {
		return
	}

	if el, ok := c.entries[k]; ok {
		e := el.Value.(*entry)
		e.decision, e.expires = d, expires
		c.lru.MoveToFront(el)
		return
	}

	c.entries[k] = c.lru.PushFront(&entry{key: k, decision: d, expires: expires})
	for c.lru.Len() > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *Cache) remove(el *list.Element) {
	c.lru.Remove(el)
	delete(c.entries, el.Value.(*entry).key)
}

// Purge forgets every decision, including those being asked for while it
// runs. A service that learns of a revocation some other way than a
// consistency token can call it.
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.generation++
	c.entries = map[key]*list.Element{}
	c.lru.Init()
}

// Stats counts the cache's work since it was made.
type Stats struct {
	Hits    uint64
	Misses  uint64
	Entries int
}

// Stats returns the current counts.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Hits: c.hits, Misses: c.misses, Entries: c.lru.Len()}
}
