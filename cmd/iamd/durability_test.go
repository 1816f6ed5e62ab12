package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/engine"
	"github.com/gpucloud/iam/internal/pgtest"
)

// asIamdEnv, when set, makes this test binary iamd itself, with the
// variable's words as arguments: the durability test runs the real main
// in a process it can kill, without a separate build.
const asIamdEnv = "IAMD_TEST_RUN_AS_IAMD"

func init() {
	args := os.Getenv(asIamdEnv)
	if args == "" {
		return
	}
	os.Args = append([]string{"iamd"}, strings.Fields(args)...)
	main()
	os.Exit(0)
}

const durabilityOrg = "ab1cd2"

// iamdProcess is an iamd running in a child process.
type iamdProcess struct {
	url    string
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
}

// startIamd runs iamd serve on the PostgreSQL database at uri and waits
// until it is ready. Secrets travel in the environment, as in production.
func startIamd(t *testing.T, uri, operatorToken string) *iamdProcess {
	t.Helper()

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())

	p := &iamdProcess{
		url:    "http://" + addr,
		cmd:    exec.Command(os.Args[0]),
		output: &syncBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd.Env = append(os.Environ(),
		asIamdEnv+"=serve --addr "+addr+" --datastore-engine postgres",
		"IAMD_DATASTORE_URI="+uri,
		"IAMD_OPERATOR_TOKEN="+operatorToken,
	)
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	// No iamd outlives the test binary, even one killed by a timeout.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })

	deadline := time.Now().Add(90 * time.Second)
	for !p.ready(t) {
		select {
		case <-p.done:
			t.Fatalf("iamd exited during start:\n%s", p.output)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("iamd not ready after 90s:\n%s", p.output)
		}
	}
	return p
}

func (p *iamdProcess) ready(t *testing.T) bool {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		p.url+"/readyz", nil)
	require.NoError(t, err)

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill sends SIGKILL: iamd gets no chance to flush, close or say goodbye.
func (p *iamdProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *iamdProcess) client(token string) iamv1connect.IAMServiceClient {
	return iamv1connect.NewIAMServiceClient(apitest.NewHTTPClient(), p.url,
		connect.WithGRPC(), connect.WithInterceptors(apitest.BearerToken(token)))
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stored is the part of the state the durability test writes: sorted
// "group=members" strings, policy IDs and organization members.
type stored struct {
	Groups   []string
	Policies []string
	Members  []string
}

// model is the state a sequence of acknowledged writes leaves.
type model struct {
	groups   map[string]string
	policies map[string]bool
	members  map[string]bool
}

func newModel() *model {
	return &model{
		groups:   map[string]string{},
		policies: map[string]bool{},
		members:  map[string]bool{},
	}
}

func (m *model) stored() stored {
	s := stored{Groups: []string{}, Policies: []string{}, Members: []string{}}
	for g, ms := range m.groups {
		s.Groups = append(s.Groups, g+"="+ms)
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

// apiWrite is one write through the API and its effect on the model.
type apiWrite struct {
	name  string
	call  func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error)
	apply func(m *model)
}

// durabilityWrites adds, for each i, a member, a group holding it and a
// policy granting the group; some are revoked afterwards.
func durabilityWrites(n int) []apiWrite {
	var ws []apiWrite
	for i := range n {
		user := fmt.Sprintf("user:kill-%02d@example.com", i)
		group := fmt.Sprintf("kill-%02d", i)
		ws = append(ws,
			apiWrite{"add member " + user,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.AddMember(ctx, connect.NewRequest(&iamv1.AddMemberRequest{
						OrganizationId: durabilityOrg, Principal: user,
					}))
					return tokenOf(r, err)
				},
				func(m *model) { m.members[user] = true }},
			apiWrite{"create group " + group,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.CreateGroup(ctx, connect.NewRequest(&iamv1.CreateGroupRequest{
						OrganizationId: durabilityOrg, Name: group,
					}))
					return tokenOf(r, err)
				},
				func(m *model) { m.groups[group] = "" }},
			apiWrite{"add " + user + " to " + group,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.AddGroupMember(ctx, connect.NewRequest(&iamv1.AddGroupMemberRequest{
						OrganizationId: durabilityOrg, Group: group, Member: user,
					}))
					return tokenOf(r, err)
				},
				func(m *model) { m.groups[group] = user }},
			apiWrite{"create policy " + group,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.CreatePolicy(ctx, connect.NewRequest(&iamv1.CreatePolicyRequest{
						Policy: &iamv1.Policy{
							OrganizationId: durabilityOrg, PolicyId: group,
							Rules: []*iamv1.Rule{{
								Principals: []string{"group:" + group},
								Roles:      []string{"CKS Viewer"},
							}},
						},
					}))
					return tokenOf(r, err)
				},
				func(m *model) { m.policies[group] = true }},
		)

		switch i % 3 {
		case 0:
			ws = append(ws, apiWrite{"delete policy " + group,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.DeletePolicy(ctx, connect.NewRequest(&iamv1.DeletePolicyRequest{
						OrganizationId: durabilityOrg, PolicyId: group,
					}))
					return tokenOf(r, err)
				},
				func(m *model) { delete(m.policies, group) }})
		case 1:
			ws = append(ws, apiWrite{"remove " + user + " from " + group,
				func(ctx context.Context, c iamv1connect.IAMServiceClient) (string, error) {
					r, err := c.RemoveGroupMember(ctx, connect.NewRequest(&iamv1.RemoveGroupMemberRequest{
						OrganizationId: durabilityOrg, Group: group, Member: user,
					}))
					return tokenOf(r, err)
				},
				func(m *model) { m.groups[group] = "" }})
		}
	}
	return ws
}

