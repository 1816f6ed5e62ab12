package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"unicode/utf8"

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

	shown := forClient(classified)
	out := connect.NewError(code, errors.New(shown.Error()))
	detail, derr := connect.NewErrorDetail(errorInfo(shown))
	if derr != nil {
		// forClient makes every value encodable: this is a bug.
		h.log.ErrorContext(ctx, "an error's ErrorInfo did not encode",
			"procedure", procedure, "error", derr)
		return out
	}
	out.AddDetail(detail)
	return out
}

// Bounds of the parts of an error a client sees, in bytes. A value
// echoes the request; problems and fixes are the service's own prose,
// which may quote the request too (a suggestion, a path).
const (
	maxDetailValue = 200
	maxDetailProse = 1024
)

// forClient returns the parts of e a client sees: valid UTF-8, so that
// protobuf can encode the ErrorInfo (it refuses invalid strings, and the
// detail would be lost), each bounded, and field names as the API spells
// them. The cause stays behind.
func forClient(e *iamerr.Error) *iamerr.Error {
	return &iamerr.Error{
		Kind:    e.Kind,
		Field:   apiField(clip(e.Field, maxDetailValue)),
		Value:   clip(e.Value, maxDetailValue),
		Problem: clip(e.Problem, maxDetailProse),
		Fix:     clip(e.Fix, maxDetailProse),
	}
}

// apiField renames the facade's field names to the API's: the facade
// says "organization" where every request says "organization_id".
func apiField(field string) string {
	if field == "organization" || strings.HasSuffix(field, ".organization") {
		return field + "_id"
	}
	return field
}

// clip makes s valid UTF-8 and at most limit bytes long, cutting at a
// character boundary and marking the cut with "...".
func clip(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := limit - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
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
