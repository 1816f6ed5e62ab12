package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/catalog"
)

// upgradeBatch bounds the updates of one write, well under SpiceDB's
// default limit of 1,000.
const upgradeBatch = 500

// firstModelMarker is in the schema of the first model and of the
// transition schema, and nowhere in the current one: a role grant whose
// subject is the organization's members.
const firstModelMarker = ": organization#member"

// needsUpgrade reports whether the stored schema is the first model's,
// or the transition schema left by an upgrade that did not finish.
func needsUpgrade(stored string) bool {
	return strings.Contains(stored, firstModelMarker)
}

// upgradeFirstModel rewrites a datastore written under the first model
// (permissions intersected with membership) into the current one (pure
// unions), in four steps that may each be repeated if one fails:
//
//  1. write catalog.TransitionSchema, which accepts both models'
//     relationships and keeps the intersections;
//  2. delete every rule principal and group member that the first model
//     ignored and the current one would grant: a user or service account
//     that is not a member of the rule's or group's organization, and a
//     group of another organization;
//  3. point every role grant at its rule's own principals;
//  4. move every nested group from direct_member to subgroup.
//
// The caller then writes the current schema, which SpiceDB accepts only
// once no relationship of the first model's shape is left. Step 2 comes
// first so that, once grants point at principals, no principal is left
// that the intersections were hiding. Replicas of the previous version
// must be stopped first: their writes have the first model's shape and
// skip the current model's preconditions.
func (e *Engine) upgradeFirstModel(ctx context.Context, log *slog.Logger) error {
	log.Info("upgrading the stored permission model to pure unions")

	_, err := e.SchemaServiceClient.WriteSchema(ctx,
		&v1.WriteSchemaRequest{Schema: catalog.TransitionSchema()})
	if err != nil {
		return fmt.Errorf("engine: writing the transition schema: %w", err)
	}

	strays, err := e.deleteNonMembers(ctx)
	if err != nil {
		return err
	}
	grants, err := e.rewriteGrants(ctx)
	if err != nil {
		return err
	}
	nestings, err := e.rewriteNestings(ctx)
	if err != nil {
		return err
	}

	log.Info("permission model upgraded", "role_grants", grants,
		"nested_groups", nestings, "non_members_removed", strays)
	return nil
}

// rewriteGrants turns rule:r#grants_x@organization:o#member into
// rule:r#grants_x@rule:r#principal.
func (e *Engine) rewriteGrants(ctx context.Context) (int, error) {
	old, err := e.readAll(ctx, &v1.RelationshipFilter{
		ResourceType: "rule",
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType: "organization",
		},
	})
	if err != nil {
		return 0, err
	}

	var updates []*v1.RelationshipUpdate
	granted := map[string]bool{}
	for _, r := range old {
		if _, ok := catalog.RoleForRelation(r.Relation); !ok {
			return 0, fmt.Errorf("engine: upgrade: unexpected relationship "+
				"rule:%s#%s", r.Resource.ObjectId, r.Relation)
		}
		updates = append(updates, deleteUpdate(r))

		// A rule that granted a role to two organizations' members
		// becomes one grant: a write may not touch it twice.
		key := r.Resource.ObjectId + "#" + r.Relation
		if granted[key] {
			continue
		}
		granted[key] = true
		updates = append(updates, touchUpdate(&v1.Relationship{
			Resource: r.Resource,
			Relation: r.Relation,
			Subject: &v1.SubjectReference{
				Object: r.Resource, OptionalRelation: "principal",
			},
		}))
	}
	return len(old), e.writeBatches(ctx, updates)
}

// rewriteNestings turns group:g#direct_member@group:h#member into
// group:g#subgroup@group:h#member.
func (e *Engine) rewriteNestings(ctx context.Context) (int, error) {
	old, err := e.readAll(ctx, &v1.RelationshipFilter{
		ResourceType:     "group",
		OptionalRelation: "direct_member",
		OptionalSubjectFilter: &v1.SubjectFilter{
			SubjectType: "group",
		},
	})
	if err != nil {
		return 0, err
	}

	var updates []*v1.RelationshipUpdate
	for _, r := range old {
		nested := &v1.Relationship{
			Resource: r.Resource, Relation: "subgroup", Subject: r.Subject,
		}
		updates = append(updates, deleteUpdate(r), touchUpdate(nested))
	}
	return len(old), e.writeBatches(ctx, updates)
}

