package iam_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
	"github.com/gpucloud/iam/internal/pgtest"
)

// onPostgres starts an embedded engine on the database at uri, migrating
// it if needed, and returns a facade over it. Several calls on one uri
// are several iamd replicas sharing one datastore.
func onPostgres(t *testing.T, uri string) *iam.Service {
	t.Helper()
	ctx := t.Context()

	e, err := engine.NewEmbedded(ctx, engine.EmbeddedConfig{
		DatastoreEngine: engine.PostgresDatastore,
		DatastoreURI:    uri,
		Migrate:         true,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })

	require.NoError(t, e.WriteSchema(ctx))
	return iam.New(e)
}

func TestSeedExampleOnPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	svc, token := seededOn(t, onPostgres(t, pg.URI()))
	runSeedCases(t, svc, token)
}

// TestTokenFromOneReplicaHoldsOnAnother writes through one replica and
// checks through the other with the returned ZedToken, both ways, many
// times: the answer must always reflect the write.
func TestTokenFromOneReplicaHoldsOnAnother(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	a, _ := seededOn(t, onPostgres(t, pg.URI()))
	b := onPostgres(t, pg.URI())
	replicas := []*iam.Service{a, b}

	const who = "user:no-access@example.com"
	const action = "cks.clusters.list"
	for round := range 20 {
		writer := replicas[round%2]
		reader := replicas[(round+1)%2]

		// Odd rounds grant through the engineering group, even rounds
		// revoke: each answer differs from the one before.
		var w iam.WriteResult
		var err error
		grant := round%2 == 0
		if grant {
			w, err = writer.AddGroupMember(ctx, org, "engineering", who)
		} else {
			w, err = writer.RemoveGroupMember(ctx, org, "engineering", who)
		}
		require.NoError(t, err)

		d, err := reader.Check(ctx, iam.CheckRequest{
			Org: org, Principal: who, Action: action,
			AtLeastAsFresh: w.Token,
		})
		require.NoError(t, err)
		require.Equal(t, grant, d.Allowed, "round %d", round)

		g, err := reader.GetGroup(ctx, org, "engineering")
		require.NoError(t, err)
		require.Equal(t, grant, slices.Contains(g.Members, who),
			"round %d", round)
	}

	// A policy's etag written on one replica is the one the other reads.
	p := mustPolicy(t, a, "example-access")
	w, err := a.ReplacePolicy(ctx, iam.PolicyInput{
		Org: org, ID: "example-access", Etag: p.Etag,
		Description: "changed on replica a", Rules: p.Rules,
	})
	require.NoError(t, err)
	got, err := b.GetPolicy(ctx, org, "example-access", w.Token)
	require.NoError(t, err)
	require.Equal(t, w.Etag, got.Etag)
	require.Equal(t, "changed on replica a", got.Description)
}

// TestConcurrentReplaceAcrossReplicas races replacements of one policy
// with one etag through two replicas: exactly one wins, the others get a
// conflict, and the stored rules are exactly the winner's.
func TestConcurrentReplaceAcrossReplicas(t *testing.T) {
	pg := pgtest.Start(t)
	a, _ := seededOn(t, onPostgres(t, pg.URI()))
	raceOneEtag(t, []*iam.Service{a, onPostgres(t, pg.URI())}, []string{
		"user:user-a@example.com", "user:user-b@example.com",
		"user:eng-member@example.com", "user:no-access@example.com",
		"user:legacy-write@example.com", "user:legacy-read@example.com",
		"user:legacy-metrics@example.com", "user:legacy-billing@example.com",
	})
}

// TestConcurrentMembershipAcrossReplicas adds members to one group
// through two replicas at once: no addition is lost.
func TestConcurrentMembershipAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	a, _ := seededOn(t, onPostgres(t, pg.URI()))
	replicas := []*iam.Service{a, onPostgres(t, pg.URI())}

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			svc := replicas[i%2]
			who := fmt.Sprintf("user:member-%02d@example.com", i)
			if _, errs[i] = svc.AddMember(ctx, org, who); errs[i] != nil {
				return
			}
			_, errs[i] = svc.AddGroupMember(ctx, org, "engineering", who)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	for _, r := range replicas {
		g, err := r.GetGroup(ctx, org, "engineering")
		require.NoError(t, err)
		require.Len(t, g.Members, n+1)
	}
}

