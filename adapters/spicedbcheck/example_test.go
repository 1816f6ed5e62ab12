package spicedbcheck_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/internal/iamdtest"
	"github.com/gpucloud/iam/adapters/spicedbcheck"
)

func ExampleNew() {
	// A real SpiceDB on a loopback port, with iamd's schema and one
	// organization, for the example.
	db, err := iamdtest.StartSpiceDB(`
organizations:
  - id: ab1cd2
    first_user: user:admin@example.com
`)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Stop()

	checker, err := spicedbcheck.New(context.Background(), spicedbcheck.Config{
		Endpoint:        db.Endpoint,
		PresharedKey:    db.PresharedKey,
		Insecure:        true, // loopback only
		FullyConsistent: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer checker.Close()

	for _, action := range []string{"cks.clusters.create", "billing.invoices.list"} {
		d, err := checker.Check(context.Background(), authz.CheckRequest{
			Organization: "ab1cd2",
			Principal:    "user:admin@example.com",
			Action:       action,
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(action, d.Allowed)
	}
	// Output:
	// cks.clusters.create true
	// billing.invoices.list false
}