// deleteNonMembers deletes the rule principals and direct group members
// that the first model's intersections made harmless: users and service
// accounts of no membership in the rule's or group's organization, and
// groups of another organization.
func (e *Engine) deleteNonMembers(ctx context.Context) (int, error) {
	memberships, err := e.readAll(ctx, &v1.RelationshipFilter{
		ResourceType: "organization", OptionalRelation: "member",
	})
	if err != nil {
		return 0, err
	}
	members := map[string]bool{}
	for _, m := range memberships {
		members[membershipKey(m.Resource.ObjectId, m.Subject.Object)] = true
	}

	var updates []*v1.RelationshipUpdate
	for _, f := range []*v1.RelationshipFilter{
		{ResourceType: "rule", OptionalRelation: "principal"},
		{ResourceType: "group", OptionalRelation: "direct_member"},
	} {
		named, err := e.readAll(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, r := range named {
			org, ok := scopeOf(r.Resource.ObjectId)
			if !ok {
				return 0, fmt.Errorf("engine: upgrade: %s:%s belongs to no "+
					"organization; remove it, then upgrade again",
					r.Resource.ObjectType, r.Resource.ObjectId)
			}
			if !belongs(org, r.Subject.Object, members) {
				updates = append(updates, deleteUpdate(r))
			}
		}
	}
	return len(updates), e.writeBatches(ctx, updates)
}

// belongs reports whether subject may be named in org: a member of it,
// or one of its groups.
func belongs(org string, subject *v1.ObjectReference, members map[string]bool) bool {
	if subject.ObjectType == "group" {
		owner, ok := scopeOf(subject.ObjectId)
		return ok && owner == org
	}
	return members[membershipKey(org, subject)]
}

// scopeOf returns the organization that scopes a group, policy or rule
// ID ("ab1cd2/..."), or false for an ID with no scope.
func scopeOf(id string) (string, bool) {
	org, _, ok := strings.Cut(id, "/")
	return org, ok && org != ""
}

func membershipKey(org string, who *v1.ObjectReference) string {
	return org + " " + who.ObjectType + ":" + who.ObjectId
}

// readAll reads every relationship matching f, fully consistently.
func (e *Engine) readAll(
	ctx context.Context, f *v1.RelationshipFilter,
) ([]*v1.Relationship, error) {
	stream, err := e.PermissionsServiceClient.ReadRelationships(ctx,
		&v1.ReadRelationshipsRequest{
			Consistency: &v1.Consistency{
				Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
			},
			RelationshipFilter: f,
		})
	if err != nil {
		return nil, fmt.Errorf("engine: upgrade: reading %s: %w", f.ResourceType, err)
	}

	var out []*v1.Relationship
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("engine: upgrade: reading %s: %w",
				f.ResourceType, err)
		}
		out = append(out, resp.Relationship)
	}
}

// writeBatches applies updates in writes of at most upgradeBatch. Should
// a deletion and its replacement land in two writes, the permission
// they carry is missing in between, never widened.
func (e *Engine) writeBatches(
	ctx context.Context, updates []*v1.RelationshipUpdate,
) error {
	for start := 0; start < len(updates); start += upgradeBatch {
		end := min(start+upgradeBatch, len(updates))
		_, err := e.PermissionsServiceClient.WriteRelationships(ctx,
			&v1.WriteRelationshipsRequest{Updates: updates[start:end]})
		if err != nil {
			return fmt.Errorf("engine: upgrade: writing: %w", err)
		}
	}
	return nil
}

func deleteUpdate(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{
		Operation: v1.RelationshipUpdate_OPERATION_DELETE, Relationship: r,
	}
}

func touchUpdate(r *v1.Relationship) *v1.RelationshipUpdate {
	return &v1.RelationshipUpdate{
		Operation: v1.RelationshipUpdate_OPERATION_TOUCH, Relationship: r,
	}
}
