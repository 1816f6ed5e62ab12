package catalog

import (
	"fmt"
	"strings"
)

// The SpiceDB names derived from catalog names. SpiceDB relation and
// permission names allow lowercase letters, digits and '_'.

// RolePermission is the permission that holders of role id have, on an
// organization, a policy and a rule: "role_cks_admin".
func RolePermission(id string) string {
	return "role_" + strings.ReplaceAll(id, "-", "_")
}

// RoleRelation is the rule relation that records that the rule assigns
// role id to its own principals: "grants_cks_admin".
func RoleRelation(id string) string {
	return "grants_" + strings.ReplaceAll(id, "-", "_")
}

// ActionPermission is the organization permission for a console action:
// "cks_clusters_create".
func ActionPermission(action string) string {
	return strings.ReplaceAll(action, ".", "_")
}

// RoleForRelation maps a rule relation back to its role ID.
func RoleForRelation(relation string) (string, bool) {
	rest, ok := strings.CutPrefix(relation, "grants_")
	if !ok {
		return "", false
	}
	id := strings.ReplaceAll(rest, "_", "-")
	_, known := idx.roleByID[id]
	// Only the exact relation name: "grants_cks-admin" is not one.
	return id, known && RoleRelation(id) == relation
}

// Schema renders the SpiceDB schema of the permission model. The file
// schema/schema.zed is this output, committed; a test keeps them equal.
func Schema() string {
	return render(false)
}

// TransitionSchema renders the schema that an upgrade from the first
// model (intersections with membership, role grants to
// organization#member, nested groups in direct_member) passes through:
// it accepts the relationships of both models and keeps the first
// model's intersections, so that no check allows more than either model
// would while the relationships are rewritten.
func TransitionSchema() string {
	return render(true)
}

// render writes the schema; transition selects TransitionSchema's.
func render(transition bool) string {
	var b strings.Builder
	w := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteByte('\n')
	}

	w("// Code generated from internal/catalog by `go generate ./...`. DO NOT EDIT.")
	w("//")
	w("// The IAM access policy model. A permission in an organization is the")
	w("// union of the roles that its policies' rules assign to a principal,")
	w("// directly or through groups. Every permission is a pure union, so a")
	w("// check stops at the first grant it finds. Tenant isolation holds by")
	w("// construction: the service writes a principal into an organization's")
	w("// groups and rules only while it is a member, and removes a membership")
	w("// only once nothing in the organization names the principal.")
	w("")
	w("/** user is a person; it belongs to exactly one organization. */")
	w("definition user {}")
	w("")
	w("/** serviceaccount is a non-human principal of one organization. */")
	w("definition serviceaccount {}")
	w("")
	w("/** platform is the singleton that lists every organization. */")
	w("definition platform {}")
	w("")
	w("/** organization is a tenant; its groups and rules name only its members. */")
	w("definition organization {")
	w("    relation platform: platform")
	w("    relation member: user | serviceaccount")
	w("    relation policy: policy")
	w("")
	w("    // nesting_version changes with every group-in-group membership,")
	w("    // so that concurrent nestings cannot together close a cycle.")
	w("    relation nesting_version: policy_version")
	w("")
	gate := ""
	if transition {
		gate = " & member"
	}
	for _, r := range roles {
		p := RolePermission(r.ID)
		w("    permission %s = policy->%s%s", p, p, gate)
	}
	w("")
	for _, r := range roles {
		for _, a := range r.Actions {
			w("    permission %s = %s", ActionPermission(a), RolePermission(r.ID))
		}
	}
	w("}")
	w("")
	w("/**")
	w(" * group is a set of principals of one organization; groups nest.")
	w(" * Nested groups have their own relation, so proving that a user is in")
	w(" * a group reads only that user's rows and the group's subgroups, never")
	w(" * the other members.")
	w(" */")
	w("definition group {")
	w("    relation organization: organization")
	if transition {
		w("    relation direct_member: user | serviceaccount | group#member")
		w("    relation subgroup: group#member")
		w("")
		w("    permission member = (direct_member + subgroup) & organization->member")
	} else {
		w("    relation direct_member: user | serviceaccount")
		w("    relation subgroup: group#member")
		w("")
		w("    permission member = direct_member + subgroup")
	}
	w("}")
	w("")
	w("/**")
	w(" * policy_metadata carries a policy's description and creation time on")
	w(" * its version relationship, so metadata and rules share one write.")
	w(" * It is never part of a permission, so it is never evaluated.")
	w(" */")
	w("caveat policy_metadata(description string, created_at string) {")
	w("    description == description && created_at == created_at")
	w("}")
	w("")
	w("/** policy_version names a policy's etag. */")
	w("definition policy_version {}")
	w("")
	w("/** policy is a set of rules of one organization. */")
	w("definition policy {")
	w("    relation organization: organization")
	w("    relation rule: rule")
	w("    relation version: policy_version with policy_metadata")
	w("")
	for _, r := range roles {
		p := RolePermission(r.ID)
		w("    permission %s = rule->%s", p, p)
	}
	w("}")
	w("")
	w("/**")
	w(" * rule assigns roles to principals. It grants a role by pointing the")
	w(" * role's relation at its own principals (rule:r#grants_x@rule:r#principal),")
	w(" * so only the rules that grant the role a check asks about go on to")
	w(" * their principals.")
	w(" */")
	w("definition rule {")
	w("    relation principal: user | serviceaccount | group#member")
	w("")
	grantee := "rule#principal"
	if transition {
		grantee = "organization#member | rule#principal"
	}
	for _, r := range roles {
		w("    relation %s: %s", RoleRelation(r.ID), grantee)
	}
	w("")
	for _, r := range roles {
		var grants []string
		for _, h := range idx.holders[r.ID] {
			grants = append(grants, RoleRelation(h))
		}
		granted := strings.Join(grants, " + ")
		if transition {
			granted = "principal & (" + granted + ")"
		}
		w("    permission %s = %s", RolePermission(r.ID), granted)
	}
	w("}")
	return b.String()
}
