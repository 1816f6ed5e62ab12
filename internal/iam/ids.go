package iam

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/principal"
)

// Limits on what one request may hold. They keep every write within
// SpiceDB's per-call limits and every document readable by a person.
const (
	MaxPolicyIDLength    = 63
	MaxDescriptionLength = 1024
	MaxRulesPerPolicy    = 100
	MaxPrincipalsPerRule = 100
	MaxBulkChecks        = 500
	MaxGroupNestingDepth = 8
	MaxGroupNameLength   = 128

	// MaxUpdatesPerWrite is SpiceDB's default per-call update limit:
	// a larger write would be refused by the engine with a less
	// helpful message.
	MaxUpdatesPerWrite = 1000
)

var (
	orgIDPattern    = regexp.MustCompile(`^[0-9a-f]{6}$`)
	policyIDPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$`)
)

// ValidateOrgID checks a six-character lowercase hex organization ID.
func ValidateOrgID(field, org string) error {
	if !orgIDPattern.MatchString(org) {
		return iamerr.Invalid(field, org,
			"an organization ID is six lowercase hex characters",
			"use an ID such as \"ab1cd2\"")
	}
	return nil
}

// ValidatePolicyID checks a caller-chosen policy ID.
func ValidatePolicyID(field, id string) error {
	switch {
	case id == "":
		return iamerr.Invalid(field, id, "a policy ID is required",
			"choose an ID such as \"cks-operators\"")
	case len(id) > MaxPolicyIDLength:
		return iamerr.Invalid(field, id,
			fmt.Sprintf("the ID is %d bytes long", len(id)),
			fmt.Sprintf("use at most %d", MaxPolicyIDLength))
	case !policyIDPattern.MatchString(id):
		return iamerr.Invalid(field, id,
			"a policy ID uses lowercase letters, digits, '-' and '_', "+
				"starting and ending with a letter or digit",
			"rename it, e.g. \""+suggestPolicyID(id)+"\"")
	}
	return nil
}

func suggestPolicyID(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-_")
	if s == "" {
		return "my-policy"
	}
	return s
}

// ValidateGroupName checks a group's name within its organization.
func ValidateGroupName(field, name string) error {
	if err := principal.ValidateID(field, name); err != nil {
		return err
	}
	if strings.Contains(name, "#") {
		return iamerr.Invalid(field, name,
			"a group name cannot contain '#', which separates relations "+
				"in the relationship text form", "rename the group")
	}
	if len(name) > MaxGroupNameLength {
		return iamerr.Invalid(field, name,
			fmt.Sprintf("the name is %d bytes long", len(name)),
			fmt.Sprintf("use at most %d", MaxGroupNameLength))
	}
	return nil
}

// The SpiceDB object types of the model.
const (
	typeOrganization  = "organization"
	typePlatform      = "platform"
	typeGroup         = "group"
	typePolicy        = "policy"
	typeRule          = "rule"
	typePolicyVersion = "policy_version"
	typeUser          = string(principal.User)
	typeServiceAcct   = string(principal.ServiceAccount)

	platformID = "iam"

	relMember         = "member"
	relPlatform       = "platform"
	relPolicy         = "policy"
	relOrganization   = "organization"
	relDirectMember   = "direct_member"
	relSubgroup       = "subgroup"
	relRule           = "rule"
	relPrincipal      = "principal"
	relVersion        = "version"
	relNestingVersion = "nesting_version"

	metadataCaveat = "policy_metadata"
)

// Object IDs: groups, policies and rules are scoped by their organization,
// so their IDs start with it and a '/'.

func groupObjectID(org, name string) string {
	return org + "/" + principal.EncodeID(name)
}

func policyObjectID(org, id string) string {
	return org + "/" + id
}

func ruleObjectID(org, policyID string, n int) string {
	return fmt.Sprintf("%s/%s/%d", org, policyID, n)
}

func isDefaultPolicyID(id string) bool {
	return strings.HasPrefix(id, catalog.DefaultPolicyPrefix)
}
