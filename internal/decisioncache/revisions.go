package decisioncache

import (
	"sync"
	"sync/atomic"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/zedtoken"
)

// RevisionParser decodes the revision written inside a ZedToken. A
// SpiceDB datastore.Datastore is one.
type RevisionParser interface {
	RevisionFromString(string) (datastore.Revision, error)
}

// seenRevisions is how many delivered revisions are remembered for
// recognizing tokens when no RevisionParser is given.
const seenRevisions = 8192

// position is how far the watch has delivered changes.
type position struct {
	token    *v1.ZedToken
	revision string
	prefix   string

	// parsed is nil without a RevisionParser.
	parsed datastore.Revision
}

// revisionIndex tracks the watch's position and answers whether it has
// reached a caller's token.
type revisionIndex struct {
	parser RevisionParser
	pos    atomic.Pointer[position]

	// seen holds the revisions delivered since the watch started, the
	// newest seenRevisions of them, in ring order.
	mu   sync.Mutex
	seen map[string]bool
	ring []string
	next int
}

func newRevisionIndex(parser RevisionParser) *revisionIndex {
	return &revisionIndex{parser: parser, seen: map[string]bool{}}
}

// current is the watch's position, or nil while the cache must not
// answer from memory.
func (ri *revisionIndex) current() *position {
	return ri.pos.Load()
}

// advance records that every change up to token has been applied. The
// caller must have applied them before calling it.
func (ri *revisionIndex) advance(token *v1.ZedToken) error {
	p, err := ri.decode(token)
	if err != nil {
		return err
	}

	ri.mu.Lock()
	if !ri.seen[p.revision] {
		if len(ri.ring) < seenRevisions {
			ri.ring = append(ri.ring, p.revision)
		} else {
			delete(ri.seen, ri.ring[ri.next])
			ri.ring[ri.next] = p.revision
			ri.next = (ri.next + 1) % seenRevisions
		}
		ri.seen[p.revision] = true
	}
	ri.mu.Unlock()

	ri.pos.Store(p)
	return nil
}

// reset forgets the position: nothing is answered from memory until the
// watch runs again.
func (ri *revisionIndex) reset() {
	ri.pos.Store(nil)
	ri.mu.Lock()
	ri.seen = map[string]bool{}
	ri.ring = nil
	ri.next = 0
	ri.mu.Unlock()
}

// covers reports whether a check at consistency may be answered at pos:
// always without a token, and with one only when the watch has provably
// delivered every change up to it.
func (ri *revisionIndex) covers(pos *position, c *v1.Consistency) bool {
	fresh, ok := c.GetRequirement().(*v1.Consistency_AtLeastAsFresh)
	if !ok {
		return true
	}
	want, err := ri.decode(fresh.AtLeastAsFresh)
	if err != nil || want.prefix != pos.prefix {
		// SpiceDB judges a token it cannot match to this datastore.
		return false
	}
	if want.revision == pos.revision {
		return true
	}
	if want.parsed != nil && pos.parsed != nil {
		return want.parsed.LessThan(pos.parsed) || want.parsed.Equal(pos.parsed)
	}

	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.seen[want.revision]
}

func (ri *revisionIndex) decode(token *v1.ZedToken) (*position, error) {
	decoded, err := zedtoken.Decode(token)
	if err != nil {
		return nil, err
	}
	p := &position{token: token}
	if v := decoded.GetV1(); v != nil {
		p.revision = v.GetRevision()
		p.prefix = v.GetDatastoreUniqueIdPrefix()
	} else {
		// A legacy token: recognized only by its exact revision.
		p.revision = "zookie:" + token.GetToken()
	}

	if ri.parser != nil && decoded.GetV1() != nil {
		parsed, err := ri.parser.RevisionFromString(p.revision)
		if err != nil {
			return nil, err
		}
		p.parsed = parsed
	}
	return p, nil
}
