package httpauthz_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/authz/authztest"
	"github.com/gpucloud/iam/adapters/httpauthz"
)

func ExampleAuthorizer_Require() {
	// In a service: iamclient.New(...), maybe behind authzcache.New.
	checker := authztest.NewChecker()
	checker.Grant("ab1cd2", "user:alice@example.com", "cks.clusters.list")

	// The gateway authenticates users and proves it set the headers
	// with a secret it shares with this service.
	verify, err := authz.SharedSecret("X-Gateway-Secret", "a-secret-of-16-bytes-or-more")
	if err != nil {
		log.Fatal(err)
	}
	caller, err := authz.FromGateway(authz.Gateway{Verify: verify})
	if err != nil {
		log.Fatal(err)
	}

	authorizer := httpauthz.New(checker, caller,
		httpauthz.OrganizationFromPath("org"))
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "done")
	})

	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/clusters",
		authorizer.Require("cks.clusters.list")(ok))
	mux.Handle("POST /orgs/{org}/clusters",
		authorizer.Require("cks.clusters.create")(ok))

	for _, method := range []string{"GET", "POST"} {
		req := httptest.NewRequest(method, "/orgs/ab1cd2/clusters", nil)
		req.Header.Set("X-Gateway-Secret", "a-secret-of-16-bytes-or-more")
		req.Header.Set("X-Authenticated-Principal", "user:alice@example.com")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			fmt.Print(method, " ", rec.Code, " ", rec.Body.String())
			continue
		}

		var refusal httpauthz.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &refusal); err != nil {
			log.Fatal(err)
		}
		fmt.Println(method, rec.Code, refusal.Code, refusal.Action, refusal.Roles)
	}
	// Output:
	// GET 200 done
	// POST 403 permission_denied cks.clusters.create [CKS Admin]
}
