package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// index holds lookups derived once from the role and legacy tables.
type index struct {
	roleByID      map[string]*Role
	actionRoles   map[string][]string // action -> IDs of roles granting it
	effective     map[string][]string // role ID -> all actions, sorted
	holders       map[string][]string // role ID -> IDs of roles implying it
	actions       []string            // every action, sorted
	legacyByName  map[string]*LegacyGroup
	roleSpellings map[string]string // normalized spelling -> role ID
}

var idx = buildIndex()

// buildIndex derives the lookups and panics on an inconsistent table: the
// tables are code, so an inconsistency is a bug, never a runtime condition.
func buildIndex() *index {
	ix := &index{
		roleByID:      map[string]*Role{},
		actionRoles:   map[string][]string{},
		effective:     map[string][]string{},
		holders:       map[string][]string{},
		legacyByName:  map[string]*LegacyGroup{},
		roleSpellings: map[string]string{},
	}

	for i := range roles {
		r := &roles[i]
		if _, dup := ix.roleByID[r.ID]; dup {
			panic("catalog: duplicate role " + r.ID)
		}
		ix.roleByID[r.ID] = r
		ix.roleSpellings[normalizeRole(r.ID)] = r.ID
		ix.roleSpellings[normalizeRole(r.Name)] = r.ID
	}

	for _, r := range roles {
		all := map[string]bool{}
		collectActions(ix, r.ID, all, map[string]bool{})
		ix.effective[r.ID] = sortedKeysOf(all)
		for a := range all {
			ix.actionRoles[a] = append(ix.actionRoles[a], r.ID)
		}
		for _, implied := range impliedRoles(ix, r.ID) {
			ix.holders[implied] = append(ix.holders[implied], r.ID)
		}
	}
	ix.actions = sortedKeysOf(ix.actionRoles)

	for i := range legacyGroups {
		g := &legacyGroups[i]
		for _, id := range g.Roles {
			if _, ok := ix.roleByID[id]; !ok {
				panic("catalog: legacy group " + g.Name + " names unknown role " + id)
			}
		}
		ix.legacyByName[g.Name] = g
	}
	return ix
}

// collectActions adds the actions of role id and of every role it includes.
func collectActions(ix *index, id string, into, seen map[string]bool) {
	if seen[id] {
		panic("catalog: role inclusion cycle through " + id)
	}
	seen[id] = true
	defer delete(seen, id)

	r, ok := ix.roleByID[id]
	if !ok {
		panic("catalog: unknown included role " + id)
	}
	for _, a := range r.Actions {
		if err := checkActionShape(a); err != nil {
			panic("catalog: " + err.Error())
		}
		into[a] = true
	}
	for _, inc := range r.Includes {
		collectActions(ix, inc, into, seen)
	}
}

// impliedRoles returns id and every role it includes, transitively.
func impliedRoles(ix *index, id string) []string {
	out := []string{id}
	for _, inc := range ix.roleByID[id].Includes {
		out = append(out, impliedRoles(ix, inc)...)
	}
	return out
}

func checkActionShape(a string) error {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return fmt.Errorf("action %q is not <service>.<resource>.<verb>", a)
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz") != "" {
			return fmt.Errorf("action %q must use lowercase letters only", a)
		}
	}
	return nil
}

// sortedKeysOf returns the keys of m, sorted.
func sortedKeysOf[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// Roles returns every role, in the platform's documentation order.
func Roles() []Role {
	return slices.Clone(roles)
}

// Actions returns every console action, sorted.
func Actions() []string {
	return slices.Clone(idx.actions)
}

// LegacyGroups returns the five legacy groups, in the platform's order.
func LegacyGroups() []LegacyGroup {
	return slices.Clone(legacyGroups)
}

// EffectiveActions returns every action role id grants, including those of
// the roles it includes, sorted. It returns nil for an unknown role.
func EffectiveActions(id string) []string {
	return slices.Clone(idx.effective[id])
}

// RoleNamesGranting returns the display names of the roles that grant
// action, directly or through an included role, in catalog order: what
// a refusal tells the caller to ask for. It is empty, not nil, for an
// unknown action.
func RoleNamesGranting(action string) []string {
	names := []string{}
	for _, id := range idx.actionRoles[action] {
		names = append(names, idx.roleByID[id].Name)
	}
	return names
}

// Grants reports whether role id grants action.
func Grants(id, action string) bool {
	return slices.Contains(idx.effective[id], action)
}
