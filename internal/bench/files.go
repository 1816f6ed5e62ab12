package bench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/gpucloud/iam/internal/bench/workload"
	"github.com/gpucloud/iam/internal/bootstrap"
)

// partBudget is the size a bootstrap part aims at, well under
// bootstrap.MaxDocumentSize so that estimates may be off.
const partBudget = 3 << 20

// Manifest describes the files WriteFiles wrote.
type Manifest struct {
	Spec          Spec     `json:"spec"`
	Organization  string   `json:"organization"`
	Users         int      `json:"users"`
	Groups        int      `json:"groups"`
	Policies      int      `json:"policies"`
	Relationships int      `json:"bulk_relationships"`
	Checks        int      `json:"checks"`
	Bootstrap     []string `json:"bootstrap_parts"`
	Files         []string `json:"files"`
}

// WriteFiles writes the organization into dir, which it creates:
//
//   - bootstrap-NNN.yaml: organization files, each under the size
//     iamd accepts, to apply in order with `iamctl apply` (slow at
//     large sizes: one write per member);
//   - relationships.csv: the relationships the bulk import writes;
//   - facade.yaml: what the facade writes after the bulk import (the
//     organization, legacy groups and policies);
//   - checks.csv: the check workload, for `iamctl bench --checks`;
//   - manifest.json: this Manifest.
func (o *Org) WriteFiles(dir string) (Manifest, error) {
	m := Manifest{
		Spec: o.Spec, Organization: o.ID, Users: len(o.Users),
		Groups: len(o.Groups), Policies: len(o.Policies),
		Checks: len(o.Checks),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return m, fmt.Errorf("bench: creating %s: %w", dir, err)
	}

	for i, part := range o.bootstrapParts() {
		name := fmt.Sprintf("bootstrap-%03d.yaml", i+1)
		if err := writeYAML(filepath.Join(dir, name), part); err != nil {
			return m, err
		}
		m.Bootstrap = append(m.Bootstrap, name)
	}

	facade := o.Document()
	facade.Organizations[0].Members = nil
	facade.Organizations[0].Groups = nil
	if err := writeYAML(filepath.Join(dir, "facade.yaml"), facade); err != nil {
		return m, err
	}

	n, err := o.writeRelationshipsCSV(filepath.Join(dir, "relationships.csv"))
	if err != nil {
		return m, err
	}
	m.Relationships = n
	if err := o.writeChecksCSV(filepath.Join(dir, "checks.csv")); err != nil {
		return m, err
	}

	m.Files = append(append([]string{}, m.Bootstrap...),
		"facade.yaml", "relationships.csv", "checks.csv", "manifest.json")
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	err = os.WriteFile(filepath.Join(dir, "manifest.json"), append(data, '\n'), 0o644)
	return m, err
}

// bootstrapParts splits the organization file into parts that each fit
// iamd's limit: members first, then groups level by level (so that a
// nested group exists before it is named), then legacy groups and
// policies. Each group sits whole in one part, as a part sets a
// group's members exactly.
func (o *Org) bootstrapParts() []*bootstrap.Document {
	full := o.Document().Organizations[0]
	var parts []bootstrap.Organization
	cur := bootstrap.Organization{ID: o.ID, FirstUser: full.FirstUser}
	size := 0
	flush := func() {
		parts = append(parts, cur)
		cur = bootstrap.Organization{ID: o.ID}
		size = 0
	}

	for _, m := range full.Members {
		if size+len(m)+16 > partBudget {
			flush()
		}
		cur.Members = append(cur.Members, m)
		size += len(m) + 16
	}
	for _, g := range full.Groups {
		cost := len(g.Name) + 64
		for _, m := range g.Members {
			cost += len(m) + 16
		}
		if size+cost > partBudget && size > 0 {
			flush()
		}
		cur.Groups = append(cur.Groups, g)
		size += cost
	}
	cur.LegacyGroups = full.LegacyGroups
	cur.Policies = full.Policies
	parts = append(parts, cur)

	docs := make([]*bootstrap.Document, len(parts))
	for i := range parts {
		docs[i] = &bootstrap.Document{
			Organizations: []bootstrap.Organization{parts[i]},
		}
	}
	return docs
}

func writeYAML(path string, doc *bootstrap.Document) error {
	data, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("bench: encoding %s: %w", path, err)
	}
	if len(data) > bootstrap.MaxDocumentSize {
		return fmt.Errorf("bench: %s is %d bytes, over iamd's limit of %d; "+
			"this is a bug of the splitter", path, len(data), bootstrap.MaxDocumentSize)
	}
	return os.WriteFile(path, data, 0o644)
}

func (o *Org) writeRelationshipsCSV(path string) (int, error) {
	rels := o.BulkRelationships()
	rows := [][]string{{
		"resource_type", "resource_id", "relation",
		"subject_type", "subject_id", "subject_relation",
	}}
	for _, r := range rels {
		rows = append(rows, []string{
			r.GetResource().GetObjectType(), r.GetResource().GetObjectId(),
			r.GetRelation(),
			r.GetSubject().GetObject().GetObjectType(),
			r.GetSubject().GetObject().GetObjectId(),
			r.GetSubject().GetOptionalRelation(),
		})
	}
	return len(rels), writeCSV(path, rows)
}

func (o *Org) writeChecksCSV(path string) error {
	if err := workload.WriteChecks(path, o.Checks); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

func writeCSV(path string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		_ = f.Close()
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	return f.Close()
}
