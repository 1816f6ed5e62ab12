// Package connectauthz protects a Connect server with permission checks:
// an interceptor that maps each procedure to the console action it needs
// (authz.Methods).
//
//	interceptor, err := connectauthz.New(authz.GuardConfig{
//		Checker:   checker,
//		Extractor: authz.FromBearerToken(client),
//		Methods: authz.Methods{
//			"/clusters.v1.Clusters/CreateCluster": authz.Action("cks.clusters.create"),
//		},
//	})
//	path, handler := clustersv1connect.NewClustersHandler(svc,
//		connect.WithInterceptors(interceptor))
//
// It follows package grpcauthz: a procedure missing from the map is
// refused with PermissionDenied naming it; the caller comes from the
// request headers through the Extractor, the organization from the
// request's organization_id field (authz.MessageOrganization), else the
// caller's own, and the consistency token from the X-Consistency-Token
// header, else the context. A stream is checked once, before its first
// message. Codes: PermissionDenied (naming the action, with an ErrorInfo
// detail), Unauthenticated, InvalidArgument, and Unavailable whenever the
// permission service cannot answer. A failure is never an allow.
//
// The interceptor acts on handlers only; on a client it does nothing.
package connectauthz

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/gpucloud/iam/adapters/authz"
)

// Interceptor authorizes every call of the handlers it is given to. It is
// safe for concurrent use.
type Interceptor struct {
	guard *authz.Guard
}

var _ connect.Interceptor = (*Interceptor)(nil)

// New validates cfg, including every action of its method map, and
// returns the interceptor.
func New(cfg authz.GuardConfig) (*Interceptor, error) {
	g, err := authz.NewGuard(cfg)
	if err != nil {
		return nil, err
	}
	return &Interceptor{guard: g}, nil
}

// WrapUnary authorizes a unary call once its request is decoded, so that
// its organization_id can be read.
func (i *Interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}

		ctx, err := i.authorize(ctx, req.Spec().Procedure, req.Header(), req.Any())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient leaves client streams alone.
func (i *Interceptor) WrapStreamingClient(
	next connect.StreamingClientFunc,
) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler authorizes a stream before its first message.
func (i *Interceptor) WrapStreamingHandler(
	next connect.StreamingHandlerFunc,
) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.authorize(ctx, conn.Spec().Procedure, conn.RequestHeader(), nil)
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (i *Interceptor) authorize(
	ctx context.Context, procedure string, h authz.Header, msg any,
) (context.Context, error) {
	ctx = authz.WithRequestID(ctx, h.Get(authz.RequestIDHeader))
	out, err := i.guard.Authorize(ctx, procedure, h, msg)
	if err != nil {
		return nil, Error(err)
	}
	return out, nil
}

// kindCodes maps each kind of refusal to its Connect code.
var kindCodes = map[authz.Kind]connect.Code{
	authz.KindUnauthenticated:  connect.CodeUnauthenticated,
	authz.KindInvalid:          connect.CodeInvalidArgument,
	authz.KindPermissionDenied: connect.CodePermissionDenied,
	authz.KindUnavailable:      connect.CodeUnavailable,
}

// Error turns an adapter error into the *connect.Error the client gets.
// A denial carries an ErrorInfo naming the action and the organization.
func Error(err error) *connect.Error {
	kind := authz.KindOf(err)
	msg := err.Error()
	if kind == authz.KindUnavailable {
		msg = authz.UnavailableMessage
	}
	out := connect.NewError(kindCodes[kind], errors.New(msg))

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
		if detail, derr := connect.NewErrorDetail(info); derr == nil {
			out.AddDetail(detail)
		}
	}
	return out
}
