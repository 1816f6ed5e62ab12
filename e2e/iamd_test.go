package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
)

// The seed example's organization and the principals the steps use.
const (
	seedOrg     = "ab1cd2"
	otherOrg    = "ff00ff"
	engineering = "engineering"
	userA       = "user:user-a@example.com"
	userB       = "user:user-b@example.com"
	noAccess    = "user:no-access@example.com"
	otherAdmin  = "user:other-admin@example.org"

	// viewAction is what a CKS Viewer rule grants.
	viewAction = "cks.clusters.list"

	// durableGroup is the group the restart step writes to. It is not
	// in the seed file: iamd 1 applies that file again when it
	// restarts, which resets the groups the file names.
	durableGroup = "durable"
)

// TestIAMD runs two iamd replicas in remote mode in front of a two-node
// SpiceDB cluster on PostgreSQL, and talks to them only through their
// published ports, as clients would. The steps share the deployment and
// its data, so they run in order.
func TestIAMD(t *testing.T) {
	cluster := StartCluster(t, ClusterOptions{Nodes: 2})
	ctx := t.Context()
	seed, cases := readSeed(t)

	// Both replicas share the operator token and the signing key, so a
	// token minted by one is good at the other. Only one applies the
	// seed, at start.
	secrets := NewIAMDSecrets()

	iamd1, err := cluster.StartIAMD(ctx, IAMDOptions{
		Name:      "iamd-1",
		Secrets:   secrets,
		Bootstrap: seed,
	})
	require.NoError(t, err)

	iamd2, err := cluster.StartIAMD(ctx, IAMDOptions{
		Name:    "iamd-2",
		Secrets: secrets,
	})
	require.NoError(t, err)

	replicas := []*IAMD{iamd1, iamd2}
	op1, op2 := iamd1.Operator(), iamd2.Operator()

	t.Run("iamd 2 sees the seed that iamd 1 applied", func(t *testing.T) {
		resp, err := op2.Apply(ctx, connect.NewRequest(&iamv1.ApplyRequest{
			Document: string(seed),
			DryRun:   true,
		}))
		require.NoError(t, err)
		require.Empty(t, resp.Msg.GetPlan(), "the bootstrap left changes")
	})

	// The write step's token is later than the bootstrap: every check
	// below is at least as fresh as it.
	var token string

	t.Run("a write through iamd 1 is seen by iamd 2", func(t *testing.T) {
		token = testReadYourWrites(t, op1, op2)
	})

	t.Run("the seed example through both replicas", func(t *testing.T) {
		for i, d := range replicas {
			err := checkSeed(ctx, d.Operator(), cases, token)
			require.NoError(t, err, "iamd-%d", i+1)
		}
	})

	t.Run("tokens minted by one replica work at both", func(t *testing.T) {
		testMintedTokens(t, iamd1, iamd2)
	})

	t.Run("checks go on with one SpiceDB node stopped", func(t *testing.T) {
		node := cluster.Nodes[0]
		require.NoError(t, node.Stop(ctx))

		// Each replica may first be connected to the stopped node, and
		// the other node may still dispatch to it, until both notice.
		for i, d := range replicas {
			eventually(t, time.Minute, func(ctx context.Context) error {
				return checkSeed(ctx, d.Operator(), cases, token)
			})

			// Once noticed, every round must pass.
			for round := range 3 {
				err := checkSeed(ctx, d.Operator(), cases, token)
				require.NoError(t, err, "iamd-%d, round %d", i+1, round)
			}
		}

		require.NoError(t, node.Start(ctx))
	})

	t.Run("no acknowledged write is lost across restarts", func(t *testing.T) {
		testRestarts(t, cluster, iamd1, iamd2, cases)
	})

	t.Run("cut off from SpiceDB, checks fail closed", func(t *testing.T) {
		testPartition(t, cluster, replicas, cases, token)
	})
}

