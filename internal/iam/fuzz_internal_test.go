package iam

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/iamerr"
)

// FuzzParseRaw: a raw relationship either parses into one scoped to its
// organization, or is a classified client error. It never panics.
func FuzzParseRaw(f *testing.F) {
	for _, s := range []string{
		"group:ab1cd2/engineering#direct_member@user:a@example.com",
		"group:ab1cd2/engineering#subgroup@group:ab1cd2/x#member",
		"group:ab1cd2/engineering#direct_member@group:ab1cd2/x#member",
		"rule:ab1cd2/p/0#grants_cks_admin@rule:ab1cd2/p/0#principal",
		"organization:ab1cd2#member@serviceaccount:ci",
		"rule:ab1cd2//0#principal@user:a", "#@", ":#@:", "group:ab1cd2/#organization@organization:ab1cd2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseRaw("relationship", "ab1cd2", text)
		if err != nil {
			kind := iamerr.KindOf(err)
			require.Contains(t,
				[]iamerr.Kind{iamerr.InvalidArgument, iamerr.FailedPrecondition},
				kind, err.Error())
			return
		}
		id := p.rel.Resource.ObjectId
		require.True(t, id == "ab1cd2" || strings.HasPrefix(id, "ab1cd2/"), id)
		require.True(t, writableRaw(p.rel.Resource.ObjectType, p.rel.Relation))
		subject := p.rel.Subject.Object
		if subject.ObjectType == typeRule {
			require.Equal(t, id, subject.ObjectId,
				"a rule grants roles to its own principals only")
		}
		if subject.ObjectType == typeGroup {
			require.True(t, strings.HasPrefix(subject.ObjectId, "ab1cd2/"),
				subject.ObjectId)
		}
		if p.rel.Resource.ObjectType == typeGroup {
			require.Equal(t, membershipRelation(p.subject), p.rel.Relation,
				"users in direct_member, groups in subgroup")
		}
	})
}
