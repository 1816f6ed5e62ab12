// Package workload is what a load run needs and nothing more: the check
// workload, the request each target takes for a check, and the
// measurement of latency percentiles and throughput. iamctl uses it
// without linking SpiceDB's server.
package workload

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"

	"connectrpc.com/connect"
	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/principal"
)

// Check is one check of a workload: may Principal perform Action in
// Org?
type Check struct {
	Org       string
	Principal string
	Action    string
}

// checksHeader is the first row of a checks file.
var checksHeader = []string{"organization", "principal", "action"}

// WriteChecks writes checks as CSV with a header row.
func WriteChecks(path string, checks []Check) error {
	rows := [][]string{checksHeader}
	for _, c := range checks {
		rows = append(rows, []string{c.Org, c.Principal, c.Action})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// ReadChecks reads a file WriteChecks wrote.
func ReadChecks(path string) ([]Check, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) < 2 || strings.Join(rows[0], ",") != strings.Join(checksHeader, ",") {
		return nil, fmt.Errorf("%s: not a checks file: expected the header "+
			"organization,principal,action and at least one row", path)
	}
	out := make([]Check, 0, len(rows)-1)
	for i, r := range rows[1:] {
		if r[0] == "" || r[1] == "" || r[2] == "" {
			return nil, fmt.Errorf("%s: row %d has an empty cell; every row "+
				"names an organization, a principal and an action", path, i+2)
		}
		out = append(out, Check{Org: r[0], Principal: r[1], Action: r[2]})
	}
	return out, nil
}

// SpiceDBCheck is the CheckPermission request the facade sends for c,
// at consistency (nil: SpiceDB's default, minimize latency).
func SpiceDBCheck(c Check, consistency *v1.Consistency) *v1.CheckPermissionRequest {
	kind, id, _ := strings.Cut(c.Principal, ":")
	return &v1.CheckPermissionRequest{
		Consistency: consistency,
		Resource: &v1.ObjectReference{
			ObjectType: "organization", ObjectId: c.Org,
		},
		Permission: catalog.ActionPermission(c.Action),
		Subject: &v1.SubjectReference{Object: &v1.ObjectReference{
			ObjectType: kind, ObjectId: principal.EncodeID(id),
		}},
	}
}

// APICheck is the request iamd's API answers for c.
func APICheck(c Check) *connect.Request[iamv1.CheckRequest] {
	return connect.NewRequest(&iamv1.CheckRequest{
		OrganizationId: c.Org,
		Principal:      c.Principal,
		Action:         c.Action,
	})
}

// DialSpiceDB connects to a SpiceDB gRPC API without TLS. Callers keep
// addr on loopback: the key travels in clear text.
func DialSpiceDB(addr, key string) (*authzed.Client, error) {
	return authzed.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpcutil.WithInsecureBearerToken(key),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)),
	)
}
