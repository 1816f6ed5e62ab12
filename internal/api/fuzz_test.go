package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gpucloud/iam/internal/api/apitest"
)

// fuzzedMethods receive the fuzzed JSON bodies: the ones that decode the
// richest messages, and the one that parses a whole document.
var fuzzedMethods = []string{"CreatePolicy", "CheckBulk", "WriteRelationships", "Apply"}

// FuzzJSONRequests posts arbitrary bodies to the API as JSON, with the
// operator's token. Whatever the body, the answer is a success or a client
// error with a JSON error body: never a server error, never a hang.
func FuzzJSONRequests(f *testing.F) {
	seed, err := os.ReadFile("../../deploy/examples/seed-example.yaml")
	require.NoError(f, err)
	document, err := json.Marshal(map[string]any{"document": string(seed), "dry_run": true})
	require.NoError(f, err)

	for _, body := range []string{
		string(document),
		`{"policy":{"organization_id":"ab1cd2","policy_id":"p",` +
			`"rules":[{"principals":["user:a"],"roles":["CKS Admin"]}]}}`,
		`{"checks":[{"organization_id":"ab1cd2","principal":"user:a","action":"cks.clusters.list"}]}`,
		`{"organization_id":"ab1cd2","updates":[{"operation":"OPERATION_TOUCH",` +
			`"relationship":"organization:ab1cd2#member@user:x"}]}`,
		`{"policy":{"etgs":"x"}}`, `{"a":`, `[]`, `null`, "\xff", `{"checks":[` + "\"\\ud800\"" + `]}`,
	} {
		for i := range fuzzedMethods {
			f.Add(uint8(i), []byte(body))
		}
	}

	srv := apitest.NewServer(f)
	client := srv.HTTPClient()

	f.Fuzz(func(t *testing.T, method uint8, body []byte) {
		name := fuzzedMethods[int(method)%len(fuzzedMethods)]
		req, err := http.NewRequest(http.MethodPost,
			srv.URL+"/iam.v1.IAMService/"+name, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+srv.OperatorToken)

		resp, err := client.Do(req)
		require.NoError(t, err)
		answer, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())

		require.Less(t, resp.StatusCode, 500, "%s %q: %s", name, body, answer)
		if resp.StatusCode != http.StatusOK {
			var e struct{ Code, Message string }
			require.NoError(t, json.Unmarshal(answer, &e), "%s", answer)
			require.NotEmpty(t, e.Code)
			require.NotEmpty(t, e.Message)
		}
	})
}
