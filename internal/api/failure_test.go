package api_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"
	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/internal/api"
	"github.com/gpucloud/iam/internal/api/apitest"
	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamtest"
)

// brokenChecks is SpiceDB whose checks fail while reads and writes work.
type brokenChecks struct {
	v1.PermissionsServiceClient
}

func (brokenChecks) CheckPermission(
	context.Context, *v1.CheckPermissionRequest, ...grpc.CallOption,
) (*v1.CheckPermissionResponse, error) {
	return nil, status.Error(codes.Unavailable, "dispatch to 10.1.2.3 timed out")
}

func (brokenChecks) CheckBulkPermissions(
	context.Context, *v1.CheckBulkPermissionsRequest, ...grpc.CallOption,
) (*v1.CheckBulkPermissionsResponse, error) {
	return nil, status.Error(codes.Unavailable, "dispatch to 10.1.2.3 timed out")
}

// TestFailedAuthorizationIsUnavailable: when the engine cannot answer
// whether the caller may act, the call fails as Unavailable and does
// nothing; it is never allowed.
func TestFailedAuthorizationIsUnavailable(t *testing.T) {
	ctx := t.Context()
	svc := iam.New(brokenChecks{iamtest.NewEngine(t)})
	_, err := svc.CreateOrganization(ctx, orgA, adminA)
	require.NoError(t, err)

	operator := strings.Repeat("o", 32)
	log := &apitest.SyncBuffer{}
	h, err := api.NewHandler(api.Config{
		Service:       svc,
		OperatorToken: operator,
		TokenKey:      []byte(strings.Repeat("k", 32)),
		Logger:        newTextLogger(log),
		Ready:         func(context.Context) error { return nil },
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := func(token string) iamv1connect.IAMServiceClient {
		return iamv1connect.NewIAMServiceClient(srv.Client(), srv.URL,
			connect.WithInterceptors(apitest.BearerToken(token)))
	}

	minted, err := client(operator).MintToken(ctx,
		connect.NewRequest(&iamv1.MintTokenRequest{Principal: adminA}))
	require.NoError(t, err)
	admin := client(minted.Msg.GetToken())

	_, err = admin.CreateGroup(ctx, connect.NewRequest(&iamv1.CreateGroupRequest{
		OrganizationId: orgA, Name: "ops",
	}))
	ce := requireCode(t, connect.CodeUnavailable, err)
	require.NotContains(t, ce.Message(), "10.1.2.3")
	require.Contains(t, log.String(), "10.1.2.3", "the cause is logged")
	_, err = svc.GetGroup(ctx, orgA, "ops")
	require.Error(t, err, "the call wrote")

	// The operator needs no check to be let in, but its check fails.
	_, err = client(operator).Check(ctx, connect.NewRequest(&iamv1.CheckRequest{
		OrganizationId: orgA, Principal: adminA, Action: "cks.clusters.list",
	}))
	requireCode(t, connect.CodeUnavailable, err)
}
