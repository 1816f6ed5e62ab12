package iam

import (
	"context"
	"errors"
	"io"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/gpucloud/iam/internal/iamerr"
)

// errPrecondition marks a write refused because a precondition no longer
// held: somebody else wrote first. Callers turn it into a precise error.
var errPrecondition = errors.New("iam: write precondition failed")

// errExists marks a write refused because it creates a relationship that
// is already stored.
var errExists = errors.New("iam: relationship already exists")

// refusedByState reports whether a write was refused because the stored
// state was not the one it was planned on: a precondition failed, or a
// relationship it creates exists.
func refusedByState(err error) bool {
	return errors.Is(err, errPrecondition) || errors.Is(err, errExists)
}

// write applies updates atomically, guarded by preconditions, and returns
// the ZedToken of the write.
func (s *Service) write(
	ctx context.Context, op string,
	updates []*v1.RelationshipUpdate, preconditions []*v1.Precondition,
) (string, error) {
	if len(updates) > MaxUpdatesPerWrite {
		return "", iamerr.Invalid("request", itoa(len(updates))+" changes",
			"the change is too large for one atomic write",
			"keep a write under "+itoa(MaxUpdatesPerWrite)+
				" relationship changes, e.g. split a policy in two")
	}

	req := &v1.WriteRelationshipsRequest{
		Updates:                     updates,
		OptionalPreconditions:       preconditions,
		OptionalTransactionMetadata: transactionMetadata(ctx, op),
	}
	resp, err := s.engine.WriteRelationships(ctx, req)
	switch status.Code(err) {
	case codes.FailedPrecondition:
		return "", errPrecondition
	case codes.AlreadyExists:
		return "", errExists
	}
	if err != nil {
		return "", engineError(op, "", err)
	}
	return resp.GetWrittenAt().GetToken(), nil
}

// deleteMatching deletes every relationship that matches f, atomically,
// guarded by preconditions, and returns the ZedToken of the delete.
func (s *Service) deleteMatching(
	ctx context.Context, op string,
	f *v1.RelationshipFilter, preconditions []*v1.Precondition,
) (string, error) {
	resp, err := s.engine.DeleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
		RelationshipFilter:          f,
		OptionalPreconditions:       preconditions,
		OptionalTransactionMetadata: transactionMetadata(ctx, op),
	})
	if status.Code(err) == codes.FailedPrecondition {
		return "", errPrecondition
	}
	if err != nil {
		return "", engineError(op, "", err)
	}
	return resp.GetDeletedAt().GetToken(), nil
}

// transactionMetadata records who made a change and why; SpiceDB's Watch
// API hands it back with the change.
func transactionMetadata(ctx context.Context, op string) *structpb.Struct {
	fields := map[string]any{"operation": op}
	if a := ActorFrom(ctx); a != "" {
		fields["actor"] = a
	}
	if id := RequestIDFrom(ctx); id != "" {
		fields["request_id"] = id
	}
	md, err := structpb.NewStruct(fields)
	if err != nil {
		return nil
	}
	return md
}

// snapshot reads several filters at one revision: the first read is at
// the requested consistency, the rest at its exact snapshot.
type snapshot struct {
	s         *Service
	first     *v1.Consistency
	requested string // the caller's token, for errors
	token     string // the snapshot's own, once read
}

func (s *Service) newSnapshot(token string) *snapshot {
	return &snapshot{s: s, first: readConsistency(token), requested: token}
}

// read returns every relationship matching f.
func (sn *snapshot) read(
	ctx context.Context, f *v1.RelationshipFilter,
) ([]*v1.Relationship, error) {
	consistency := sn.first
	if sn.token != "" {
		consistency = &v1.Consistency{
			Requirement: &v1.Consistency_AtExactSnapshot{
				AtExactSnapshot: &v1.ZedToken{Token: sn.token},
			},
		}
	}

	stream, err := sn.s.engine.ReadRelationships(ctx,
		&v1.ReadRelationshipsRequest{
			Consistency:        consistency,
			RelationshipFilter: f,
		})
	if err != nil {
		return nil, engineError("read", sn.requested, err)
	}

	var out []*v1.Relationship
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, engineError("read", sn.requested, err)
		}
		if sn.token == "" {
			sn.token = resp.GetReadAt().GetToken()
		}
		out = append(out, resp.GetRelationship())
	}
}

// exists reports whether the exact relationship r is stored.
func (sn *snapshot) exists(ctx context.Context, r *v1.Relationship) (bool, error) {
	rels, err := sn.read(ctx, exactFilter(r))
	return len(rels) > 0, err
}

type ctxKey int

const (
	actorKey ctxKey = iota
	requestIDKey
)

// WithActor records in ctx who is making a change, for transaction
// metadata and logs.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey, actor)
}

// ActorFrom returns the actor recorded by WithActor.
func ActorFrom(ctx context.Context) string {
	a, _ := ctx.Value(actorKey).(string)
	return a
}

// WithRequestID records the request's ID in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFrom returns the ID recorded by WithRequestID.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