// writeResponse is every write's response: it carries a WriteResult.
type writeResponse interface {
	GetResult() *iamv1.WriteResult
}

func tokenOf[T any, P interface {
	*T
	writeResponse
}](r *connect.Response[T], err error) (string, error) {
	if err != nil {
		return "", err
	}
	return P(r.Msg).GetResult().GetConsistencyToken(), nil
}

// storedState reads the durability test's part of the state.
func storedState(t *testing.T, c iamv1connect.IAMServiceClient) stored {
	t.Helper()
	ctx := t.Context()
	s := stored{Groups: []string{}, Policies: []string{}, Members: []string{}}

	groups, err := c.ListGroups(ctx, connect.NewRequest(
		&iamv1.ListGroupsRequest{OrganizationId: durabilityOrg}))
	require.NoError(t, err)
	for _, g := range groups.Msg.GetGroups() {
		if strings.HasPrefix(g.GetName(), "kill-") {
			s.Groups = append(s.Groups,
				g.GetName()+"="+strings.Join(g.GetMembers(), ","))
		}
	}

	policies, err := c.ListPolicies(ctx, connect.NewRequest(
		&iamv1.ListPoliciesRequest{OrganizationId: durabilityOrg}))
	require.NoError(t, err)
	for _, p := range policies.Msg.GetPolicies() {
		if strings.HasPrefix(p.GetPolicyId(), "kill-") {
			s.Policies = append(s.Policies, p.GetPolicyId())
		}
	}

	members, err := c.ListMembers(ctx, connect.NewRequest(
		&iamv1.ListMembersRequest{OrganizationId: durabilityOrg}))
	require.NoError(t, err)
	for _, m := range members.Msg.GetPrincipals() {
		if strings.HasPrefix(m, "user:kill-") {
			s.Members = append(s.Members, m)
		}
	}

	slices.Sort(s.Groups)
	slices.Sort(s.Policies)
	slices.Sort(s.Members)
	return s
}

