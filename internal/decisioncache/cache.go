// Package decisioncache keeps recent permission decisions in memory and
// drops them as soon as SpiceDB's Watch API reports a change that may
// alter them.
//
// A Cache stands in front of SpiceDB's PermissionsService: it answers
// CheckPermission from memory when it may, and passes every other call
// through. It never answers a check that asks for more freshness than
// the cache can prove:
//
//   - a check without a ZedToken gets the decision as of the newest
//     change the watch has delivered;
//   - a check with a ZedToken is answered from memory only once the
//     watch has delivered every change up to that token; before that,
//     SpiceDB answers it;
//   - fully consistent and exact-snapshot checks, checks with caveat
//     context and traced checks always go to SpiceDB.
//
// So a caller that revokes access and checks with the revocation's
// ZedToken is never told "allowed" from memory. While the watch is down
// the cache answers nothing from memory.
package decisioncache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"
)

// DefaultMaxEntries bounds the cache unless Config says otherwise.
const DefaultMaxEntries = 1 << 20

// shardCount spreads entries over independently locked maps.
const shardCount = 64

// Config configures a Cache.
type Config struct {
	// Engine answers what the cache cannot: misses, checks it must not
	// answer and every call that is not a check. Required.
	Engine v1.PermissionsServiceClient

	// Watch is the same SpiceDB's watch API. Required.
	Watch v1.WatchServiceClient

	// Revisions, when set, decodes the revisions inside ZedTokens (a
	// SpiceDB datastore does), so that any token can be compared with
	// the watch's position. Without it, only the tokens of changes the
	// watch has delivered are recognized, and a check bringing another
	// token goes to SpiceDB.
	Revisions RevisionParser

	// Local, when set, answers misses in this process instead of
	// through Engine. It must be fully consistent.
	Local LocalChecker

	// MaxEntries bounds the number of decisions kept; zero means
	// DefaultMaxEntries.
	MaxEntries int

	// ScopeByOrganization drops, on a change, only the decisions of the
	// organization the changed relationship belongs to. It relies on
	// the facade's invariant that no relationship links two
	// organizations; a change that breaks it switches the cache back to
	// dropping everything, for good. Leave it off when anything but the
	// facade writes to SpiceDB.
	ScopeByOrganization bool

	// Logger receives watch failures; slog.Default() if nil.
	Logger *slog.Logger
}

// LocalChecker answers a check in this process, fully consistently.
type LocalChecker interface {
	Check(ctx context.Context, req *v1.CheckPermissionRequest) (
		v1.CheckPermissionResponse_Permissionship, error)
}

// Cache is a PermissionsServiceClient that answers checks from memory
// when it may. It is safe for concurrent use.
type Cache struct {
	v1.PermissionsServiceClient

	watch  v1.WatchServiceClient
	local  LocalChecker
	log    *slog.Logger
	shards [shardCount]shard
	perCap int

	revisions *revisionIndex

	// global changes with every change the cache cannot scope; orgs
	// holds one generation per organization. A decision is valid while
	// both generations it was filled under are unchanged.
	global atomic.Uint64
	orgs   sync.Map // organization ID -> *atomic.Uint64
	scoped atomic.Bool

	// watching is set while a watch stream runs or is being started;
	// retryAt (Unix nanoseconds) delays a restart after a failure.
	watching atomic.Bool
	retryAt  atomic.Int64

	// life guards closed, so that no watch starts once Close waits
	// for the running one.
	life   sync.Mutex
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup

	stats counters
}

type shard struct {
	mu      sync.RWMutex
	entries map[string]entry

	// Padding keeps two shards' locks off one cache line.
	_ [64]byte
}

// entry is a decision and the generations it was filled under.
type entry struct {
	permissionship v1.CheckPermissionResponse_Permissionship
	gen            generations
}

// generations are the counters a decision depends on: the global one
// and its organization's.
type generations struct {
	global, org uint64
}

