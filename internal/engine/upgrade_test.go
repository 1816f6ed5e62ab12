package engine_test

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/tuple"
	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/schema"
)

// firstModelData is an organization as the first model stored it: role
// grants to the organization's members (one also to another
// organization's), a nested group in direct_member, and a rule and a
// group still naming a principal whose membership ended and a group of
// another organization (harmless under that model's intersections).
var firstModelData = []string{
	"organization:ab1cd2#member@user:alice",
	"organization:ab1cd2#member@user:nested",
	"organization:ab1cd2#member@serviceaccount:bot",
	"organization:ff00ff#member@user:spy",
	"group:ff00ff/spies#organization@organization:ff00ff",
	"group:ff00ff/spies#direct_member@user:spy",
	"group:ab1cd2/eng#organization@organization:ab1cd2",
	"group:ab1cd2/eng#direct_member@user:alice",
	"group:ab1cd2/eng#direct_member@user:gone",
	"group:ab1cd2/eng#direct_member@group:ab1cd2/sre#member",
	"group:ab1cd2/sre#organization@organization:ab1cd2",
	"group:ab1cd2/sre#direct_member@user:nested",
	"organization:ab1cd2#policy@policy:ab1cd2/p",
	"policy:ab1cd2/p#organization@organization:ab1cd2",
	"policy:ab1cd2/p#rule@rule:ab1cd2/p/0",
	"rule:ab1cd2/p/0#principal@group:ab1cd2/eng#member",
	"rule:ab1cd2/p/0#principal@user:gone",
	"rule:ab1cd2/p/0#principal@serviceaccount:bot",
	"rule:ab1cd2/p/0#principal@group:ff00ff/spies#member",
	"rule:ab1cd2/p/0#grants_cks_admin@organization:ab1cd2#member",
	"rule:ab1cd2/p/0#grants_cks_admin@organization:ff00ff#member",
	"rule:ab1cd2/p/0#grants_billing_viewer@organization:ab1cd2#member",
}

// upgradedData is what the upgrade leaves of firstModelData.
var upgradedData = []string{
	"group:ab1cd2/eng#direct_member@user:alice",
	"group:ab1cd2/eng#organization@organization:ab1cd2",
	"group:ab1cd2/eng#subgroup@group:ab1cd2/sre#member",
	"group:ab1cd2/sre#direct_member@user:nested",
	"group:ab1cd2/sre#organization@organization:ab1cd2",
	"group:ff00ff/spies#direct_member@user:spy",
	"group:ff00ff/spies#organization@organization:ff00ff",
	"organization:ab1cd2#member@serviceaccount:bot",
	"organization:ab1cd2#member@user:alice",
	"organization:ab1cd2#member@user:nested",
	"organization:ab1cd2#policy@policy:ab1cd2/p",
	"organization:ff00ff#member@user:spy",
	"policy:ab1cd2/p#organization@organization:ab1cd2",
	"policy:ab1cd2/p#rule@rule:ab1cd2/p/0",
	"rule:ab1cd2/p/0#grants_billing_viewer@rule:ab1cd2/p/0#principal",
	"rule:ab1cd2/p/0#grants_cks_admin@rule:ab1cd2/p/0#principal",
	"rule:ab1cd2/p/0#principal@group:ab1cd2/eng#member",
	"rule:ab1cd2/p/0#principal@serviceaccount:bot",
}

// decisions are the same before and after the upgrade.
var decisions = []struct {
	subject string
	allowed bool
}{
	{"user:alice", true},
	{"user:nested", true},
	{"serviceaccount:bot", true},
	{"user:gone", false},
	{"user:spy", false},
	{"user:stranger", false},
}

func TestUpgradeModelRewritesTheFirstModel(t *testing.T) {
	ctx := t.Context()
	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	first, err := os.ReadFile("testdata/first-model.zed")
	require.NoError(t, err)
	_, err = e.SchemaServiceClient.WriteSchema(ctx,
		&v1.WriteSchemaRequest{Schema: string(first)})
	require.NoError(t, err)
	write(t, e, firstModelData)
	requireDecisions(t, e)

	// An ordinary start refuses the datastore and changes nothing.
	err = e.WriteSchema(ctx)
	require.ErrorIs(t, err, engine.ErrFirstModel)
	require.ErrorContains(t, err, "--upgrade-model")
	requireDecisions(t, e)

	require.NoError(t, e.UpgradeModel(ctx, slog.Default()))

	requireCurrentSchema(t, e)
	require.Equal(t, upgradedData, readEverything(t, e))
	requireDecisions(t, e)

	// Later starts find nothing to do.
	require.NoError(t, e.WriteSchema(ctx))
	require.NoError(t, e.UpgradeModel(ctx, slog.Default()))
	require.Equal(t, upgradedData, readEverything(t, e))
}

