package grpcauthz_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/grpcauthz"
)

func ExampleNew() {
	// In a service: iamclient.New(...), which is also the Identifier.
	checker := authztest.NewChecker()
	checker.Grant("ab1cd2", "user:alice@example.com", "iam.policies.list")
	users := authztest.Identifier{
		"alice-token": {Principal: "user:alice@example.com", Organization: "ab1cd2"},
	}

	guard, err := grpcauthz.New(authz.GuardConfig{
		Checker:   checker,
		Extractor: authz.FromBearerToken(users),
		Methods: authz.Methods{
			"/iam.v1.IAMService/ListPolicies": authz.Action("iam.policies.list"),
			"/iam.v1.IAMService/ListRoles":    authz.Public,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Serve with grpc.NewServer(grpc.ChainUnaryInterceptor(guard.Unary()),
	// grpc.ChainStreamInterceptor(guard.Stream())). Here the interceptor
	// is called directly, as the server would.
	unary := guard.Unary()
	handler := func(ctx context.Context, _ any) (any, error) {
		s, _ := authz.SubjectFrom(ctx)
		return "served " + s.Principal, nil
	}

	call := func(method string, req any) {
		ctx := metadata.NewIncomingContext(context.Background(),
			metadata.Pairs("authorization", "Bearer alice-token"))
		info := &grpc.UnaryServerInfo{FullMethod: method}
		resp, err := unary(ctx, req, info, handler)
		if err == nil {
			fmt.Println(resp)
			return
		}

		// A denial's ErrorInfo names the action it lacked.
		st := status.Convert(err)
		for _, d := range st.Details() {
			if ei, ok := d.(*errdetails.ErrorInfo); ok {
				fmt.Println(st.Code(), ei.GetMetadata()["action"],
					"in", ei.GetMetadata()["organization"])
				return
			}
		}
		fmt.Println(st.Code(), "for", method)
	}

	call("/iam.v1.IAMService/ListPolicies", &iamv1.ListPoliciesRequest{OrganizationId: "ab1cd2"})
	call("/iam.v1.IAMService/ListPolicies", &iamv1.ListPoliciesRequest{OrganizationId: "ff00ff"})
	call("/iam.v1.IAMService/DeletePolicy", &iamv1.DeletePolicyRequest{OrganizationId: "ab1cd2"})
	// Output:
	// served user:alice@example.com
	// PermissionDenied iam.policies.list in ff00ff
	// PermissionDenied for /iam.v1.IAMService/DeletePolicy
}