// TestAcknowledgedWritesSurviveSIGKILL writes members, groups, policies
// and revocations through iamd on PostgreSQL, kills iamd with SIGKILL
// mid-stream, and starts it again: every acknowledged write is there,
// every acknowledged revocation holds, nothing else appears, and the last
// acknowledged ZedToken still orders checks. The one write in flight at
// the kill may have landed or not, but not in part.
func TestAcknowledgedWritesSurviveSIGKILL(t *testing.T) {
	pg := pgtest.Start(t)
	// The production order: `iamd migrate`, then `iamd serve`.
	out, err := runIamd(t, pg.URI(), "migrate")
	require.NoError(t, err, out)
	const operatorToken = "operator-token-of-the-durability-test"

	first := startIamd(t, pg.URI(), operatorToken)
	c := first.client(operatorToken)
	_, err = c.CreateOrganization(t.Context(), connect.NewRequest(
		&iamv1.CreateOrganizationRequest{
			OrganizationId: durabilityOrg, FirstUser: "user:admin@example.com",
		}))
	require.NoError(t, err)

	writes := durabilityWrites(40)
	const killAfter = 23
	acked := make(chan struct{}, len(writes))
	done := make(chan struct{})
	ackedWrites, lastToken := 0, ""
	go func() {
		defer close(done)
		for _, w := range writes {
			ctx, cancel := context.WithTimeout(context.Background(),
				20*time.Second)
			token, err := w.call(ctx, c)
			cancel()
			if err != nil {
				return
			}
			ackedWrites, lastToken = ackedWrites+1, token
			acked <- struct{}{}
		}
	}()

	for range killAfter {
		select {
		case <-acked:
		case <-done:
			t.Fatalf("writes failed before the kill:\n%s", first.output)
		}
	}
	first.kill()
	<-done
	require.Less(t, ackedWrites, len(writes), "the kill came after every write")
	require.NotEmpty(t, lastToken)
	t.Logf("%d writes acknowledged before SIGKILL", ackedWrites)

	second := startIamd(t, pg.URI(), operatorToken)
	c = second.client(operatorToken)

	before := newModel()
	for _, w := range writes[:ackedWrites] {
		w.apply(before)
	}
	after := newModel()
	for _, w := range writes[:ackedWrites+1] {
		w.apply(after)
	}

	got := storedState(t, c)
	survivor := before
	if !slices.Equal(got.Groups, before.stored().Groups) ||
		!slices.Equal(got.Policies, before.stored().Policies) ||
		!slices.Equal(got.Members, before.stored().Members) {
		require.Equal(t, after.stored(), got,
			"neither the %d acknowledged writes nor those plus %q",
			ackedWrites, writes[ackedWrites].name)
		survivor = after
	}

	// The token iamd acknowledged before dying orders checks after the
	// restart, and they grant exactly what survived.
	for user := range survivor.members {
		group := "kill-" + strings.TrimSuffix(
			strings.TrimPrefix(user, "user:kill-"), "@example.com")
		want := survivor.policies[group] && survivor.groups[group] == user

		r, err := c.Check(t.Context(), connect.NewRequest(&iamv1.CheckRequest{
			OrganizationId: durabilityOrg, Principal: user,
			Action: "cks.clusters.list", ConsistencyToken: lastToken,
		}))
		require.NoError(t, err)
		require.Equal(t, want, r.Msg.GetAllowed(), user)
	}
}

// TestFailsClosedWhilePostgresIsDown stops PostgreSQL under a running
// iamd: readiness turns false, checks answer Unavailable (never allowed),
// and when PostgreSQL is back the same iamd process answers again.
func TestFailsClosedWhilePostgresIsDown(t *testing.T) {
	pg := pgtest.Start(t)
	require.NoError(t, engine.Migrate(t.Context(), pg.URI()))
	const operatorToken = "operator-token-of-the-fail-closed-test"
	p := startIamd(t, pg.URI(), operatorToken)
	c := p.client(operatorToken)

	_, err := c.CreateOrganization(t.Context(), connect.NewRequest(
		&iamv1.CreateOrganizationRequest{
			OrganizationId: durabilityOrg, FirstUser: "user:admin@example.com",
		}))
	require.NoError(t, err)
	check := func() (bool, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		r, err := c.Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
			OrganizationId: durabilityOrg, Principal: "user:admin@example.com",
			Action: "iam.policies.update",
		}))
		if err != nil {
			return false, err
		}
		return r.Msg.GetAllowed(), nil
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			require.True(t, time.Now().Before(deadline),
				"%s within a minute:\n%s", what, p.output)
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("the first user may update policies", func() bool {
		allowed, err := check()
		return err == nil && allowed
	})

	pg.Stop(t)
	waitFor("readiness turns false", func() bool { return !p.ready(t) })
	waitFor("checks fail", func() bool {
		_, err := check()
		return err != nil
	})
	// SpiceDB may still pick a revision within its staleness margin.
	time.Sleep(200 * time.Millisecond)
	for range 5 {
		allowed, err := check()
		require.False(t, allowed)
		require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), err)
	}

	pg.Start(t)
	waitFor("readiness turns true again", func() bool { return p.ready(t) })
	waitFor("checks answer again", func() bool {
		allowed, err := check()
		if err != nil {
			require.Equal(t, connect.CodeUnavailable, connect.CodeOf(err), err)
		}
		return err == nil && allowed
	})
	select {
	case <-p.done:
		t.Fatal("iamd exited during the outage")
	default:
	}
}
