package authzcache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/authzcache"
)

// A request that carries the token of a revocation is never answered
// from an entry made before it.
func ExampleCache() {
	upstream := authztest.NewChecker() // iamclient.New(...) in a service
	upstream.Grant("ab1cd2", "user:alice@example.com", "cks.clusters.delete")

	cache, err := authzcache.New(upstream, authzcache.Config{
		MaxEntries: 10_000,
		TTL:        5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}

	ask := func(token string) bool {
		d, err := cache.Check(context.Background(), authz.CheckRequest{
			Organization:     "ab1cd2",
			Principal:        "user:alice@example.com",
			Action:           "cks.clusters.delete",
			ConsistencyToken: token,
		})
		return err == nil && d.Allowed
	}

	fmt.Println("before:", ask(""))
	upstream.Revoke("ab1cd2", "user:alice@example.com", "cks.clusters.delete")
	fmt.Println("cached, no token:", ask(""))
	fmt.Println("with the revocation's token:", ask("token-of-the-revocation"))
	fmt.Println("questions asked upstream:", upstream.Calls())
	// Output:
	// before: true
	// cached, no token: true
	// with the revocation's token: false
	// questions asked upstream: 2
}