// TestUpgradeModelResumes starts from the transition schema, as
// an upgrade stopped half-way leaves it.
func TestUpgradeModelResumes(t *testing.T) {
	ctx := t.Context()
	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	_, err = e.SchemaServiceClient.WriteSchema(ctx,
		&v1.WriteSchemaRequest{Schema: catalog.TransitionSchema()})
	require.NoError(t, err)
	write(t, e, firstModelData)
	write(t, e, []string{"rule:ab1cd2/p/0#grants_iam_viewer@rule:ab1cd2/p/0#principal"})
	requireDecisions(t, e)

	require.NoError(t, e.UpgradeModel(ctx, slog.Default()))
	requireCurrentSchema(t, e)
	require.Contains(t, readEverything(t, e),
		"rule:ab1cd2/p/0#grants_iam_viewer@rule:ab1cd2/p/0#principal")
	require.NotContains(t, readEverything(t, e), "rule:ab1cd2/p/0#principal@user:gone")
	requireDecisions(t, e)
}

func TestWriteSchemaOnANewDatastore(t *testing.T) {
	ctx := t.Context()
	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	require.NoError(t, e.WriteSchema(ctx))
	require.NoError(t, e.WriteSchema(ctx))
	requireCurrentSchema(t, e)
}

// requireCurrentSchema compares the stored schema's definitions with
// schema.Text's: SpiceDB gives a schema back reformatted.
func requireCurrentSchema(t *testing.T, e *engine.Engine) {
	t.Helper()
	stored, err := e.SchemaServiceClient.ReadSchema(t.Context(), &v1.ReadSchemaRequest{})
	require.NoError(t, err)
	require.Equal(t, definitions(schema.Text), definitions(stored.GetSchemaText()))
}

// definitions lists a schema's relation and permission lines, trimmed.
func definitions(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "relation ") || strings.HasPrefix(line, "permission ") {
			out = append(out, line)
		}
	}
	sort.Strings(out)
	return out
}

func write(t *testing.T, e *engine.Engine, rels []string) {
	t.Helper()
	var updates []*v1.RelationshipUpdate
	for _, s := range rels {
		updates = append(updates, &v1.RelationshipUpdate{
			Operation:    v1.RelationshipUpdate_OPERATION_TOUCH,
			Relationship: tuple.ToV1Relationship(tuple.MustParse(s)),
		})
	}
	_, err := e.PermissionsServiceClient.WriteRelationships(t.Context(),
		&v1.WriteRelationshipsRequest{Updates: updates})
	require.NoError(t, err)
}

func requireDecisions(t *testing.T, e *engine.Engine) {
	t.Helper()
	for _, d := range decisions {
		kind, id, _ := strings.Cut(d.subject, ":")
		resp, err := e.PermissionsServiceClient.CheckPermission(t.Context(),
			&v1.CheckPermissionRequest{
				Consistency: &v1.Consistency{
					Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
				},
				Resource:   &v1.ObjectReference{ObjectType: "organization", ObjectId: "ab1cd2"},
				Permission: "cks_clusters_delete",
				Subject: &v1.SubjectReference{
					Object: &v1.ObjectReference{ObjectType: kind, ObjectId: id},
				},
			})
		require.NoError(t, err)
		allowed := resp.Permissionship ==
			v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
		require.Equal(t, d.allowed, allowed, d.subject)
	}
}

func readEverything(t *testing.T, e *engine.Engine) []string {
	t.Helper()
	var out []string
	for _, typ := range []string{"organization", "group", "policy", "rule"} {
		stream, err := e.PermissionsServiceClient.ReadRelationships(t.Context(),
			&v1.ReadRelationshipsRequest{
				Consistency: &v1.Consistency{
					Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true},
				},
				RelationshipFilter: &v1.RelationshipFilter{ResourceType: typ},
			})
		require.NoError(t, err)
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			out = append(out, tuple.MustV1RelString(resp.Relationship))
		}
	}
	sort.Strings(out)
	return out
}
