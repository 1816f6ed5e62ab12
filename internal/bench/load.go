package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/iam"
)

// Import batching: relationships per message, messages per stream. A
// stream is one transaction in SpiceDB; several keep each bounded.
const (
	importBatch     = 1000
	importPerStream = 100_000
)

// ImportResult is what one bulk import did.
type ImportResult struct {
	Relationships int
	Duration      time.Duration

	// HeapBytes is the growth of the Go heap in use (after a GC) across
	// the import, when measured; zero otherwise. With an in-process
	// datastore it is the memory the relationships occupy.
	HeapBytes int64
}

// Rate is relationships imported per second.
func (r ImportResult) Rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Relationships) / r.Duration.Seconds()
}

// BytesPerMillion scales HeapBytes to one million relationships.
func (r ImportResult) BytesPerMillion() float64 {
	if r.Relationships == 0 {
		return 0
	}
	return float64(r.HeapBytes) * 1e6 / float64(r.Relationships)
}

// Import writes rels with SpiceDB's ImportBulkRelationships. With
// measureHeap, the heap is measured before and after, each after a
// full GC; the server must then run in this process for the number to
// mean anything.
func Import(
	ctx context.Context, client v1.PermissionsServiceClient,
	rels []*v1.Relationship, measureHeap bool,
) (ImportResult, error) {
	var before uint64
	if measureHeap {
		before = heapInUse()
	}

	start := time.Now()
	for lo := 0; lo < len(rels); lo += importPerStream {
		hi := min(lo+importPerStream, len(rels))
		if err := importStream(ctx, client, rels[lo:hi]); err != nil {
			return ImportResult{}, fmt.Errorf(
				"bench: importing relationships %d to %d: %w", lo, hi, err)
		}
	}
	res := ImportResult{Relationships: len(rels), Duration: time.Since(start)}

	if measureHeap {
		res.HeapBytes = int64(heapInUse()) - int64(before)
	}
	return res, nil
}

func importStream(
	ctx context.Context, client v1.PermissionsServiceClient, rels []*v1.Relationship,
) error {
	stream, err := client.ImportBulkRelationships(ctx)
	if err != nil {
		return err
	}
	for lo := 0; lo < len(rels); lo += importBatch {
		hi := min(lo+importBatch, len(rels))
		err := stream.Send(&v1.ImportBulkRelationshipsRequest{
			Relationships: rels[lo:hi],
		})
		if err != nil {
			// The server's reason comes with CloseAndRecv.
			_, recvErr := stream.CloseAndRecv()
			return fmt.Errorf("%w (%v)", err, recvErr)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return err
	}
	if got := resp.GetNumLoaded(); got != uint64(len(rels)) {
		return fmt.Errorf("SpiceDB loaded %d of %d relationships", got, len(rels))
	}
	return nil
}

// heapInUse is the heap in use after two full collections (the second
// frees what finalizers released).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// LoadResult is what loading an organization did.
type LoadResult struct {
	Import ImportResult

	// PolicyApply holds the latency of each policy created through the
	// facade after the bulk import.
	PolicyApply []time.Duration

	// Token is the ZedToken of the last write.
	Token string
}

// Load puts the organization into the SpiceDB behind svc and client
// (the same one): the facade creates the organization, the bulk import
// writes members and groups, and the facade fills the legacy groups and
// creates every policy, timing each.
func Load(
	ctx context.Context, svc *iam.Service, client v1.PermissionsServiceClient,
	o *Org, measureHeap bool,
) (LoadResult, error) {
	var res LoadResult
	first := "user:" + o.Users[0]
	if _, err := svc.CreateOrganization(ctx, o.ID, first); err != nil {
		return res, fmt.Errorf("bench: creating organization %s: %w", o.ID, err)
	}

	imported, err := Import(ctx, client, o.BulkRelationships(), measureHeap)
	if err != nil {
		return res, err
	}
	res.Import = imported

	for _, name := range legacyOrder {
		for _, who := range o.Legacy[name] {
			if name == "admin" && who == first {
				continue // CreateOrganization made it an admin.
			}
			w, err := svc.AssignLegacyGroup(ctx, o.ID, name, who)
			if err != nil {
				return res, fmt.Errorf("bench: legacy group %s += %s: %w", name, who, err)
			}
			res.Token = w.Token
		}
	}

	for _, p := range o.Policies {
		start := time.Now()
		w, err := svc.CreatePolicy(ctx, p)
		if err != nil {
			return res, fmt.Errorf("bench: creating policy %s: %w", p.ID, err)
		}
		res.PolicyApply = append(res.PolicyApply, time.Since(start))
		res.Token = w.Token
	}
	return res, nil
}

// legacyOrder applies legacy groups in a fixed order, so that loads are
// reproducible.
var legacyOrder = []string{"admin", "write", "read", "metrics", "billing_viewer"}
