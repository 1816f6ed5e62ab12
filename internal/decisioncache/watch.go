package decisioncache

import (
	"errors"
	"math"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// retryDelay is how long after a watch failure the cache waits before
// watching again; checks go to SpiceDB meanwhile.
const retryDelay = time.Second

// watchKinds asks for relationship changes, schema changes (which may
// change any decision) and checkpoints (which advance the position
// over writes that changed nothing).
var watchKinds = []v1.WatchKind{
	v1.WatchKind_WATCH_KIND_INCLUDE_RELATIONSHIP_UPDATES,
	v1.WatchKind_WATCH_KIND_INCLUDE_SCHEMA_UPDATES,
	v1.WatchKind_WATCH_KIND_INCLUDE_CHECKPOINTS,
}

// startWatch watches from token unless a watch runs already or failed
// less than retryDelay ago.
func (c *Cache) startWatch(token *v1.ZedToken) {
	if token == nil || c.ctx.Err() != nil {
		return
	}
	if time.Now().UnixNano() < c.retryAt.Load() {
		return
	}
	if !c.watching.CompareAndSwap(false, true) {
		return
	}
	c.life.Lock()
	if c.closed {
		c.life.Unlock()
		c.watching.Store(false)
		return
	}
	c.done.Add(1)
	c.life.Unlock()

	// One bulk import is one change: the message can be large.
	stream, err := c.watch.Watch(c.ctx, &v1.WatchRequest{
		OptionalStartCursor: token,
		OptionalUpdateKinds: watchKinds,
	}, grpc.MaxCallRecvMsgSize(math.MaxInt32))
	if err != nil {
		c.watchFailed(err)
		c.done.Done()
		return
	}

	// Every change after token will be delivered: the cache may answer
	// as of token right away.
	if err := c.revisions.advance(token); err != nil {
		c.watchFailed(err)
		c.done.Done()
		return
	}
	go c.follow(stream)
}

// follow applies the watch's changes until it ends.
func (c *Cache) follow(stream grpc.ServerStreamingClient[v1.WatchResponse]) {
	defer c.done.Done()
	for {
		resp, err := stream.Recv()
		if err != nil {
			c.watchFailed(err)
			return
		}
		if err := c.apply(resp); err != nil {
			c.watchFailed(err)
			return
		}
	}
}

// apply invalidates what resp changes, then moves the position. In
// that order: a check that sees the new position must also see the
// invalidations.
func (c *Cache) apply(resp *v1.WatchResponse) error {
	changed := false
	if resp.GetSchemaUpdated() {
		c.global.Add(1)
		changed = true
	}

	bumped := map[string]bool{}
	for _, u := range resp.GetUpdates() {
		changed = true
		org, ok := c.scopeOf(u.GetRelationship())
		switch {
		case !ok:
			c.global.Add(1)
		case !bumped[org]:
			bumped[org] = true
			c.orgGeneration(org).Add(1)
		}
	}
	if changed {
		c.stats.invalidations.Add(1)
	}

	if resp.GetChangesThrough() == nil {
		return errors.New("decisioncache: a watch response carries no revision")
	}
	return c.revisions.advance(resp.GetChangesThrough())
}

// watchFailed stops answering from memory and drops every decision: a
// change may have been missed. The next check SpiceDB answers after
// retryDelay restarts the watch.
func (c *Cache) watchFailed(err error) {
	c.revisions.reset()
	c.global.Add(1)
	c.retryAt.Store(time.Now().Add(retryDelay).UnixNano())
	c.watching.Store(false)

	if c.ctx.Err() == nil && status.Code(err) != codes.Canceled {
		c.log.Warn("decision cache: watch failed; checks go to SpiceDB "+
			"until it restarts", "error", err)
	}
}

// scopeOf returns the organization whose decisions a changed
// relationship may alter, or false when all may change: the cache is not
// scoped, the relationship belongs to no organization it can name, or it
// links two organizations (which also stops scoping for good).
func (c *Cache) scopeOf(r *v1.Relationship) (string, bool) {
	if !c.scoped.Load() {
		return "", false
	}

	res, resOK := objectOrganization(r.GetResource())
	sub, subOK := objectOrganization(r.GetSubject().GetObject())
	if !resOK || !subOK {
		return "", false
	}
	switch {
	case res == "" && sub == "":
		return "", false
	case res == "":
		return sub, true
	case sub == "" || sub == res:
		return res, true
	}

	c.scoped.Store(false)
	c.log.Warn("decision cache: a relationship links two organizations; "+
		"every change now drops every decision",
		"resource", r.GetResource().GetObjectType(),
		"subject", r.GetSubject().GetObject().GetObjectType())
	return "", false
}

// objectOrganization names the organization an object of the facade's
// model belongs to: "" for objects of no organization (users, service
// accounts, the platform, policy versions), false for unknown types.
func objectOrganization(o *v1.ObjectReference) (string, bool) {
	switch o.GetObjectType() {
	case "organization":
		return o.GetObjectId(), true
	case "group", "policy", "rule":
		org, _, ok := strings.Cut(o.GetObjectId(), "/")
		return org, ok && org != ""
	case "user", "serviceaccount", "platform", "policy_version":
		return "", true
	}
	return "", false
}
