package iam

import (
	"strconv"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/principal"
)

func itoa(n int) string { return strconv.Itoa(n) }

func object(typ, id string) *v1.ObjectReference {
	return &v1.ObjectReference{ObjectType: typ, ObjectId: id}
}

// subjectOf is the SpiceDB subject for a principal named in org. A group
// is the set of its members.
func subjectOf(org string, p principal.Principal) *v1.SubjectReference {
	switch p.Kind {
	case principal.Group:
		return &v1.SubjectReference{
			Object:           object(typeGroup, groupObjectID(org, p.ID)),
			OptionalRelation: relMember,
		}
	default:
		return &v1.SubjectReference{
			Object: object(string(p.Kind), principal.EncodeID(p.ID)),
		}
	}
}

// relationship builds resource#relation@subject.
func relationship(
	resource *v1.ObjectReference, relation string, subject *v1.SubjectReference,
) *v1.Relationship {
	return &v1.Relationship{
		Resource: resource, Relation: relation, Subject: subject,
	}
}

func subjectObject(typ, id string) *v1.SubjectReference {
	return &v1.SubjectReference{Object: object(typ, id)}
}

func touch(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{
		Operation:    v1.RelationshipUpdate_OPERATION_TOUCH,
		Relationship: r,
	}
}

func create(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{
		Operation:    v1.RelationshipUpdate_OPERATION_CREATE,
		Relationship: r,
	}
}

func remove(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{
		Operation:    v1.RelationshipUpdate_OPERATION_DELETE,
		Relationship: r,
	}
}

// mustMatch and mustNotMatch build write preconditions.
func mustMatch(f *v1.RelationshipFilter) *v1.Precondition {
	return &v1.Precondition{
		Operation: v1.Precondition_OPERATION_MUST_MATCH, Filter: f,
	}
}

func mustNotMatch(f *v1.RelationshipFilter) *v1.Precondition {
	return &v1.Precondition{
		Operation: v1.Precondition_OPERATION_MUST_NOT_MATCH, Filter: f,
	}
}

// exactFilter matches exactly relationship r.
func exactFilter(r *v1.Relationship) *v1.RelationshipFilter {
	f := &v1.RelationshipFilter{
		ResourceType:       r.Resource.ObjectType,
		OptionalResourceId: r.Resource.ObjectId,
		OptionalRelation:   r.Relation,
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType:       r.Subject.Object.ObjectType,
			OptionalSubjectId: r.Subject.Object.ObjectId,
		},
	}
	if r.Subject.OptionalRelation != "" {
		f.OptionalSubjectFilter.OptionalRelation =
			&v1.SubjectFilter_RelationFilter{Relation: r.Subject.OptionalRelation}
	}
	return f
}

// relKey identifies a relationship without its caveat, for diffs.
func relKey(r *v1.Relationship) string {
	return r.Resource.ObjectType + ":" + r.Resource.ObjectId + "#" +
		r.Relation + "@" + r.Subject.Object.ObjectType + ":" +
		r.Subject.Object.ObjectId + "#" + r.Subject.OptionalRelation
}
