// Package bootstrap reads the declarative organization file that
// `iamd serve --bootstrap` and `iamctl apply` take, and turns it into a
// plan of changes against the service: what to create, add, remove or
// replace so that the organizations match the file. Applying a file a
// second time plans nothing.
package bootstrap

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// MaxDocumentSize is the largest file accepted, in bytes.
const MaxDocumentSize = 4 << 20

// Document is an organization file.
type Document struct {
	Organizations []Organization `yaml:"organizations" json:"organizations"`
}

// Organization declares one organization. Members are added and never
// removed; the listed groups, legacy groups and policies are made to
// match the file exactly; anything not listed is left alone.
type Organization struct {
	ID string `yaml:"id" json:"id"`

	// FirstUser is used only when the organization is created: it gets
	// the legacy admin role set.
	FirstUser string `yaml:"first_user" json:"first_user"`

	Members      []string            `yaml:"members" json:"members"`
	Groups       []Group             `yaml:"groups" json:"groups"`
	LegacyGroups map[string][]string `yaml:"legacy_groups" json:"legacy_groups"`

	// LegacyAdditions lists principals to add to legacy groups, leaving
	// the groups' other principals alone: imports use it, so that they
	// can never remove an assignment made while they ran.
	LegacyAdditions map[string][]string `yaml:"legacy_group_additions" json:"legacy_group_additions"`

	Policies []Policy `yaml:"policies" json:"policies"`
}

// Group declares a group and its exact direct members.
type Group struct {
	Name    string   `yaml:"name" json:"name"`
	Members []string `yaml:"members" json:"members"`
}

// Policy declares a policy and its exact rules.
type Policy struct {
	ID          string `yaml:"id" json:"id"`
	Description string `yaml:"description" json:"description"`
	Rules       []Rule `yaml:"rules" json:"rules"`
}

// Rule assigns roles to principals.
type Rule struct {
	Principals []string `yaml:"principals" json:"principals"`
	Roles      []string `yaml:"roles" json:"roles"`
}

// Parse reads a document (YAML, or JSON, which is YAML) strictly: unknown
// fields, duplicate keys, several documents, invalid UTF-8 and invalid
// names are errors, and nothing is ever half-read.
func Parse(data []byte) (*Document, error) {
	if len(data) > MaxDocumentSize {
		return nil, iamerr.Invalid("document", fmt.Sprintf("%d bytes", len(data)),
			"the document is too large",
			fmt.Sprintf("keep it under %d bytes, or split it", MaxDocumentSize))
	}
	if !utf8.Valid(data) {
		return nil, iamerr.Invalid("document", "", "the document is not valid UTF-8",
			"save it as UTF-8")
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, iamerr.Invalid("document", "", "the document is empty",
				"declare at least one organization")
		}
		return nil, iamerr.Invalid("document", "", yamlProblem(err),
			"fix the document at the line shown")
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, iamerr.Invalid("document", "", "the file holds several YAML documents",
			"put every organization in one document")
	}

	if err := doc.validate(); err != nil {
		return nil, err
	}
	return &doc, nil
}

func yamlProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	return "the document does not parse: " + msg
}

// OrganizationIDs lists the organizations the document names.
func (d *Document) OrganizationIDs() []string {
	ids := make([]string, len(d.Organizations))
	for i, o := range d.Organizations {
		ids[i] = o.ID
	}
	return ids
}

func (d *Document) validate() error {
	if len(d.Organizations) == 0 {
		return iamerr.Invalid("organizations", "", "no organization is declared",
			"declare at least one")
	}
	seen := map[string]bool{}
	for i, o := range d.Organizations {
		field := fmt.Sprintf("organizations[%d]", i)
		if seen[o.ID] {
			return iamerr.Invalid(field+".id", o.ID, "the organization is declared twice",
				"merge the two entries")
		}
		seen[o.ID] = true
		if err := o.validate(field); err != nil {
			return err
		}
	}
	return nil
}