// New returns a cache in front of cfg.Engine. It starts watching with
// the token of the first check it passes to SpiceDB; until then, and
// whenever the watch is down, every check goes to SpiceDB.
func New(cfg Config) (*Cache, error) {
	if cfg.Engine == nil || cfg.Watch == nil {
		return nil, errors.New("decisioncache: Engine and Watch are required")
	}
	maxEntries := cfg.MaxEntries
	if maxEntries == 0 {
		maxEntries = DefaultMaxEntries
	}
	if maxEntries < 0 {
		return nil, errors.New("decisioncache: MaxEntries must not be negative")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		PermissionsServiceClient: cfg.Engine,
		watch:                    cfg.Watch,
		local:                    cfg.Local,
		log:                      log,
		perCap:                   max(1, maxEntries/shardCount),
		revisions:                newRevisionIndex(cfg.Revisions),
		ctx:                      ctx,
		cancel:                   cancel,
	}
	c.scoped.Store(cfg.ScopeByOrganization)
	for i := range c.shards {
		c.shards[i].entries = map[string]entry{}
	}
	return c, nil
}

// Close stops the watch. The cache then passes every check through.
func (c *Cache) Close() error {
	c.life.Lock()
	c.closed = true
	c.life.Unlock()

	c.cancel()
	c.done.Wait()
	c.revisions.reset()
	return nil
}

// CheckPermission answers from memory when the request allows it and a
// valid decision is kept, and otherwise asks SpiceDB.
func (c *Cache) CheckPermission(
	ctx context.Context, req *v1.CheckPermissionRequest, opts ...grpc.CallOption,
) (*v1.CheckPermissionResponse, error) {
	if !cacheable(req) {
		c.stats.bypasses.Add(1)
		return c.passThrough(ctx, req, opts)
	}

	pos := c.revisions.current()
	if pos == nil || !c.revisions.covers(pos, req.GetConsistency()) {
		c.stats.bypasses.Add(1)
		return c.passThrough(ctx, req, opts)
	}

	// A scoped cache keeps only decisions it can tie to an
	// organization: a change elsewhere would not drop them.
	org, known := objectOrganization(req.GetResource())
	if c.scoped.Load() && (!known || org == "") {
		c.stats.bypasses.Add(1)
		return c.passThrough(ctx, req, opts)
	}

	key := cacheKey(req)
	s := &c.shards[shardOf(key)]
	gen := generations{
		global: c.global.Load(),
		org:    c.orgGeneration(org).Load(),
	}

	s.mu.RLock()
	e, ok := s.entries[key]
	s.mu.RUnlock()
	if ok && e.gen == gen {
		// Every change up to the watch's position has been applied to
		// the generations, and none touched this decision since it was
		// filled: it holds at that position.
		c.stats.hits.Add(1)
		return &v1.CheckPermissionResponse{
			CheckedAt:      pos.token,
			Permissionship: e.permissionship,
		}, nil
	}

	c.stats.misses.Add(1)
	return c.fill(ctx, req, opts, s, key, pos, gen)
}

// fill asks for the newest decision and keeps it under the generations
// read before asking: a change delivered meanwhile makes it invalid at
// once. The answer is fully consistent, so it is at least as fresh as
// every change the watch has delivered, and as any token a caller holds.
func (c *Cache) fill(
	ctx context.Context, req *v1.CheckPermissionRequest,
	opts []grpc.CallOption, s *shard, key string, pos *position,
	gen generations,
) (*v1.CheckPermissionResponse, error) {
	var resp *v1.CheckPermissionResponse
	if c.local != nil {
		p, err := c.local.Check(ctx, req)
		if err != nil {
			return nil, err
		}
		// The local answer has no revision of its own; it is at least
		// as fresh as the watch's position.
		resp = &v1.CheckPermissionResponse{CheckedAt: pos.token, Permissionship: p}
	} else {
		fresh := cloneWithConsistency(req, fullyConsistent)
		var err error
		resp, err = c.PermissionsServiceClient.CheckPermission(ctx, fresh, opts...)
		if err != nil {
			return nil, err
		}
	}

	if !decided(resp.GetPermissionship()) {
		return resp, nil
	}
	s.mu.Lock()
	if len(s.entries) >= c.perCap {
		for k := range s.entries {
			delete(s.entries, k)
			break
		}
	}
	s.entries[key] = entry{permissionship: resp.GetPermissionship(), gen: gen}
	s.mu.Unlock()
	return resp, nil
}

