package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"github.com/stretchr/testify/require"
)

// testSchema nests groups so that a check takes more than one dispatch.
const testSchema = `
definition user {}

definition group {
	relation member: user | group#member
}

definition document {
	relation viewer: user | group#member
	permission view = viewer
}
`

// TestCluster proves the harness on one cluster. The steps share the
// cluster and its data, so they run in order.
func TestCluster(t *testing.T) {
	cluster := StartCluster(t, ClusterOptions{Nodes: 2})
	ctx := t.Context()

	node1, node2 := cluster.Nodes[0], cluster.Nodes[1]
	client1 := node1.Client(t)
	client2 := node2.Client(t)

	_, err := client1.WriteSchema(ctx,
		&v1.WriteSchemaRequest{Schema: testSchema})
	require.NoError(t, err)

	token := write(t, client1, "document:readme#viewer@user:alice")

	t.Run("node 2 reads what node 1 wrote", func(t *testing.T) {
		cases := []struct {
			name    string
			subject string
			want    v1.CheckPermissionResponse_Permissionship
		}{
			{
				name:    "related user",
				subject: "user:alice",
				want:    hasPermission,
			},
			{
				name:    "unrelated user",
				subject: "user:bob",
				want:    noPermission,
			},
		}

		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := check(t.Context(), client2, token,
					"document:readme", tc.subject)
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
			})
		}
	})

	t.Run("nodes dispatch to each other", func(t *testing.T) {
		testDispatch(t, node1, node2, client1, client2)
	})

	t.Run("node 2 answers while node 1 is stopped", func(t *testing.T) {
		require.NoError(t, node1.Stop(ctx))

		_, err := checkWithin(2*time.Second, client1, token,
			"document:readme", "user:alice")
		require.Error(t, err, "a stopped node answered")

		// A dispatch already on its way to node 1 may fail while node 2
		// learns that its peer is gone.
		eventually(t, 30*time.Second, func(ctx context.Context) error {
			return expect(ctx, client2, token,
				"document:readme", "user:alice", hasPermission)
		})

		require.NoError(t, node1.Start(ctx))

		eventually(t, 30*time.Second, func(ctx context.Context) error {
			return expect(ctx, client1, token,
				"document:readme", "user:alice", hasPermission)
		})
	})

	t.Run("relationships survive a PostgreSQL restart", func(t *testing.T) {
		require.NoError(t, cluster.Postgres.Stop(ctx))
		require.NoError(t, cluster.Postgres.Start(ctx))

		// A write after the restart gives a revision that no cache has
		// seen, so the check below reads from PostgreSQL.
		var after *v1.ZedToken
		eventually(t, time.Minute, func(ctx context.Context) error {
			var err error
			after, err = tryWrite(ctx, client2,
				"document:after-restart#viewer@user:carol")
			return err
		})

		err := expect(ctx, client2, after,
			"document:readme", "user:alice", hasPermission)
		require.NoError(t, err)

		found := readViewers(t, client2, "readme")
		require.Equal(t, []string{"alice"}, found)
	})

	t.Run("a disconnected node is unreachable until reconnected", func(t *testing.T) {
		require.NoError(t, node1.Disconnect(ctx))

		_, err := checkWithin(2*time.Second, client1, token,
			"document:readme", "user:alice")
		require.Error(t, err, "a disconnected node answered")

		require.NoError(t, node1.Reconnect(ctx))

		eventually(t, 30*time.Second, func(ctx context.Context) error {
			return expect(ctx, client1, token,
				"document:readme", "user:alice", hasPermission)
		})
	})
}

// testDispatch shows that each node sends part of its checks to the
// other: only node 2 is asked in the first round, yet node 1's
// dispatch API serves calls, and the other way round.
func testDispatch(
	t *testing.T,
	node1, node2 *Node,
	client1, client2 *authzed.Client,
) {
	const docs = 24

	// Distinct documents give distinct dispatch keys, which the
	// consistent-hash balancer spreads over both nodes.
	rels := []string{"group:eng#member@user:dana"}
	for i := range docs {
		rels = append(rels, fmt.Sprintf(
			"document:doc-%d#viewer@group:eng#member", i))
	}

	token := write(t, client1, rels...)

	rounds := []struct {
		name   string
		asked  *authzed.Client
		peer   *Node
		offset int
	}{
		{name: "node 2 to node 1", asked: client2, peer: node1},
		{name: "node 1 to node 2", asked: client1, peer: node2,
			offset: docs / 2},
	}

	for _, round := range rounds {
		t.Run(round.name, func(t *testing.T) {
			ctx := t.Context()

			before, err := round.peer.DispatchesServed(ctx)
			require.NoError(t, err)

			for i := range docs / 2 {
				doc := fmt.Sprintf("document:doc-%d", i+round.offset)
				err := expect(ctx, round.asked, token,
					doc, "user:dana", hasPermission)
				require.NoError(t, err)
			}

			after, err := round.peer.DispatchesServed(ctx)
			require.NoError(t, err)

			t.Logf("%s served %v dispatch calls in this round",
				round.peer.Name(), after-before)
			require.Greater(t, after, before,
				"%s served no dispatch", round.peer.Name())
		})
	}
}

const (
	hasPermission = v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION
	noPermission  = v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION
)

