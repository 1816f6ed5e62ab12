package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
)

func samplePolicy() *iamv1.Policy {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &iamv1.Policy{
		OrganizationId: "ab1cd2",
		PolicyId:       "example-access",
		Description:    "The seed's\texample\nspanning lines",
		Rules: []*iamv1.Rule{
			{
				Principals: []string{"group:eng", "user:a@example.com"},
				Roles:      []string{"cks-admin", "iam-viewer"},
			},
			{Roles: []string{"billing-viewer"}},
		},
		CreateTime: timestamppb.New(created),
		Etag:       "e1",
	}
}

func TestRenderTable(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		draw func(*table)
		want string
	}{
		{
			name: "policy: one row per principal, cells flattened",
			msg:  samplePolicy(),
			draw: func(t *table) { policyTable(t, samplePolicy()) },
			want: "" +
				"policy:       ab1cd2/example-access\n" +
				"description:  The seed's example spanning lines\n" +
				"default:      no\n" +
				"created:      2026-03-01T12:00:00Z\n" +
				"etag:         e1\n" +
				"\n" +
				"RULE  PRINCIPAL           ROLES\n" +
				"1     group:eng           cks-admin, iam-viewer\n" +
				"1     user:a@example.com\n" +
				"2     -                   billing-viewer\n",
		},
		{
			name: "policy list",
			msg:  &iamv1.ListPoliciesResponse{},
			draw: func(t *table) {
				policiesTable(t, []*iamv1.Policy{
					samplePolicy(),
					{PolicyId: "legacy-read", Default: true},
				})
			},
			want: "" +
				"POLICY          DEFAULT  RULES  PRINCIPALS  DESCRIPTION\n" +
				"example-access  no       2      2           " +
				"The seed's example spanning lines\n" +
				"legacy-read     yes      0      0           -\n",
		},
		{
			name: "empty group",
			msg:  &iamv1.Group{},
			draw: func(t *table) {
				groupTable(t, &iamv1.Group{
					OrganizationId: "ab1cd2", Name: "eng",
				})
			},
			want: "group:  ab1cd2/eng\n\n(no members)\n",
		},
		{
			name: "dry run plan",
			msg:  &iamv1.ApplyResponse{},
			draw: func(t *table) {
				planTable(t, &iamv1.ApplyResponse{
					Plan: []string{"+ member ab1cd2 user:a@example.com"},
				}, true)
			},
			want: "+ member ab1cd2 user:a@example.com\n" +
				"dry run: 1 change planned, nothing written\n",
		},
		{
			name: "applied plan",
			msg:  &iamv1.ApplyResponse{},
			draw: func(t *table) {
				planTable(t, &iamv1.ApplyResponse{
					Plan:    []string{"+ a", "- b"},
					Applied: true,
				}, false)
			},
			want: "+ a\n- b\napplied 2 changes\n",
		},
		{
			name: "nothing to apply",
			msg:  &iamv1.ApplyResponse{},
			draw: func(t *table) {
				planTable(t, &iamv1.ApplyResponse{}, false)
			},
			want: "no changes\n",
		},
		{
			name: "whoami: one action a line",
			msg:  &iamv1.WhoAmIResponse{},
			draw: func(t *table) {
				whoamiTable(t, &iamv1.WhoAmIResponse{
					Principal:      "user:a@example.com",
					OrganizationId: "ab1cd2",
					Roles:          []string{"cks-viewer"},
					Actions:        []string{"cks.clusters.get", "cks.clusters.list"},
				})
			},
			want: "" +
				"principal:     user:a@example.com\n" +
				"organization:  ab1cd2\n" +
				"operator:      no\n" +
				"groups:        -\n" +
				"roles:         cks-viewer\n" +
				"actions:       cks.clusters.get\n" +
				"               cks.clusters.list\n",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, render(&out, formatTable, tt.msg, tt.draw))
			require.Equal(t, tt.want, out.String())
		})
	}
}

func TestRenderJSONAndYAMLShowTheWholeMessage(t *testing.T) {
	p := samplePolicy()
	noTable := func(*table) { t.Fatal("the table form was drawn") }

	var js bytes.Buffer
	require.NoError(t, render(&js, formatJSON, p, noTable))
	var fromJSON map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &fromJSON))

	var ys bytes.Buffer
	require.NoError(t, render(&ys, formatYAML, p, noTable))
	var fromYAML map[string]any
	require.NoError(t, yaml.Unmarshal(ys.Bytes(), &fromYAML))

	// Both use proto field names and show unset fields, so a script
	// can rely on every key being there.
	require.Equal(t, fromJSON, fromYAML)
	require.Equal(t, "example-access", fromJSON["policy_id"])
	require.Equal(t, false, fromJSON["default"])
	require.Equal(t, "2026-03-01T12:00:00Z", fromJSON["create_time"])
	require.Len(t, fromJSON["rules"], 2)

	// Block style, and a string that reads as another type stays a
	// string.
	require.Contains(t, ys.String(), "\npolicy_id: example-access\n")
	require.NotContains(t, ys.String(), "{")

	var ys2 bytes.Buffer
	require.NoError(t, render(&ys2, formatYAML,
		&iamv1.Group{Name: "true", Members: []string{"123"}}, noTable))
	var g map[string]any
	require.NoError(t, yaml.Unmarshal(ys2.Bytes(), &g))
	require.Equal(t, "true", g["name"])
	require.Equal(t, []any{"123"}, g["members"])
}

func TestRenderJSONIsStable(t *testing.T) {
	var first, second bytes.Buffer
	require.NoError(t, render(&first, formatJSON, samplePolicy(), nil))
	require.NoError(t, render(&second, formatJSON, samplePolicy(), nil))
	require.Equal(t, first.String(), second.String())
	require.Contains(t, first.String(), "\n  \"organization_id\": \"ab1cd2\",\n")
}

func TestCheckOutput(t *testing.T) {
	for _, ok := range []string{"table", "json", "yaml"} {
		require.NoError(t, checkOutput(ok))
	}
	err := checkOutput("xml")
	require.EqualError(t, err,
		`--output "xml": unknown format; use table, json or yaml`)
}
