package catalog

import (
	"fmt"
	"strings"
)

// MarkdownTable renders the role catalog as the README's table: each
// role's display name, ID, included roles and console actions, then the
// legacy groups.
func MarkdownTable() string {
	var b strings.Builder

	b.WriteString("| Role | ID | Includes | Console actions |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, r := range roles {
		includes := "—"
		if len(r.Includes) > 0 {
			includes = "`" + strings.Join(r.Includes, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | `%s` |\n",
			r.Name, r.ID, includes, strings.Join(r.Actions, "`, `"))
	}

	b.WriteString("\n| Legacy group | Default policy | Roles |\n")
	b.WriteString("| --- | --- | --- |\n")
	for _, g := range legacyGroups {
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` |\n",
			g.Name, DefaultPolicyID(g.Name), strings.Join(g.Roles, "`, `"))
	}
	return b.String()
}

// DefaultPolicyPrefix starts the ID of every default policy; caller-chosen
// policy IDs may not use it.
const DefaultPolicyPrefix = "legacy-"

// DefaultPolicyID is the ID of the default policy of a legacy group.
func DefaultPolicyID(legacyGroup string) string {
	return DefaultPolicyPrefix + legacyGroup
}