// write touches relationships and returns the token of the write.
func write(t *testing.T, client *authzed.Client, rels ...string) *v1.ZedToken {
	t.Helper()

	token, err := tryWrite(t.Context(), client, rels...)
	require.NoError(t, err)

	return token
}

// tryWrite touches relationships written as resource#relation@subject.
func tryWrite(
	ctx context.Context,
	client *authzed.Client,
	rels ...string,
) (*v1.ZedToken, error) {
	req := &v1.WriteRelationshipsRequest{}

	for _, text := range rels {
		rel, err := parseRelationship(text)
		if err != nil {
			return nil, err
		}

		req.Updates = append(req.Updates, &v1.RelationshipUpdate{
			Operation:    v1.RelationshipUpdate_OPERATION_TOUCH,
			Relationship: rel,
		})
	}

	resp, err := client.WriteRelationships(ctx, req)
	if err != nil {
		return nil, err
	}

	return resp.GetWrittenAt(), nil
}

// check asks whether subject may view resource, at least as fresh as
// token.
func check(
	ctx context.Context,
	client *authzed.Client,
	token *v1.ZedToken,
	resource string,
	subject string,
) (v1.CheckPermissionResponse_Permissionship, error) {
	res, err := parseObject(resource)
	if err != nil {
		return 0, err
	}

	sub, err := parseSubject(subject)
	if err != nil {
		return 0, err
	}

	resp, err := client.CheckPermission(ctx, &v1.CheckPermissionRequest{
		Consistency: &v1.Consistency{
			Requirement: &v1.Consistency_AtLeastAsFresh{
				AtLeastAsFresh: token,
			},
		},
		Resource:   res,
		Permission: "view",
		Subject:    sub,
	})
	if err != nil {
		return 0, err
	}

	return resp.GetPermissionship(), nil
}

// checkWithin is check with a deadline of its own.
func checkWithin(
	timeout time.Duration,
	client *authzed.Client,
	token *v1.ZedToken,
	resource string,
	subject string,
) (v1.CheckPermissionResponse_Permissionship, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()

	return check(ctx, client, token, resource, subject)
}

// expect is check that fails unless the answer is want.
func expect(
	ctx context.Context,
	client *authzed.Client,
	token *v1.ZedToken,
	resource string,
	subject string,
	want v1.CheckPermissionResponse_Permissionship,
) error {
	got, err := check(ctx, client, token, resource, subject)
	if err != nil {
		return fmt.Errorf("check %s view %s: %w", resource, subject, err)
	}

	if got != want {
		return fmt.Errorf("check %s view %s: got %s, want %s",
			resource, subject, got, want)
	}

	return nil
}

// readViewers reads the viewers of a document straight from the
// datastore, fully consistent, bypassing the check caches.
func readViewers(t *testing.T, client *authzed.Client, doc string) []string {
	t.Helper()

	stream, err := client.ReadRelationships(t.Context(),
		&v1.ReadRelationshipsRequest{
			Consistency: &v1.Consistency{
				Requirement: &v1.Consistency_FullyConsistent{
					FullyConsistent: true,
				},
			},
			RelationshipFilter: &v1.RelationshipFilter{
				ResourceType:       "document",
				OptionalResourceId: doc,
				OptionalRelation:   "viewer",
			},
		})
	require.NoError(t, err)

	var viewers []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return viewers
		}

		require.NoError(t, err)

		subject := resp.GetRelationship().GetSubject().GetObject()
		viewers = append(viewers, subject.GetObjectId())
	}
}

// eventually retries try, each time with five seconds, until it
// succeeds or timeout has passed; then it fails the test with the last
// error.
func eventually(
	t *testing.T,
	timeout time.Duration,
	try func(ctx context.Context) error,
) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := try(ctx)
		cancel()

		if err == nil {
			return
		}

		if time.Now().After(deadline) {
			t.Fatalf("still failing after %s: %v", timeout, err)
		}

		time.Sleep(250 * time.Millisecond)
	}
}

// parseRelationship reads "type:id#relation@type:id[#relation]".
func parseRelationship(text string) (*v1.Relationship, error) {
	resource, subject, ok := strings.Cut(text, "@")
	if !ok {
		return nil, fmt.Errorf("relationship %q: no @", text)
	}

	object, relation, ok := strings.Cut(resource, "#")
	if !ok {
		return nil, fmt.Errorf("relationship %q: no #relation", text)
	}

	res, err := parseObject(object)
	if err != nil {
		return nil, err
	}

	sub, err := parseSubject(subject)
	if err != nil {
		return nil, err
	}

	rel := &v1.Relationship{
		Resource: res,
		Relation: relation,
		Subject:  sub,
	}

	return rel, nil
}

// parseSubject reads "type:id" or "type:id#relation".
func parseSubject(text string) (*v1.SubjectReference, error) {
	object, relation, _ := strings.Cut(text, "#")

	ref, err := parseObject(object)
	if err != nil {
		return nil, err
	}

	sub := &v1.SubjectReference{
		Object:           ref,
		OptionalRelation: relation,
	}

	return sub, nil
}

// parseObject reads "type:id".
func parseObject(text string) (*v1.ObjectReference, error) {
	kind, id, ok := strings.Cut(text, ":")
	if !ok || kind == "" || id == "" {
		return nil, fmt.Errorf("object %q: want type:id", text)
	}

	return &v1.ObjectReference{ObjectType: kind, ObjectId: id}, nil
}