// TestFailsClosedWhilePostgresIsDown stops PostgreSQL under a running
// facade: checks and writes answer Unavailable, never allowed, within a
// bounded time; once PostgreSQL is back the same facade answers again.
func TestFailsClosedWhilePostgresIsDown(t *testing.T) {
	pg := pgtest.Start(t)
	svc, token := seededOn(t, onPostgres(t, pg.URI()))

	allowedReq := iam.CheckRequest{
		Org: org, Principal: "user:user-a@example.com",
		Action: "cks.clusters.delete", AtLeastAsFresh: token,
	}
	check := func(req iam.CheckRequest) (iam.Decision, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		return svc.Check(ctx, req)
	}
	d, err := check(allowedReq)
	require.NoError(t, err)
	require.True(t, d.Allowed)

	pg.Stop(t)
	stopped := time.Now()

	// Answers already computed at the snapshot SpiceDB last read stay
	// correct, since nothing can be written meanwhile; they last at most
	// one revision quantum. Past that, every check needs the datastore.
	var lastErr error
	for time.Since(stopped) < 10*time.Second {
		if _, lastErr = check(allowedReq); lastErr != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.Error(t, lastErr, "checks still answered 10s after PostgreSQL stopped")

	// SpiceDB may still pick a revision that expired within its
	// staleness margin (a tenth of the quantum); let that pass.
	time.Sleep(200 * time.Millisecond)

	withoutToken := allowedReq
	withoutToken.AtLeastAsFresh = ""
	for name, req := range map[string]iam.CheckRequest{
		"with token": allowedReq, "without token": withoutToken,
	} {
		start := time.Now()
		d, err := check(req)
		require.Error(t, err, name)
		require.False(t, d.Allowed, name)
		require.Equal(t, iamerr.Unavailable, iamerr.KindOf(err),
			"%s: %v", name, err)
		require.Less(t, time.Since(start), 20*time.Second, name)
	}

	bulk, _, err := svc.CheckBulk(t.Context(), []iam.CheckRequest{allowedReq})
	require.Error(t, err)
	require.Nil(t, bulk)
	require.Equal(t, iamerr.Unavailable, iamerr.KindOf(err), err.Error())

	_, err = svc.AddGroupMember(t.Context(), org, "engineering",
		"user:no-access@example.com")
	require.Equal(t, iamerr.Unavailable, iamerr.KindOf(err), err.Error())

	pg.Start(t)

	// Until the engine is back, and for connections PostgreSQL's restart
	// broke, calls fail as Unavailable (so clients retry), never
	// Internal, never allowed.
	untilAnswered(t, func() error {
		d, err = check(allowedReq)
		return err
	})
	require.True(t, d.Allowed)

	// The write refused while PostgreSQL was down did not happen.
	var g iam.Group
	untilAnswered(t, func() error {
		g, err = svc.GetGroup(t.Context(), org, "engineering")
		return err
	})
	require.NotContains(t, g.Members, "user:no-access@example.com")

	var w iam.WriteResult
	untilAnswered(t, func() error {
		w, err = svc.AddGroupMember(t.Context(), org, "engineering",
			"user:no-access@example.com")
		return err
	})
	d, err = check(iam.CheckRequest{
		Org: org, Principal: "user:no-access@example.com",
		Action: "cks.clusters.list", AtLeastAsFresh: w.Token,
	})
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

// untilAnswered retries call, as a client would, while it fails with
// Unavailable; any other error fails the test, and so does no answer
// within a minute.
func untilAnswered(t *testing.T, call func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := call()
		if err == nil {
			return
		}
		require.Equal(t, iamerr.Unavailable, iamerr.KindOf(err), err.Error())
		require.True(t, time.Now().Before(deadline),
			"no answer a minute after PostgreSQL came back: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// crashState is what the crash test's writes leave behind, as sorted
// "name=members" strings, policy IDs and organization members.
type crashState struct {
	Groups   []string
	Policies []string
	Members  []string
}

// crashModel is the state the writes acknowledged so far should leave.
type crashModel struct {
	groups   map[string][]string
	policies map[string]bool
	members  map[string]bool
}

func (m crashModel) clone() crashModel {
	c := crashModel{
		groups:   map[string][]string{},
		policies: map[string]bool{},
		members:  map[string]bool{},
	}
	for g, ms := range m.groups {
		c.groups[g] = slices.Clone(ms)
	}
	for p := range m.policies {
		c.policies[p] = true
	}
	for u := range m.members {
		c.members[u] = true
	}
	return c
}

func (m crashModel) state() crashState {
	s := crashState{Groups: []string{}, Policies: []string{}, Members: []string{}}
	for g, ms := range m.groups {
		s.Groups = append(s.Groups, g+"="+strings.Join(ms, ","))
	}
	for p := range m.policies {
		s.Policies = append(s.Policies, p)
	}
	for u := range m.members {
		s.Members = append(s.Members, u)
	}
	slices.Sort(s.Groups)
	slices.Sort(s.Policies)
	slices.Sort(s.Members)
	return s
}

// crashOp is one write of the crash test and its effect on the model.
type crashOp struct {
	name  string
	write func(ctx context.Context, svc *iam.Service) (string, error)
	apply func(m *crashModel)
}

// crashOps writes, for each n, a member, a group holding it and a policy
// granting the group; some policies and memberships are then revoked.
func crashOps(n int) []crashOp {
	var ops []crashOp
	for i := range n {
		user := fmt.Sprintf("user:crash-%02d@example.com", i)
		group := fmt.Sprintf("crash-%02d", i)
		ops = append(ops,
			crashOp{"add member " + user,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.AddMember(ctx, org, user)
					return w.Token, err
				},
				func(m *crashModel) { m.members[user] = true }},
			crashOp{"create group " + group,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.CreateGroup(ctx, org, group)
					return w.Token, err
				},
				func(m *crashModel) { m.groups[group] = nil }},
			crashOp{"add " + user + " to " + group,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.AddGroupMember(ctx, org, group, user)
					return w.Token, err
				},
				func(m *crashModel) { m.groups[group] = []string{user} }},
			crashOp{"create policy " + group,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.CreatePolicy(ctx, iam.PolicyInput{
						Org: org, ID: group,
						Rules: []iam.Rule{{
							Principals: []string{"group:" + group},
							Roles:      []string{"CKS Viewer"},
						}},
					})
					return w.Token, err
				},
				func(m *crashModel) { m.policies[group] = true }},
		)

		switch i % 3 {
		case 0:
			ops = append(ops, crashOp{"delete policy " + group,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.DeletePolicy(ctx, org, group, "")
					return w.Token, err
				},
				func(m *crashModel) { delete(m.policies, group) }})
		case 1:
			ops = append(ops, crashOp{"remove " + user + " from " + group,
				func(ctx context.Context, svc *iam.Service) (string, error) {
					w, err := svc.RemoveGroupMember(ctx, org, group, user)
					return w.Token, err
				},
				func(m *crashModel) { m.groups[group] = nil }})
		}
	}
	return ops
}