// testReadYourWrites writes through one replica and checks through the
// other with the token of the write, both for a grant and for its
// revocation, and returns the last token.
func testReadYourWrites(
	t *testing.T,
	writer, reader iamv1connect.IAMServiceClient,
) string {
	ctx := t.Context()
	who := "user:fresh-" + randomHex(4) + "@example.com"

	_, err := writer.AddMember(ctx, connect.NewRequest(
		&iamv1.AddMemberRequest{OrganizationId: seedOrg, Principal: who}))
	require.NoError(t, err)

	steps := []struct {
		name    string
		write   func() (*iamv1.WriteResult, error)
		allowed bool
	}{
		{
			name: "grant",
			write: func() (*iamv1.WriteResult, error) {
				resp, err := writer.AddGroupMember(ctx, connect.NewRequest(
					&iamv1.AddGroupMemberRequest{
						OrganizationId: seedOrg,
						Group:          engineering,
						Member:         who,
					}))
				return resp.Msg.GetResult(), err
			},
			allowed: true,
		},
		{
			name: "revocation",
			write: func() (*iamv1.WriteResult, error) {
				resp, err := writer.RemoveGroupMember(ctx, connect.NewRequest(
					&iamv1.RemoveGroupMemberRequest{
						OrganizationId: seedOrg,
						Group:          engineering,
						Member:         who,
					}))
				return resp.Msg.GetResult(), err
			},
			allowed: false,
		},
	}

	var token string
	for _, step := range steps {
		result, err := step.write()
		require.NoError(t, err, step.name)

		token = result.GetConsistencyToken()
		require.NotEmpty(t, token, step.name)

		resp, err := reader.Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
			OrganizationId:   seedOrg,
			Principal:        who,
			Action:           viewAction,
			ConsistencyToken: token,
		}))
		require.NoError(t, err, step.name)
		require.Equal(t, step.allowed, resp.Msg.GetAllowed(), step.name)
	}

	return token
}

// testMintedTokens mints tokens at iamd 1 and uses them at iamd 2.
func testMintedTokens(t *testing.T, iamd1, iamd2 *IAMD) {
	ctx := t.Context()

	mint := func(who string) string {
		resp, err := iamd1.Operator().MintToken(ctx, connect.NewRequest(
			&iamv1.MintTokenRequest{Principal: who, TtlSeconds: 600}))
		require.NoError(t, err)
		require.NotEmpty(t, resp.Msg.GetToken())

		return resp.Msg.GetToken()
	}

	t.Run("who am I", func(t *testing.T) {
		client := iamd2.Client(mint(userA))
		want := []string{"cks-admin", "cks-viewer"}

		// WhoAmI takes no consistency token: SpiceDB may answer from a
		// snapshot a few seconds old, from before the seed.
		eventually(t, 30*time.Second, func(ctx context.Context) error {
			resp, err := client.WhoAmI(ctx,
				connect.NewRequest(&iamv1.WhoAmIRequest{}))
			if err != nil {
				return err
			}

			got := resp.Msg
			if got.GetPrincipal() != userA ||
				got.GetOrganizationId() != seedOrg ||
				got.GetOperator() ||
				!slices.Equal(want, slices.Sorted(slices.Values(got.GetRoles()))) {
				return fmt.Errorf("who am I: got %v", got)
			}

			return nil
		})
	})

	cases := []struct {
		name string
		who  string
		org  string
		code connect.Code
	}{
		{name: "IAM Admin lists policies", who: userB, org: seedOrg},
		{name: "no access is denied", who: noAccess, org: seedOrg,
			code: connect.CodePermissionDenied},
		{name: "CKS Admin holds no IAM role", who: userA, org: seedOrg,
			code: connect.CodePermissionDenied},
		{name: "another tenant's admin is denied", who: otherAdmin,
			org: seedOrg, code: connect.CodePermissionDenied},
		{name: "the other tenant's admin at home", who: otherAdmin,
			org: otherOrg},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			client := iamd2.Client(mint(tc.who))

			resp, err := client.ListPolicies(ctx, connect.NewRequest(
				&iamv1.ListPoliciesRequest{OrganizationId: tc.org}))
			if tc.code != 0 {
				require.Equal(t, tc.code, connect.CodeOf(err), "%v", err)
				return
			}

			require.NoError(t, err)
			require.NotEmpty(t, resp.Msg.GetPolicies())
		})
	}

	t.Run("forged tokens are refused", func(t *testing.T) {
		// A token's signature covers its subject: user A's claims under
		// user B's signature must not pass for either.
		a, b := mint(userA), mint(userB)
		swapped := a[:strings.LastIndexByte(a, '.')] +
			b[strings.LastIndexByte(b, '.'):]

		forged := []string{
			NewIAMDSecrets().OperatorToken,
			swapped,
		}

		for _, token := range forged {
			_, err := iamd2.Client(token).WhoAmI(ctx,
				connect.NewRequest(&iamv1.WhoAmIRequest{}))
			require.Equal(t, connect.CodeUnauthenticated,
				connect.CodeOf(err), "%v", err)
		}
	})
}

// writeLog records the writes a client acknowledged.
type writeLog struct {
	mu      sync.Mutex
	members []string
	granted []string
}

// add records an acknowledged write.
func (l *writeLog) add(member string, granted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.members = append(l.members, member)
	if granted {
		l.granted = append(l.granted, member)
	}
}

// count is the number of acknowledged grants.
func (l *writeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()

	return len(l.granted)
}

// snapshot returns copies of the acknowledged members and grants.
func (l *writeLog) snapshot() ([]string, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return slices.Clone(l.members), slices.Clone(l.granted)
}