// passThrough asks SpiceDB, and starts the watch from the answer's
// token if none runs.
func (c *Cache) passThrough(
	ctx context.Context, req *v1.CheckPermissionRequest, opts []grpc.CallOption,
) (*v1.CheckPermissionResponse, error) {
	resp, err := c.PermissionsServiceClient.CheckPermission(ctx, req, opts...)
	if err != nil {
		return nil, err
	}
	c.startWatch(resp.GetCheckedAt())
	return resp, nil
}

// orgGeneration returns the generation counter of org. Unscoped, every
// change is global and "" stands for all organizations.
func (c *Cache) orgGeneration(org string) *atomic.Uint64 {
	if g, ok := c.orgs.Load(org); ok {
		return g.(*atomic.Uint64)
	}
	g, _ := c.orgs.LoadOrStore(org, new(atomic.Uint64))
	return g.(*atomic.Uint64)
}

// cacheable reports whether a decision for req may be kept and served:
// no caveat context, no trace, and a consistency the cache can honour.
func cacheable(req *v1.CheckPermissionRequest) bool {
	if req.GetContext() != nil || req.GetWithTracing() {
		return false
	}
	switch req.GetConsistency().GetRequirement().(type) {
	case nil, *v1.Consistency_MinimizeLatency, *v1.Consistency_AtLeastAsFresh:
		return true
	}
	return false
}

// decided reports whether p is a plain yes or no; a conditional answer
// depends on context and is never kept.
func decided(p v1.CheckPermissionResponse_Permissionship) bool {
	return p == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION ||
		p == v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
}

var fullyConsistent = &v1.Consistency{
	Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
}

func cloneWithConsistency(
	req *v1.CheckPermissionRequest, c *v1.Consistency,
) *v1.CheckPermissionRequest {
	return &v1.CheckPermissionRequest{
		Consistency: c,
		Resource:    req.GetResource(),
		Permission:  req.GetPermission(),
		Subject:     req.GetSubject(),
	}
}

// cacheKey names a check by everything that decides its answer.
func cacheKey(req *v1.CheckPermissionRequest) string {
	r, s := req.GetResource(), req.GetSubject()
	var b strings.Builder
	b.Grow(len(r.GetObjectType()) + len(r.GetObjectId()) +
		len(req.GetPermission()) + len(s.GetObject().GetObjectType()) +
		len(s.GetObject().GetObjectId()) + len(s.GetOptionalRelation()) + 5)
	b.WriteString(r.GetObjectType())
	b.WriteByte(0)
	b.WriteString(r.GetObjectId())
	b.WriteByte(0)
	b.WriteString(req.GetPermission())
	b.WriteByte(0)
	b.WriteString(s.GetObject().GetObjectType())
	b.WriteByte(0)
	b.WriteString(s.GetObject().GetObjectId())
	b.WriteByte(0)
	b.WriteString(s.GetOptionalRelation())
	return b.String()
}

// shardOf hashes a key (FNV-1a) to a shard.
func shardOf(key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// Stats counts what the cache did since it was made.
type Stats struct {
	// Hits were answered from memory; Misses were asked and kept;
	// Bypasses went to SpiceDB because the cache could not answer them.
	Hits, Misses, Bypasses uint64

	// Invalidations counts the changes that dropped decisions.
	Invalidations uint64

	// Serving is true while the watch runs and checks may be answered
	// from memory.
	Serving bool
}

type counters struct {
	hits, misses, bypasses, invalidations atomic.Uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:          c.stats.hits.Load(),
		Misses:        c.stats.misses.Load(),
		Bypasses:      c.stats.bypasses.Load(),
		Invalidations: c.stats.invalidations.Load(),
		Serving:       c.revisions.current() != nil,
	}
}
