package iamclient_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/iamclient"
	"github.com/gpucloud/iam/adapters/internal/iamdtest"
)

// The organization file the examples start iamd with.
const exampleDocument = `
organizations:
  - id: ab1cd2
    first_user: user:admin@example.com
    members: [user:viewer@example.com]
    legacy_groups:
      read: [user:viewer@example.com]
`

func ExampleClient_Check() {
	// A real iamd on a loopback port, for the example.
	iamd, err := iamdtest.Start(exampleDocument)
	if err != nil {
		log.Fatal(err)
	}
	defer iamd.Stop()

	client, err := iamclient.New(iamclient.Config{
		URL:   iamd.URL,
		Token: iamd.OperatorToken,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ctx := context.Background()
	for _, action := range []string{"cks.clusters.list", "cks.clusters.create"} {
		d, err := client.Check(ctx, authz.CheckRequest{
			Organization: "ab1cd2",
			Principal:    "user:viewer@example.com",
			Action:       action,
		})
		if err != nil {
			// Never an allow: answer 503 and let the caller retry.
			log.Fatal(err)
		}
		fmt.Println(action, d.Allowed)
	}

	role, err := client.CheckRole(ctx, authz.RoleRequest{
		Organization: "ab1cd2",
		Principal:    "user:viewer@example.com",
		Role:         "CKS Viewer",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("CKS Viewer", role.Allowed)
	// Output:
	// cks.clusters.list true
	// cks.clusters.create false
	// CKS Viewer true
}

func ExampleClient_Identify() {
	iamd, err := iamdtest.Start(exampleDocument)
	if err != nil {
		log.Fatal(err)
	}
	defer iamd.Stop()
	userToken, err := iamd.Token("user:viewer@example.com")
	if err != nil {
		log.Fatal(err)
	}

	client, err := iamclient.New(iamclient.Config{
		URL:   iamd.URL,
		Token: iamd.OperatorToken,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// Who holds the token a request came with?
	who, err := client.Identify(context.Background(), userToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(who.Principal, who.Organization, who.Roles)
	// Output:
	// user:viewer@example.com ab1cd2 [access-token-viewer iam-viewer cks-viewer]
}