// writeUntil adds members to the seed organization and to durableGroup
// through client, one after the other, until stop is closed or
// maxWrites were tried. It records what was acknowledged; a write that
// failed may or may not have landed and is not recorded.
func writeUntil(
	client iamv1connect.IAMServiceClient,
	log *writeLog,
	stop <-chan struct{},
	maxWrites int,
) {
	for i := range maxWrites {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}

		who := fmt.Sprintf("user:durable-%d-%s@example.com", i, randomHex(2))

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := client.AddMember(ctx, connect.NewRequest(
			&iamv1.AddMemberRequest{OrganizationId: seedOrg, Principal: who}))
		if err != nil {
			cancel()
			continue
		}

		_, err = client.AddGroupMember(ctx, connect.NewRequest(
			&iamv1.AddGroupMemberRequest{
				OrganizationId: seedOrg,
				Group:          durableGroup,
				Member:         who,
			}))
		cancel()

		log.add(who, err == nil)
	}
}

// testRestarts writes through iamd 2 while iamd 1 and PostgreSQL are
// stopped and started, then restarts iamd 2 too, and finds every
// acknowledged write, and the seed, through both.
func testRestarts(
	t *testing.T,
	cluster *Cluster,
	iamd1, iamd2 *IAMD,
	cases seedCases,
) {
	ctx := t.Context()
	op := iamd2.Operator()

	_, err := op.CreateGroup(ctx, connect.NewRequest(
		&iamv1.CreateGroupRequest{
			OrganizationId: seedOrg,
			Name:           durableGroup,
		}))
	require.NoError(t, err)

	_, err = op.CreatePolicy(ctx, connect.NewRequest(
		&iamv1.CreatePolicyRequest{Policy: &iamv1.Policy{
			OrganizationId: seedOrg,
			PolicyId:       "durable-access",
			Rules: []*iamv1.Rule{{
				Principals: []string{"group:" + durableGroup},
				Roles:      []string{"CKS Viewer"},
			}},
		}}))
	require.NoError(t, err)

	minted, err := iamd1.Operator().MintToken(ctx, connect.NewRequest(
		&iamv1.MintTokenRequest{Principal: userB, TtlSeconds: 600}))
	require.NoError(t, err)

	var log writeLog
	stop := make(chan struct{})
	done := make(chan struct{})

	go func() {
		defer close(done)
		writeUntil(op, &log, stop, 1000)
	}()

	// Whatever fails below, the writer ends before the test does.
	stopWriter := sync.OnceFunc(func() {
		close(stop)
		<-done
	})
	t.Cleanup(stopWriter)

	waitForWrites(t, &log, 3)

	require.NoError(t, iamd1.Stop(ctx))
	require.NoError(t, cluster.Postgres.Stop(ctx))
	require.NoError(t, cluster.Postgres.Start(ctx))
	require.NoError(t, iamd1.Start(ctx))

	// Writes must resume through the restarted datastore.
	waitForWrites(t, &log, log.count()+3)
	stopWriter()

	require.NoError(t, iamd2.Stop(ctx))
	require.NoError(t, iamd2.Start(ctx))

	members, granted := log.snapshot()
	t.Logf("%d members and %d grants acknowledged", len(members), len(granted))

	// A fresh write gives a token later than every acknowledged write.
	var token string
	eventually(t, time.Minute, func(ctx context.Context) error {
		resp, err := iamd1.Operator().AddMember(ctx, connect.NewRequest(
			&iamv1.AddMemberRequest{
				OrganizationId: seedOrg,
				Principal:      "user:after-" + randomHex(4) + "@example.com",
			}))
		if err != nil {
			return err
		}

		token = resp.Msg.GetResult().GetConsistencyToken()
		return nil
	})

	for i, d := range []*IAMD{iamd1, iamd2} {
		client := d.Operator()

		resp, err := client.ListMembers(ctx, connect.NewRequest(
			&iamv1.ListMembersRequest{OrganizationId: seedOrg}))
		require.NoError(t, err)

		listed := resp.Msg.GetPrincipals()
		for _, who := range members {
			require.Contains(t, listed, who, "iamd-%d lost a member", i+1)
		}

		err = expectAllowed(ctx, client, granted, token)
		require.NoError(t, err, "iamd-%d lost a grant", i+1)

		require.NoError(t, checkSeed(ctx, client, cases, token),
			"iamd-%d", i+1)

		// The signing key is shared and survives restarts.
		_, err = d.Client(minted.Msg.GetToken()).WhoAmI(ctx,
			connect.NewRequest(&iamv1.WhoAmIRequest{}))
		require.NoError(t, err, "iamd-%d refused a minted token", i+1)
	}
}

// waitForWrites waits, two minutes at most, until at least n grants
// were acknowledged.
func waitForWrites(t *testing.T, log *writeLog, n int) {
	t.Helper()

	deadline := time.Now().Add(2 * time.Minute)
	for log.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged in time",
				log.count(), n)
		}

		time.Sleep(100 * time.Millisecond)
	}
}

