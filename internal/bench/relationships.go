package bench

import (
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/principal"
)

// The SpiceDB names of the relationships the bulk import writes. They
// are the facade's (internal/iam): TestBulkMatchesFacade proves that an
// organization loaded in bulk reads back exactly like one written
// through the facade.
const (
	typeOrganization = "organization"
	typeGroup        = "group"
	relMember        = "member"
	relOrganization  = "organization"
	relDirectMember  = "direct_member"
	relSubgroup      = "subgroup"
)

// BulkRelationships returns the relationships of the organization that
// the facade would write one by one and that carry no etag: the
// memberships of every user but the first (who creates the
// organization), the groups and their members. Policies and legacy
// groups are left to the facade, which keeps their etags.
func (o *Org) BulkRelationships() []*v1.Relationship {
	orgObject := &v1.ObjectReference{ObjectType: typeOrganization, ObjectId: o.ID}

	out := make([]*v1.Relationship, 0, o.bulkCount())
	for _, u := range o.Users[1:] {
		out = append(out, &v1.Relationship{
			Resource: orgObject,
			Relation: relMember,
			Subject:  o.subject("user:" + u),
		})
	}
	for _, g := range o.Groups {
		group := o.groupObject(g.Name)
		out = append(out, &v1.Relationship{
			Resource: group,
			Relation: relOrganization,
			Subject:  &v1.SubjectReference{Object: orgObject},
		})
		for _, m := range g.Members {
			relation := relDirectMember
			if strings.HasPrefix(m, string(principal.Group)+":") {
				relation = relSubgroup
			}
			out = append(out, &v1.Relationship{
				Resource: group,
				Relation: relation,
				Subject:  o.subject(m),
			})
		}
	}
	return out
}

func (o *Org) bulkCount() int {
	n := len(o.Users) - 1 + len(o.Groups)
	for _, g := range o.Groups {
		n += len(g.Members)
	}
	return n
}

func (o *Org) groupObject(name string) *v1.ObjectReference {
	return &v1.ObjectReference{
		ObjectType: typeGroup,
		ObjectId:   o.ID + "/" + principal.EncodeID(name),
	}
}

// subject turns a generated principal ("user:..." or "group:...") into
// a SpiceDB subject: a group is its member set.
func (o *Org) subject(who string) *v1.SubjectReference {
	kind, id, _ := strings.Cut(who, ":")
	if kind == string(principal.Group) {
		return &v1.SubjectReference{
			Object:           o.groupObject(id),
			OptionalRelation: relMember,
		}
	}
	return &v1.SubjectReference{Object: &v1.ObjectReference{
		ObjectType: kind, ObjectId: principal.EncodeID(id),
	}}
}
