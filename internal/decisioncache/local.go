package decisioncache

import (
	"context"
	"fmt"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/embedded"
)

// Local answers checks in this process with SpiceDB's embedded
// permission engine: no gRPC, no serialization, always at the
// datastore's head revision. It is a LocalChecker.
type Local struct {
	perms *embedded.Permissions
}

// NewLocal checks against ds, the datastore an embedded SpiceDB
// serves. ds must hold the schema in SpiceDB's default (legacy) schema
// mode, as the embedded engine writes it.
func NewLocal(ds datastore.Datastore) (*Local, error) {
	perms, err := embedded.NewPermissions(embedded.Config{Datastore: ds})
	if err != nil {
		return nil, fmt.Errorf("decisioncache: starting local checks: %w", err)
	}
	return &Local{perms: perms}, nil
}

// Check answers req fully consistently. Caveat context is not
// supported: the cache never sends a check that carries one.
func (l *Local) Check(
	ctx context.Context, req *v1.CheckPermissionRequest,
) (v1.CheckPermissionResponse_Permissionship, error) {
	if req.GetContext() != nil {
		return 0, fmt.Errorf("decisioncache: local checks take no caveat context")
	}

	res, err := l.perms.Check(ctx, embedded.CheckRequest{
		ResourceType:    req.GetResource().GetObjectType(),
		ResourceID:      req.GetResource().GetObjectId(),
		Permission:      req.GetPermission(),
		SubjectType:     req.GetSubject().GetObject().GetObjectType(),
		SubjectID:       req.GetSubject().GetObject().GetObjectId(),
		SubjectRelation: req.GetSubject().GetOptionalRelation(),
	})
	switch {
	case err != nil:
		return 0, fmt.Errorf("decisioncache: local check: %w", err)
	case res.HasPermission:
		return v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION, nil
	case res.IsConditional:
		return v1.CheckPermissionResponse_PERMISSIONSHIP_CONDITIONAL_PERMISSION, nil
	}
	return v1.CheckPermissionResponse_PERMISSIONSHIP_NO_PERMISSION, nil
}

// Close releases the engine; the datastore stays open.
func (l *Local) Close() error {
	return l.perms.Close()
}