// crashStateOf reads the crash test's part of the stored state.
func crashStateOf(t *testing.T, svc *iam.Service) crashState {
	t.Helper()
	ctx := t.Context()
	s := crashState{Groups: []string{}, Policies: []string{}, Members: []string{}}

	groups, err := svc.ListGroups(ctx, org)
	require.NoError(t, err)
	for _, g := range groups {
		if strings.HasPrefix(g.Name, "crash-") {
			s.Groups = append(s.Groups, g.Name+"="+strings.Join(g.Members, ","))
		}
	}
	policies, err := svc.ListPolicies(ctx, org)
	require.NoError(t, err)
	for _, p := range policies {
		if strings.HasPrefix(p.ID, "crash-") {
			s.Policies = append(s.Policies, p.ID)
		}
	}
	members, err := svc.ListMembers(ctx, org)
	require.NoError(t, err)
	for _, m := range members {
		if strings.HasPrefix(m, "user:crash-") {
			s.Members = append(s.Members, m)
		}
	}
	slices.Sort(s.Groups)
	slices.Sort(s.Policies)
	slices.Sort(s.Members)
	return s
}

// TestAcknowledgedWritesSurviveAPostgresCrash kills every PostgreSQL
// process with SIGKILL while a replica writes members, groups, policies
// and revocations, then opens the database with a fresh engine, as a
// restarted iamd would: every acknowledged write is there, every
// acknowledged revocation holds, and nothing else appears. The one write
// in flight at the crash may have landed or not, but not in part.
func TestAcknowledgedWritesSurviveAPostgresCrash(t *testing.T) {
	pg := pgtest.Start(t)
	writer, _ := seededOn(t, onPostgres(t, pg.URI()))
	ops := crashOps(40)
	const crashAfter = 23

	acked := make(chan struct{}, len(ops))
	done := make(chan struct{})
	ackedOps, lastToken := 0, ""
	go func() {
		defer close(done)
		for _, op := range ops {
			ctx, cancel := context.WithTimeout(context.Background(),
				20*time.Second)
			token, err := op.write(ctx, writer)
			cancel()
			if err != nil {
				return
			}
			ackedOps, lastToken = ackedOps+1, token
			acked <- struct{}{}
		}
	}()

	for range crashAfter {
		select {
		case <-acked:
		case <-done:
			t.Fatal("the writes failed before the crash")
		}
	}
	pg.Crash(t)
	<-done
	require.Less(t, ackedOps, len(ops), "the crash came after every write")
	t.Logf("%d writes acknowledged before the crash", ackedOps)

	pg.Start(t)
	restarted := onPostgres(t, pg.URI())

	// The state is the model of the acknowledged writes, or that plus
	// the write in flight, which failed from the writer's point of view.
	before := crashModel{
		groups: map[string][]string{}, policies: map[string]bool{},
		members: map[string]bool{},
	}
	for _, op := range ops[:ackedOps] {
		op.apply(&before)
	}
	after := before.clone()
	ops[ackedOps].apply(&after)

	got := crashStateOf(t, restarted)
	model := before
	if !crashStatesEqual(got, before.state()) {
		require.Equal(t, after.state(), got,
			"neither the acknowledged writes (%d) nor those plus %q",
			ackedOps, ops[ackedOps].name)
		model = after
	}

	// Checks at the last acknowledged token, on the restarted engine,
	// grant exactly what the surviving state grants.
	for i := range 40 {
		user := fmt.Sprintf("user:crash-%02d@example.com", i)
		group := fmt.Sprintf("crash-%02d", i)
		want := model.policies[group] &&
			slices.Contains(model.groups[group], user)
		if !model.members[user] {
			continue
		}
		d, err := restarted.Check(t.Context(), iam.CheckRequest{
			Org: org, Principal: user, Action: "cks.clusters.list",
			AtLeastAsFresh: lastToken,
		})
		require.NoError(t, err)
		require.Equal(t, want, d.Allowed, user)
	}
}

