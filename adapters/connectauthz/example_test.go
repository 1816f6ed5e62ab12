package connectauthz_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"connectrpc.com/connect"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/adapters/api/iam/v1/iamv1connect"
	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/connectauthz"
)

// policies serves ListPolicies only.
type policies struct {
	iamv1connect.UnimplementedIAMServiceHandler
}

func (policies) ListPolicies(
	context.Context, *connect.Request[iamv1.ListPoliciesRequest],
) (*connect.Response[iamv1.ListPoliciesResponse], error) {
	return connect.NewResponse(&iamv1.ListPoliciesResponse{}), nil
}

func ExampleNew() {
	// In a service: iamclient.New(...), which is also the Identifier.
	checker := authztest.NewChecker()
	checker.Grant("ab1cd2", "user:alice@example.com", "iam.policies.list")
	users := authztest.Identifier{
		"alice-token": {Principal: "user:alice@example.com", Organization: "ab1cd2"},
	}

	interceptor, err := connectauthz.New(authz.GuardConfig{
		Checker:   checker,
		Extractor: authz.FromBearerToken(users),
		Methods: authz.Methods{
			iamv1connect.IAMServiceListPoliciesProcedure: authz.Action("iam.policies.list"),
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(iamv1connect.NewIAMServiceHandler(policies{},
		connect.WithInterceptors(interceptor)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	client := iamv1connect.NewIAMServiceClient(srv.Client(), srv.URL)
	for _, org := range []string{"ab1cd2", "ff00ff"} {
		req := connect.NewRequest(&iamv1.ListPoliciesRequest{OrganizationId: org})
		req.Header().Set("Authorization", "Bearer alice-token")
		_, err := client.ListPolicies(context.Background(), req)
		if err != nil {
			fmt.Println(org, connect.CodeOf(err))
			continue
		}
		fmt.Println(org, "ok")
	}
	// Output:
	// ab1cd2 ok
	// ff00ff permission_denied
}
