package authz_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
)

// Enforce is the one step every adapter shares: nil means allowed, and
// anything else is an error to answer with.
func ExampleEnforce() {
	checker := authztest.NewChecker()
	checker.Grant("ab1cd2", "user:alice@example.com", "cks.clusters.list")

	ask := func(action string) {
		err := authz.Enforce(context.Background(), checker, authz.CheckRequest{
			Organization: "ab1cd2",
			Principal:    "user:alice@example.com",
			Action:       action,
		})
		var denial *authz.Denial
		switch {
		case err == nil:
			fmt.Println(action, "allowed")
		case errors.As(err, &denial):
			fmt.Println(action, "denied; roles granting it:", denial.Roles())
		default:
			fmt.Println(action, "failed:", authz.KindOf(err))
		}
	}

	ask("cks.clusters.list")
	ask("cks.clusters.delete")
	checker.Fail(errors.New("iamd is down"))
	ask("cks.clusters.list")
	// Output:
	// cks.clusters.list allowed
	// cks.clusters.delete denied; roles granting it: [CKS Admin]
	// cks.clusters.list failed: unavailable
}