// expectAllowed checks that each of whos may view clusters in the seed
// organization, in CheckBulk calls of at most 100.
func expectAllowed(
	ctx context.Context,
	client iamv1connect.IAMServiceClient,
	whos []string,
	token string,
) error {
	for batch := range slices.Chunk(whos, 100) {
		req := &iamv1.CheckBulkRequest{}
		for _, who := range batch {
			req.Checks = append(req.Checks, &iamv1.CheckRequest{
				OrganizationId:   seedOrg,
				Principal:        who,
				Action:           viewAction,
				ConsistencyToken: token,
			})
		}

		resp, err := client.CheckBulk(ctx, connect.NewRequest(req))
		if err != nil {
			return err
		}

		var denied []string
		for i, allowed := range resp.Msg.GetAllowed() {
			if !allowed {
				denied = append(denied, batch[i])
			}
		}

		if len(denied) > 0 {
			return fmt.Errorf("%d of %d may not %s: %v",
				len(denied), len(batch), viewAction, denied)
		}
	}

	return nil
}

// testPartition cuts every SpiceDB node off the network, so that the
// replicas, still reachable by the test, cannot reach SpiceDB: checks
// must fail, never allow, and recover once the nodes are back.
func testPartition(
	t *testing.T,
	cluster *Cluster,
	replicas []*IAMD,
	cases seedCases,
	token string,
) {
	ctx := t.Context()

	// Minting looks the principal up, so it happens before the cut.
	resp, err := replicas[0].Operator().MintToken(ctx, connect.NewRequest(
		&iamv1.MintTokenRequest{Principal: userA, TtlSeconds: 600}))
	require.NoError(t, err)

	userToken := resp.Msg.GetToken()

	for _, node := range cluster.Nodes {
		require.NoError(t, node.Disconnect(ctx))
	}

	// Reconnect whatever happens, so that a failure here still leaves
	// a cluster whose logs make sense.
	reconnect := sync.OnceValue(func() error {
		var errs []error
		for _, node := range cluster.Nodes {
			errs = append(errs, node.Reconnect(context.Background()))
		}

		return errors.Join(errs...)
	})
	t.Cleanup(func() { _ = reconnect() })

	// Checks that are allowed once SpiceDB answers: a cut-off replica
	// must never say so.
	allowed := &iamv1.CheckRequest{
		OrganizationId:   seedOrg,
		Principal:        userA,
		Action:           "cks.clusters.create",
		ConsistencyToken: token,
	}

	calls := []struct {
		name string
		call func(ctx context.Context, d *IAMD) (any, error)
	}{
		{
			name: "operator's check",
			call: func(ctx context.Context, d *IAMD) (any, error) {
				return d.Operator().Check(ctx, connect.NewRequest(allowed))
			},
		},
		{
			name: "operator's bulk check",
			call: func(ctx context.Context, d *IAMD) (any, error) {
				return d.Operator().CheckBulk(ctx, connect.NewRequest(
					&iamv1.CheckBulkRequest{
						Checks: []*iamv1.CheckRequest{allowed, allowed},
					}))
			},
		},
		{
			// The caller's token names a principal whose organization
			// is looked up in SpiceDB too.
			name: "user's own check",
			call: func(ctx context.Context, d *IAMD) (any, error) {
				return d.Client(userToken).Check(ctx,
					connect.NewRequest(allowed))
			},
		},
	}

	for i, d := range replicas {
		for _, c := range calls {
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			resp, err := c.call(callCtx, d)
			cancel()

			require.Error(t, err, "iamd-%d answered %s while cut off: %v",
				i+1, c.name, resp)

			// iamd bounds each call to SpiceDB well within the
			// client's deadline, so the answer is iamd's own.
			code := connect.CodeOf(err)
			require.Equal(t, connect.CodeUnavailable, code,
				"iamd-%d, %s: %v", i+1, c.name, err)

			t.Logf("iamd-%d, %s, cut off: %s", i+1, c.name, code)
		}

		err := d.Ready(ctx)
		require.Error(t, err, "iamd-%d is ready while cut off", i+1)
	}

	healed := time.Now()
	require.NoError(t, reconnect())

	// gRPC waits out its reconnection backoff, which grew during the
	// cut, before it tries SpiceDB again: tens of seconds.
	for i, d := range replicas {
		eventually(t, 3*time.Minute, func(ctx context.Context) error {
			return d.Ready(ctx)
		})

		eventually(t, time.Minute, func(ctx context.Context) error {
			return checkSeed(ctx, d.Operator(), cases, token)
		})

		t.Logf("iamd-%d answers again %s after the cut ended",
			i+1, time.Since(healed).Round(time.Second))
	}
}
