package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/gpucloud/iam/internal/iam"
	"github.com/gpucloud/iam/internal/iamerr"
)

// ErrorDomain is the domain of the ErrorInfo detail attached to every
// error but internal ones. Its metadata holds "field", "value", "problem"
// and "fix" when the error has them.
const ErrorDomain = "iam.gpucloud"

// codes maps the service's error kinds to Connect codes. A stale etag is
// Aborted, as in other APIs with optimistic concurrency: read and retry.
var codes = map[iamerr.Kind]connect.Code{
	iamerr.InvalidArgument:    connect.CodeInvalidArgument,
	iamerr.NotFound:           connect.CodeNotFound,
	iamerr.AlreadyExists:      connect.CodeAlreadyExists,
	iamerr.Conflict:           connect.CodeAborted,
	iamerr.FailedPrecondition: connect.CodeFailedPrecondition,
	iamerr.PermissionDenied:   connect.CodePermissionDenied,
	iamerr.Unauthenticated:    connect.CodeUnauthenticated,
	iamerr.Unavailable:        connect.CodeUnavailable,
}

// connectError turns any error into the error the client sees. It is the
// one place where errors are mapped to codes, and where unexpected
// failures are logged: an internal error is logged here, once, with its
// cause and request ID, and the client gets only the request ID.
func (h *handler) connectError(ctx context.Context, procedure string, err error) error {
	if err == nil {
		return nil
	}

	var classified *iamerr.Error
	if !errors.As(err, &classified) {
		switch {
		case errors.Is(err, context.Canceled):
			return connect.NewError(connect.CodeCanceled,
				errors.New("the request was canceled"))
		case errors.Is(err, context.DeadlineExceeded):
			return connect.NewError(connect.CodeDeadlineExceeded,
				errors.New("the request's deadline passed"))
		}
		classified = &iamerr.Error{Kind: iamerr.Internal}
	}

	code, ok := codes[classified.Kind]
	if !ok {
		id := iam.RequestIDFrom(ctx)
		h.log.ErrorContext(ctx, "internal error",
			"procedure", procedure, "error", err, causeAttr(classified))
		return connect.NewError(connect.CodeInternal, fmt.Errorf(
			"internal error; report request ID %s to the operator", id))
	}

	if code == connect.CodeUnavailable {
		// Not the client's fault, and not a bug either: the engine or
		// its datastore is down. Operators need the cause.
		h.log.WarnContext(ctx, "request failed: service unavailable",
			"procedure", procedure, "error", err, causeAttr(classified))
	}

	out := connect.NewError(code, errors.New(classified.Error()))
	if detail, derr := connect.NewErrorDetail(errorInfo(classified)); derr == nil {
		out.AddDetail(detail)
	}
	return out
}

// causeAttr logs what an error's message leaves out: the first cause
// below it that is not itself classified, which is where the failure's
// details (an address, a driver's message) are.
func causeAttr(e *iamerr.Error) slog.Attr {
	cause := e.Cause
	for {
		var inner *iamerr.Error
		if cause == nil || !errors.As(cause, &inner) || inner != cause {
			break
		}
		cause = inner.Cause
	}
	if cause == nil {
		return slog.Attr{}
	}
	return slog.String("cause", cause.Error())
}

// errorInfo carries an error's parts for clients that show them apart.
func errorInfo(e *iamerr.Error) *errdetails.ErrorInfo {
	md := map[string]string{}
	for k, v := range map[string]string{
		"field": e.Field, "value": e.Value,
		"problem": e.Problem, "fix": e.Fix,
	} {
		if v != "" {
			md[k] = v
		}
	}
	reason := strings.ToUpper(strings.ReplaceAll(e.Kind.String(), " ", "_"))
	return &errdetails.ErrorInfo{
		Reason: reason, Domain: ErrorDomain, Metadata: md,
	}
}

// errorInterceptor applies connectError to every RPC's error.
func (h *handler) errorInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			if err != nil {
				return nil, h.connectError(ctx, req.Spec().Procedure, err)
			}
			return resp, nil
		}
	}
}

// recoverPanic turns a panicking RPC into an internal error whose cause,
// with the stack, reaches the log through connectError.
func (h *handler) recoverPanic(
	_ context.Context, _ connect.Spec, _ http.Header, p any,
) error {
	cause := fmt.Errorf("panic: %v\n%s", p, debug.Stack())
	return iamerr.Wrap(iamerr.Internal, cause, "the request panicked", "")
}