func (o *Organization) validate(field string) error {
	if err := iam.ValidateOrgID(field+".id", o.ID); err != nil {
		return err
	}
	if o.FirstUser != "" {
		if err := validateMember(field+".first_user", o.FirstUser); err != nil {
			return err
		}
	}
	if err := uniquePrincipals(field+".members", o.Members, validateMember); err != nil {
		return err
	}

	groups := map[string]bool{}
	for i, g := range o.Groups {
		gf := fmt.Sprintf("%s.groups[%d]", field, i)
		if err := iam.ValidateGroupName(gf+".name", g.Name); err != nil {
			return err
		}
		if groups[g.Name] {
			return iamerr.Invalid(gf+".name", g.Name, "the group is declared twice",
				"merge the two entries")
		}
		groups[g.Name] = true
		if err := uniquePrincipals(gf+".members", g.Members, validatePrincipal); err != nil {
			return err
		}
	}

	// One legacy group may be spelled several ways ("read", "READ"): it
	// may still be declared only once, in one of the two lists.
	declared := map[string]string{}
	if err := validateLegacy(field+".legacy_groups", o.LegacyGroups, declared); err != nil {
		return err
	}
	err := validateLegacy(field+".legacy_group_additions", o.LegacyAdditions, declared)
	if err != nil {
		return err
	}

	policies := map[string]bool{}
	for i, p := range o.Policies {
		pf := fmt.Sprintf("%s.policies[%d]", field, i)
		if err := validatePolicy(pf, p); err != nil {
			return err
		}
		if policies[p.ID] {
			return iamerr.Invalid(pf+".id", p.ID, "the policy is declared twice",
				"merge the two entries")
		}
		policies[p.ID] = true
	}
	return nil
}

// validateLegacy checks a map of legacy groups; declared maps each
// group's canonical name to where it was declared, across maps.
func validateLegacy(field string, groups map[string][]string, declared map[string]string) error {
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		principals := groups[name]
		lf := field + "." + name
		g, err := catalog.LookupLegacyGroup(lf, name)
		if err != nil {
			return err
		}
		if first, dup := declared[g.Name]; dup {
			return iamerr.Invalid(lf, name,
				"legacy group "+g.Name+" is already declared as "+first,
				"declare each legacy group once")
		}
		declared[g.Name] = lf
		if err := uniquePrincipals(lf, principals, validatePrincipal); err != nil {
			return err
		}
	}
	return nil
}

func validatePolicy(field string, p Policy) error {
	if err := iam.ValidatePolicyID(field+".id", p.ID); err != nil {
		return err
	}
	if strings.HasPrefix(p.ID, catalog.DefaultPolicyPrefix) {
		return iamerr.Invalid(field+".id", p.ID,
			"default policies are declared under legacy_groups",
			"list the principals under legacy_groups, or rename the policy")
	}
	err := iam.ValidateDescription(field+".description", p.Description)
	if err != nil {
		return err
	}
	if _, err := iam.CanonicalRules(toIAMRules(p.Rules)); err != nil {
		return prefixField(field, err)
	}
	return nil
}

// prefixField puts a document path in front of a facade error's field.
func prefixField(prefix string, err error) error {
	var e *iamerr.Error
	if errors.As(err, &e) {
		copied := *e
		copied.Field = prefix + "." + e.Field
		return &copied
	}
	return err
}

func toIAMRules(rules []Rule) []iam.Rule {
	out := make([]iam.Rule, len(rules))
	for i, r := range rules {
		out[i] = iam.Rule{Principals: r.Principals, Roles: r.Roles}
	}
	return out
}

func validateMember(field, s string) error {
	p, err := principal.Parse(field, s)
	if err != nil {
		return err
	}
	if p.Kind == principal.Group {
		return iamerr.Invalid(field, s, "organization members are users and service accounts",
			"declare groups under groups")
	}
	return nil
}

func validatePrincipal(field, s string) error {
	_, err := principal.Parse(field, s)
	return err
}

func uniquePrincipals(field string, list []string, check func(string, string) error) error {
	seen := map[string]bool{}
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := check(f, s); err != nil {
			return err
		}
		p, _ := principal.Parse(f, s)
		if seen[p.String()] {
			return iamerr.Invalid(f, s, "listed twice", "list it once")
		}
		seen[p.String()] = true
	}
	return nil
}
