package catalog

import (
	"fmt"
	"strings"

	"github.com/gpucloud/iam/internal/iamerr"
)

// normalizeRole folds the common spellings of a role name ("CKS Admin",
// "cks-admin", "cks_admin", "CKS_ADMIN") to one key.
func normalizeRole(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t'
	}), "-")
}

// maxNameLength bounds the names lookups compare: no role or action name
// is near it, and the suggestion's edit distance costs time quadratic in
// the name's length.
const maxNameLength = 100

func tooLong(field, name, what string) error {
	return iamerr.Invalid(field, name,
		fmt.Sprintf("no %s name is %d bytes long", what, len(name)),
		"`iamctl roles` lists every role and action")
}

// LookupRole looks a role up by any common spelling of its ID or display name.
// An unknown name is an InvalidArgument error that suggests the closest
// role.
func LookupRole(field, name string) (Role, error) {
	if len(name) > maxNameLength {
		return Role{}, tooLong(field, name, "role")
	}
	if id, ok := idx.roleSpellings[normalizeRole(name)]; ok {
		return *idx.roleByID[id], nil
	}
	if strings.TrimSpace(name) == "" {
		return Role{}, iamerr.Invalid(field, name, "a role is required",
			"name one of the roles listed by `iamctl roles`")
	}
	guess := closest(normalizeRole(name), sortedKeysOf(idx.roleByID))
	return Role{}, iamerr.Invalid(field, name, "unknown role",
		"did you mean \""+guess+"\"? `iamctl roles` lists every role")
}

// LookupAction validates a console action name (case-insensitive) and
// returns its canonical form. An unknown action is an InvalidArgument error
// that suggests the closest action.
func LookupAction(field, name string) (string, error) {
	if len(name) > maxNameLength {
		return "", tooLong(field, name, "action")
	}
	a := strings.ToLower(strings.TrimSpace(name))
	if _, ok := idx.actionRoles[a]; ok {
		return a, nil
	}
	if a == "" {
		return "", iamerr.Invalid(field, name, "an action is required",
			"name a console action such as \"cks.clusters.list\"")
	}
	guess := closest(a, idx.actions)
	return "", iamerr.Invalid(field, name, "unknown console action",
		"did you mean \""+guess+"\"? `iamctl roles` lists every action")
}

// LookupLegacyGroup finds a legacy group by name, accepting "-" for "_"
// and any case.
func LookupLegacyGroup(field, name string) (LegacyGroup, error) {
	if len(name) > maxNameLength {
		return LegacyGroup{}, tooLong(field, name, "legacy group")
	}
	key := strings.ReplaceAll(normalizeRole(name), "-", "_")
	if g, ok := idx.legacyByName[key]; ok {
		return *g, nil
	}
	names := sortedKeysOf(idx.legacyByName)
	return LegacyGroup{}, iamerr.Invalid(field, name, "unknown legacy group",
		"use one of "+strings.Join(names, ", ")+
			" (did you mean \""+closest(key, names)+"\"?)")
}

// closest returns the candidate with the smallest edit distance to s.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(s, c)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
