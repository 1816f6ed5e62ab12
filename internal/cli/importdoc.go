package cli

import (
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// importFile is the part of the bootstrap format an import writes.
type importFile struct {
	Organizations []importOrg `yaml:"organizations"`
}

// importOrg lists the members to ensure and, per legacy group, the
// principals to add. Additions never remove anyone, so an assignment made
// while the import runs cannot be lost.
type importOrg struct {
	ID              string              `yaml:"id"`
	Members         []string            `yaml:"members"`
	LegacyAdditions map[string][]string `yaml:"legacy_group_additions"`
}

// importDocument builds the bootstrap document of an import: the rows'
// users as members, and the rows' legacy group assignments as additions.
func importDocument(org string, rows []legacyRow) (string, error) {
	if org == "" {
		return "", fmt.Errorf("--org: the organization ID is empty; " +
			"give it, e.g. --org ab1cd2")
	}

	groups := map[string][]string{}
	var members []string
	for _, r := range rows {
		user := "user:" + r.Email
		members = append(members, user)
		groups[r.Group] = append(groups[r.Group], user)
	}
	for group, added := range groups {
		groups[group] = sortedUnique(added)
	}

	doc := importFile{Organizations: []importOrg{{
		ID:              org,
		Members:         sortedUnique(members),
		LegacyAdditions: groups,
	}}}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("build the import document: %w", err)
	}
	return string(out), nil
}

func sortedUnique(values []string) []string {
	slices.Sort(values)
	return slices.Compact(values)
}