func crashStatesEqual(a, b crashState) bool {
	return slices.Equal(a.Groups, b.Groups) &&
		slices.Equal(a.Policies, b.Policies) &&
		slices.Equal(a.Members, b.Members)
}

// TestLogicalBackupRestoredElsewhere restores a pg_dump of a seeded
// database into a fresh server, as after losing the original: once
// migrated (which advances the new server's transaction counter), the
// copy answers every seed case at a token issued before the backup, and
// takes new writes.
func TestLogicalBackupRestoredElsewhere(t *testing.T) {
	ctx := t.Context()
	source := pgtest.Start(t)
	// A busy server's counter is far ahead of a fresh one's.
	source.Exec(t, `DO $$ BEGIN
		FOR i IN 1..5000 LOOP PERFORM pg_current_xact_id(); ROLLBACK; END LOOP;
	END $$`)
	_, token := seededOn(t, onPostgres(t, source.URI()))

	restored := pgtest.Start(t)
	source.CopyTo(t, restored)
	source.Stop(t)

	svc := onPostgres(t, restored.URI())
	runSeedCases(t, svc, token)

	w, err := svc.AddGroupMember(ctx, org, "engineering",
		"user:no-access@example.com")
	require.NoError(t, err)
	require.True(t, allowed(t, svc, "user:no-access@example.com",
		"cks.clusters.list", w.Token))
}
