package api_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/iam"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// A dependency of SpiceDB starts this worker in its init.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

// The two organizations of every test, and principals of the first
// with different roles.
const (
	orgA = "ab1cd2"
	orgB = "ff00ff"

	adminA   = "user:admin@ab1cd2.example"   // legacy admin: IAM Admin
	viewerA  = "user:viewer@ab1cd2.example"  // legacy read: IAM Viewer
	billingA = "user:billing@ab1cd2.example" // Billing Viewer only
	plainA   = "user:plain@ab1cd2.example"   // no role at all
	adminB   = "user:admin@ff00ff.example"
)

// protocols are the wire protocols every API test runs over.
var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect-json", []connect.ClientOption{connect.WithProtoJSON()}},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

// fixture is a server with both organizations and a token per principal.
type fixture struct {
	*apitest.Server
	tokens map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	s := apitest.NewServer(t)
	svc := s.Service

	must := func(_ iam.WriteResult, err error) { require.NoError(t, err) }
	must(svc.CreateOrganization(ctx, orgA, adminA))
	must(svc.CreateOrganization(ctx, orgB, adminB))
	for _, who := range []string{viewerA, billingA, plainA} {
		must(svc.AddMember(ctx, orgA, who))
	}
	must(svc.AssignLegacyGroup(ctx, orgA, "read", viewerA))
	must(svc.AssignLegacyGroup(ctx, orgA, "billing_viewer", billingA))

	f := &fixture{Server: s, tokens: map[string]string{}}
	for _, who := range []string{adminA, viewerA, billingA, plainA, adminB} {
		f.tokens[who] = s.Token(t, who)
	}
	t.Cleanup(func() { f.requireNoTokenLogged(t) })
	return f
}

// as returns a client for who ("operator" for the operator token).
func (f *fixture) as(who string, opts []connect.ClientOption) iamv1connect.IAMServiceClient {
	if who == api.OperatorPrincipal {
		return f.Client(opts...)
	}
	return f.ClientAs(f.tokens[who], opts...)
}

// requireNoTokenLogged fails if any secret reached the log.
func (f *fixture) requireNoTokenLogged(t *testing.T) {
	log := f.Log.String()
	require.NotContains(t, log, f.OperatorToken)
	for who, token := range f.tokens {
		require.NotContains(t, log, token, "token of %s", who)
	}
}

var unique atomic.Int64

// name returns a name no other call returns, for objects a test creates.
func name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, unique.Add(1))
}

// requireCode fails unless err is a Connect error with code.
func requireCode(t *testing.T, code connect.Code, err error) *connect.Error {
	t.Helper()
	require.Error(t, err)
	var ce *connect.Error
	require.True(t, errors.As(err, &ce), "not a connect error: %v", err)
	require.Equal(t, code, ce.Code(), "message: %s", ce.Message())
	return ce
}

// errorInfo returns the ErrorInfo detail of err.
func errorInfo(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	var ce *connect.Error
	require.True(t, errors.As(err, &ce))
	for _, d := range ce.Details() {
		v, derr := d.Value()
		require.NoError(t, derr)
		if info, ok := v.(*errdetails.ErrorInfo); ok {
			require.Equal(t, api.ErrorDomain, info.GetDomain())
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil
}
