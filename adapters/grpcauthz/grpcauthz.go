// Package grpcauthz protects a gRPC server with permission checks: a
// unary and a stream server interceptor that map each method to the
// console action it needs (authz.Methods).
//
//	guard, err := grpcauthz.New(authz.GuardConfig{
//		Checker:   checker,
//		Extractor: authz.FromBearerToken(client),
//		Methods: authz.Methods{
//			"/clusters.v1.Clusters/CreateCluster": authz.Action("cks.clusters.create"),
//			"/grpc.health.v1.Health/Check":        authz.Public,
//		},
//	})
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(guard.Unary()),
//		grpc.ChainStreamInterceptor(guard.Stream()))
//
// A method missing from the map is refused with PermissionDenied, naming
// the method: the server fails closed until someone decides what the
// method needs, or marks it authz.Public.
//
// The caller comes from incoming metadata through the Extractor; the
// organization from the request's organization_id field (see
// authz.MessageOrganization), else the caller's own; the consistency
// token from the "x-consistency-token" metadata, else the context. A
// stream is checked once, before its first message, so only metadata and
// the caller's own organization can place it.
//
// Status codes: PermissionDenied for a denial (the message names the
// action, an ErrorInfo detail carries it), Unauthenticated, InvalidArgument,
// and Unavailable whenever the permission service cannot answer. A
// failure is never an allow.
package grpcauthz

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/gpucloud/iam/adapters/authz"
)

// Interceptors holds the unary and stream server interceptors of one
// guard. It is safe for concurrent use.
type Interceptors struct {
	guard *authz.Guard
}

// New validates cfg, including every action of its method map, and
// returns the interceptors.
func New(cfg authz.GuardConfig) (*Interceptors, error) {
	g, err := authz.NewGuard(cfg)
	if err != nil {
		return nil, err
	}
	return &Interceptors{guard: g}, nil
}

// Unary returns the unary server interceptor.
func (i *Interceptors) Unary() grpc.UnaryServerInterceptor {
	return func(
		ctx context.Context, req any,
		info *grpc.UnaryServerInfo, handler grpc.UnaryHandler,
	) (any, error) {
		ctx, err := i.authorize(ctx, info.FullMethod, req)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor.
func (i *Interceptors) Stream() grpc.StreamServerInterceptor {
	return func(
		srv any, ss grpc.ServerStream,
		info *grpc.StreamServerInfo, handler grpc.StreamHandler,
	) error {
		ctx, err := i.authorize(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

func (i *Interceptors) authorize(
	ctx context.Context, method string, msg any,
) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h := header{md}
	ctx = authz.WithRequestID(ctx, h.Get(authz.RequestIDHeader))

	out, err := i.guard.Authorize(ctx, method, h, msg)
	if err != nil {
		return nil, Status(err)
	}
	return out, nil
}

// kindCodes maps each kind of refusal to its gRPC code.
var kindCodes = map[authz.Kind]codes.Code{
	authz.KindUnauthenticated:  codes.Unauthenticated,
	authz.KindInvalid:          codes.InvalidArgument,
	authz.KindPermissionDenied: codes.PermissionDenied,
	authz.KindUnavailable:      codes.Unavailable,
}

// Status turns an adapter error into the gRPC status error the client
// gets. A denial carries an ErrorInfo naming the action and the
// organization.
func Status(err error) error {
	kind := authz.KindOf(err)
	msg := err.Error()
	if kind == authz.KindUnavailable {
		msg = authz.UnavailableMessage
	}
	st := status.New(kindCodes[kind], msg)

	var d *authz.Denial
	if kind == authz.KindPermissionDenied && errors.As(err, &d) {
		info := &errdetails.ErrorInfo{
			Reason: "PERMISSION_DENIED",
			Domain: authz.ErrorDomain,
			Metadata: map[string]string{
				"action":       d.Action,
				"organization": d.Organization,
				"roles":        strings.Join(d.Roles(), ", "),
			},
		}
		if detailed, derr := st.WithDetails(info); derr == nil {
			st = detailed
		}
	}
	return st.Err()
}

// header reads incoming metadata, whose keys are lower case.
type header struct {
	md metadata.MD
}

func (h header) Get(key string) string {
	if v := h.md.Get(strings.ToLower(key)); len(v) > 0 {
		return v[0]
	}
	return ""
}

// stream hands the handler the context the guard returned.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
